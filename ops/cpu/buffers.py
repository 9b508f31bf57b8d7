"""A cache of freed CPU buffers for NumPy (ops/_native/buffers.pyx, a NEP 49 memory handler): arrays made
under `run` take back the memory of freed arrays of about their size instead of fresh pages.

It keeps buffers of 64 KiB or more, at most 1 GiB in all. An array keeps the handler that allocated it, so
arrays made under `run` and freed outside it still return their buffers here.
"""
from .._native import buffers as native


def run(fn, *args):
    """fn(*args) with the cache as NumPy's memory handler in the current context (put back afterwards)."""
    previous = native.install()
    try:
        return fn(*args)
    finally:
        native.restore(previous)


def clear():
    """Give every cached buffer back to the C library."""
    native.clear()


def cached_bytes():
    """Bytes held by the cache for reuse."""
    return native.cached_bytes()
