"""E.save / E.load: a state_dict as an uncompressed .npz, never pickled.

The archive carries a format marker, so a .npz written by something else is
refused by name instead of loading as a half-matching state_dict.
"""
import zipfile

import numpy as np

from .tensor import Tensor

FORMAT_KEY = "__convref_format__"
FORMAT_VERSION = 1


def save(state_dict, path):
    """Write {name: array or Tensor} to `path` (.npz). Names must be strings without the marker's name."""
    arrays = {}
    for name, value in state_dict.items():
        if not isinstance(name, str) or name == FORMAT_KEY:
            raise ValueError(f"state_dict keys must be strings other than {FORMAT_KEY!r}, got {name!r}")
        array = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
        if array.dtype.kind not in "fiub":
            raise TypeError(f"{name}: only numeric arrays can be saved, got dtype {array.dtype}")
        arrays[name] = array
    arrays[FORMAT_KEY] = np.array(FORMAT_VERSION)
    with open(path, "wb") as f:  # a file object: np.savez would otherwise append .npz to the name
        np.savez(f, **arrays)


def load(path):
    """Read a file written by E.save: {name: NumPy array}. A truncated or foreign file raises ValueError."""
    damaged = (zipfile.BadZipFile, EOFError, ValueError, OSError)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except damaged as error:
        raise ValueError(f"{path} is not a state_dict archive written by engine.save: {error}") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} holds a single array, not a state_dict archive written by engine.save")
    with archive:
        if FORMAT_KEY not in archive.files:
            raise ValueError(f"{path} is an .npz archive not written by engine.save (it has no {FORMAT_KEY!r} entry)")
        try:
            version = int(archive[FORMAT_KEY])
            arrays = {name: archive[name] for name in archive.files if name != FORMAT_KEY}
        except damaged as error:
            raise ValueError(f"{path} is truncated or damaged: {error}") from error
    if version != FORMAT_VERSION:
        raise ValueError(f"{path} has state_dict format version {version}; this engine reads version {FORMAT_VERSION}")
    return arrays
