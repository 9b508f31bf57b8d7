"""autotune's winners kept in a JSON file, like FFTW's wisdom: what one process measured, the next one reuses.

The file holds one group of winners per machine fingerprint (the CPU, its core count, whether the float32
products run on the AVX-512 kernel, the versions of the software, and for CUDA keys the device), so one file
can serve several machines: the groups of other fingerprints are kept as they are and never used here.

    {"format": "convref-autotune", "version": 1,
     "machines": [{"fingerprint": {"cpu": ..., ...}, "winners": [[key, name], ...]}, ...]}

A key is select's key made JSON: tuples as lists, a ConvGeometry as {"ConvGeometry": {field: value}}.
"""
import dataclasses
import functools
import json
import os
import platform
import tempfile
import threading
from importlib import metadata

from .shapes import ConvGeometry

FORMAT, VERSION = "convref-autotune", 1
_GEOMETRY_FIELDS = {field.name for field in dataclasses.fields(ConvGeometry)}
_writing = threading.Lock()  # one save at a time: each rewrites the whole file from what it read


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=None)
def fingerprint(device):
    """What this machine's timings depend on, for keys of `device` ('cpu' or 'cuda'); None for CUDA without
    a GPU (its groups then match nothing)."""
    from . import __version__
    from ._native import products
    found = {"cpu": _cpu_model(), "cpu_count": os.cpu_count(), "fast_sgemm": bool(products.fast_sgemm()),
             "numpy": metadata.version("numpy"), "numba": metadata.version("numba"),
             "scipy": metadata.version("scipy"), "ops": __version__}
    if device == "cuda":
        from numba import cuda
        if not cuda.is_available():
            return None
        name = cuda.get_current_device().name
        found["device"] = name.decode() if isinstance(name, bytes) else name
    return found


def _device(key):
    return "cuda" if key[-1] == "cuda" else "cpu"


def _freeze(value):
    """A key's part as JSON values."""
    if isinstance(value, ConvGeometry):
        return {"ConvGeometry": {name: _freeze(v) for name, v in dataclasses.asdict(value).items()}}
    if isinstance(value, tuple):
        return [_freeze(v) for v in value]
    return value


def _thaw(value):
    """The inverse of _freeze; raises TypeError or ValueError on anything a key never holds."""
    if isinstance(value, list):
        return tuple(_thaw(v) for v in value)
    if isinstance(value, dict):
        fields = value.get("ConvGeometry")
        if len(value) != 1 or not isinstance(fields, dict) or set(fields) != _GEOMETRY_FIELDS:
            raise ValueError(f"not a ConvGeometry: {value!r}")
        return ConvGeometry(**{name: _thaw(v) for name, v in fields.items()})
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"not part of a key: {value!r}")
    return value


def _key(value):
    key = _thaw(value)
    if not (isinstance(key, tuple) and len(key) >= 2 and key[0] in ("conv", "signal")):
        raise ValueError(f"not a conv or signal key: {value!r}")
    if key[0] == "conv" and not isinstance(key[2], ConvGeometry):
        raise ValueError(f"a conv key without its geometry: {value!r}")
    return key


def _read(path):
    """[(fingerprint, {key: name})] of the file; [] when it does not exist."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        return []
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
            raise ValueError(f"no {FORMAT!r} version {VERSION} header")
        groups = []
        for machine in data["machines"]:
            if not isinstance(machine["fingerprint"], dict):
                raise TypeError("a fingerprint that is not an object")
            winners = {}
            for key, name in machine["winners"]:
                if not isinstance(name, str):
                    raise TypeError(f"a winner that is not a name: {name!r}")
                winners[_key(key)] = name
            groups.append((machine["fingerprint"], winners))
        return groups
    except (ValueError, KeyError, TypeError) as error:  # json.JSONDecodeError is a ValueError
        raise ValueError(f"autotune cache {os.fspath(path)!r} is not a convref autotune file: {error}") from None


def load(path):
    """{key: algorithm name} of the file's groups that match this machine (keys of CUDA only with a GPU)."""
    found = {}
    for machine, winners in _read(path):
        for key, name in winners.items():
            if machine == fingerprint(_device(key)):
                found[key] = name
    return found


def save(path, winners):
    """Write `winners` ({key: name}, measured here) into the file, over what it holds for the same keys on
    this machine; everything else in it stays. Atomic: a temporary file next to it, then os.replace."""
    with _writing:
        groups = _read(path)
        for key, name in winners.items():
            machine = fingerprint(_device(key))
            if machine is None:  # nothing measures CUDA without a GPU: no such key to keep
                continue
            group = next((g for m, g in groups if m == machine), None)
            if group is None:
                group = {}
                groups.append((machine, group))
            group[key] = name
        data = {"format": FORMAT, "version": VERSION,
                "machines": [{"fingerprint": machine, "winners": [[_freeze(k), n] for k, n in group.items()]}
                             for machine, group in groups]}
        folder = os.path.dirname(os.path.abspath(path))
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".autotune-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(data, file)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
