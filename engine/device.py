"""Devices: where a Tensor's array lives and which array namespace computes on it.

The engine does its array math through the device's `xp` namespace (NumPy's
functions and a few fused ones: ops.cpu.xp on the CPU, ops.cuda.xp on the
GPU) and everything else through `ops`, which accepts host arrays and CUDA
device arrays alike. The CUDA device is set up on first use, so `import engine`
never imports numba.cuda; where no GPU (and no simulator) is found, asking for
it raises a RuntimeError that says what to install.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ops.cpu import xp as cpu_xp


@dataclass(frozen=True)
class Device:
    """name: 'cpu' or 'cuda'; xp: the array namespace; owns(a): is `a` one of this device's arrays;
    from_host(numpy array) -> device array; to_host(device array) -> numpy array."""
    name: str
    xp: object
    owns: Callable
    from_host: Callable
    to_host: Callable


CPU = Device("cpu", cpu_xp, cpu_xp.owns, np.asarray, np.asarray)
_DEVICES = {"cpu": CPU}
KNOWN_DEVICES = ("cpu", "cuda")


def register_device(device):
    """Make `device` available to Tensor.to(device.name) and E.tensor(..., device=device.name)."""
    if device.name not in KNOWN_DEVICES:
        raise ValueError(f"device name must be one of {KNOWN_DEVICES}, got {device.name!r}")
    _DEVICES[device.name] = device


def _cuda():
    """The GPU through Numba CUDA and ops.cuda.xp; RuntimeError (from ops.cuda.require) when there is none."""
    import ops.cuda
    ops.cuda.require()
    from ops.cuda import xp
    return Device("cuda", xp, xp.owns, ops.cuda.to_device, lambda a: a.copy_to_host())


def get_device(name):
    """The Device called `name` ('cpu' or 'cuda'), or a clear error."""
    if isinstance(name, Device):
        return name
    if name not in KNOWN_DEVICES:
        raise ValueError(f"unknown device {name!r}; choose one of {KNOWN_DEVICES}")
    if name not in _DEVICES:
        register_device(_cuda())
    return _DEVICES[name]


def device_of(array):
    """The Device holding `array` (host arrays and NumPy scalars are on the CPU)."""
    if isinstance(array, (np.ndarray, np.generic)):
        return CPU
    for device in _DEVICES.values():
        if device.owns(array):
            return device
    if getattr(array, "__cuda_ndarray__", False):  # a device array met before the CUDA device was set up
        return get_device("cuda")
    raise TypeError(f"{type(array).__name__} is not an array of any registered device")
