"""E.save / E.load: a state_dict as an uncompressed .npz, never pickled.

The archive carries a format marker, so a .npz written by something else is
refused by name instead of loading as a half-matching state_dict. Loading reads
the archive itself rather than through np.load: every entry's header is checked
against the bytes the entry holds before any array is allocated (a damaged or
forged header declaring a huge shape is a ValueError, never a MemoryError), and
each entry 'name.npy' gives exactly the key 'name' (np.load also answers 'a.npy'
with the entry of key 'a').
"""
import math
import os
import zipfile

import numpy as np

from .tensor import Tensor

FORMAT_KEY = "__convref_format__"
FORMAT_VERSION = 1
_NUMERIC_KINDS = "fiub"
_NPY_MAGIC = b"\x93NUMPY"
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def save(state_dict, path):
    """Write {name: array or Tensor} to `path` (.npz). Names must be strings without the marker's name."""
    arrays = {}
    for name, value in state_dict.items():
        if not isinstance(name, str) or name == FORMAT_KEY or "\0" in name:
            raise ValueError(f"state_dict keys must be strings other than {FORMAT_KEY!r}, without NUL, got {name!r}")
        array = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
        if array.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"{name}: only numeric arrays can be saved, got dtype {array.dtype}")
        arrays[name] = array
    arrays[FORMAT_KEY] = np.array(FORMAT_VERSION)
    with open(path, "wb") as f:  # a file object: np.savez would otherwise append .npz to the name
        np.savez(f, **arrays)


def load(path):
    """Read a file written by E.save: {name: NumPy array}. A truncated, damaged or foreign file raises ValueError
    naming the file and the entry at fault."""
    with open(path, "rb") as f:
        if f.read(len(_NPY_MAGIC)) == _NPY_MAGIC:
            raise ValueError(f"{path} holds a single array, not a state_dict archive written by engine.save")
        try:
            with zipfile.ZipFile(f) as archive:
                return _read_archive(path, archive, os.fstat(f.fileno()).st_size)
        except (zipfile.BadZipFile, EOFError, OSError) as error:
            raise ValueError(f"{path} is not a state_dict archive written by engine.save, or is truncated or "
                             f"damaged: {error}") from error


def _read_archive(path, archive, file_bytes):
    if FORMAT_KEY + ".npy" not in archive.namelist():
        raise ValueError(f"{path} is an .npz archive not written by engine.save (it has no {FORMAT_KEY!r} entry)")
    entries = {}
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            raise ValueError(f"{path}: entry {info.filename!r} is not an array (.npy); not written by engine.save")
        key = info.filename[:-len(".npy")]
        if key in entries:
            raise ValueError(f"{path}: key {key!r} appears twice")
        entries[key] = info
    marker = _read_entry(path, archive, entries.pop(FORMAT_KEY), FORMAT_KEY, file_bytes)
    if marker.shape != () or marker.dtype.kind not in "iu":
        raise ValueError(f"{path}: its {FORMAT_KEY!r} entry must be a 0-d integer array, got dtype {marker.dtype} "
                         f"and shape {marker.shape}")
    if int(marker) != FORMAT_VERSION:
        raise ValueError(f"{path} has state_dict format version {int(marker)}; "
                         f"this engine reads version {FORMAT_VERSION}")
    return {key: _read_entry(path, archive, info, key, file_bytes) for key, info in entries.items()}


def _read_entry(path, archive, info, key, file_bytes):
    """The array of one .npy entry, its header checked against the entry's size before anything is allocated."""
    if info.compress_type != zipfile.ZIP_STORED:
        raise ValueError(f"{path}: entry {key!r} is compressed; engine.save writes uncompressed archives")
    if info.file_size > file_bytes:
        raise ValueError(f"{path}: entry {key!r} declares {info.file_size} bytes, more than the file's {file_bytes}")
    with archive.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version not in _HEADER_READERS:
                raise ValueError(f"format version {version}, not 1.0 or 2.0")
            shape, fortran_order, dtype = _HEADER_READERS[version](f)
        except ValueError as error:
            raise ValueError(f"{path}: entry {key!r} has no valid .npy header: {error}") from error
        if dtype.hasobject or dtype.kind not in _NUMERIC_KINDS:
            raise ValueError(f"{path}: entry {key!r} has dtype {dtype}; engine.save writes numeric arrays only "
                             "(and loading never unpickles)")
        if any(n < 0 for n in shape):
            raise ValueError(f"{path}: entry {key!r} declares the negative shape {shape}")
        declared = math.prod(shape) * dtype.itemsize  # Python ints: a huge shape cannot wrap around
        held = info.file_size - f.tell()
        if declared != held:
            raise ValueError(f"{path}: entry {key!r} declares shape {shape} of {dtype} ({declared} bytes) "
                             f"but holds {held} bytes")
        flat = np.empty(math.prod(shape), dtype)
        if f.readinto(flat.view(np.uint8)) != declared:
            raise ValueError(f"{path}: entry {key!r} is truncated")
    return flat.reshape(shape, order="F" if fortran_order else "C")
