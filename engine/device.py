"""Devices: where a Tensor's array lives and which NumPy-compatible namespace computes on it.

The engine does its elementwise math through a device's `xp` namespace (numpy
on the CPU) and everything else through `ops`, which accepts host arrays and
CUDA device arrays alike. A CUDA device needs a NumPy-compatible array library
for the elementwise part; none is bundled, so one is plugged in with
`register_device` (CuPy, for instance, fits: its arrays expose the CUDA array
interface that `ops` reads).
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Device:
    """name: 'cpu' or 'cuda'; xp: the array namespace; owns(a): is `a` one of this device's arrays;
    from_host(numpy array) -> device array; to_host(device array) -> numpy array."""
    name: str
    xp: object
    owns: Callable
    from_host: Callable
    to_host: Callable


CPU = Device("cpu", np, lambda a: isinstance(a, np.ndarray), np.asarray, np.asarray)
_DEVICES = {"cpu": CPU}
KNOWN_DEVICES = ("cpu", "cuda")


def register_device(device):
    """Make `device` available to Tensor.to(device.name) and E.tensor(..., device=device.name)."""
    if device.name not in KNOWN_DEVICES:
        raise ValueError(f"device name must be one of {KNOWN_DEVICES}, got {device.name!r}")
    _DEVICES[device.name] = device


def get_device(name):
    """The registered Device called `name` ('cpu' or 'cuda'), or a clear error."""
    if isinstance(name, Device):
        return name
    if name not in KNOWN_DEVICES:
        raise ValueError(f"unknown device {name!r}; choose one of {KNOWN_DEVICES}")
    if name not in _DEVICES:
        raise NotImplementedError(
            f"device {name!r} is not available: the engine needs a NumPy-compatible {name} array namespace "
            f"for its elementwise math, and none is registered (see engine.device.register_device)")
    return _DEVICES[name]


def device_of(array):
    """The Device holding `array` (host arrays and NumPy scalars are on the CPU)."""
    if isinstance(array, (np.ndarray, np.generic)):
        return CPU
    for device in _DEVICES.values():
        if device.owns(array):
            return device
    raise TypeError(f"{type(array).__name__} is not an array of any registered device")
