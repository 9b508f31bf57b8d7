"""The engine's CPU arrays reuse the buffers of freed ones (ops/_native/buffers.pyx): every forward op,
backward pass, optimizer step and compiled step runs with that cache as NumPy's memory handler, so the same
arrays made again at each training step take back the memory of the last step's instead of fresh pages.

On a LeNet-5 step (batch 64) this takes the step from about 7 ms to under 3 (asv_bench/compare_training.py).
Outside the engine's work NumPy allocates as usual. The cache keeps at most 1 GiB.
"""
from ops._native import buffers as _cache

_state = {"enabled": True}


def run(fn, *args):
    """fn(*args) with the cache as NumPy's memory handler (when enabled)."""
    if not _state["enabled"]:
        return fn(*args)
    previous = _cache.install()
    try:
        return fn(*args)
    finally:
        _cache.restore(previous)


def enable(flag=True):
    """Turn the reuse of buffers on or off (on at first); returns the previous setting. Off keeps what is cached."""
    previous, _state["enabled"] = _state["enabled"], bool(flag)
    return previous


def clear():
    """Give every cached buffer back to the C library."""
    _cache.clear()


def cached_bytes():
    """Bytes held by the cache for reuse."""
    return _cache.cached_bytes()
