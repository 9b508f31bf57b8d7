"""The engine's CPU arrays reuse the buffers of freed ones (ops.cpu.buffers): every forward op, backward pass,
optimizer step and compiled step runs with that cache as NumPy's memory handler, so the same arrays made again
at each training step take back the memory of the last step's instead of fresh pages.

On a LeNet-5 step (batch 64) this takes the step from about 7 ms to under 3 (asv_bench/compare_training.py).
Outside the engine's work NumPy allocates as usual. The cache keeps at most 1 GiB.
"""
from ops.cpu import buffers as cache

_state = {"enabled": True}


def run(fn, *args):
    """fn(*args) with the cache as NumPy's memory handler (when enabled)."""
    return cache.run(fn, *args) if _state["enabled"] else fn(*args)


def enable(flag=True):
    """Turn the reuse of buffers on or off (on at first); returns the previous setting. Off keeps what is cached."""
    previous, _state["enabled"] = _state["enabled"], bool(flag)
    return previous


def clear():
    """Give every cached buffer back to the C library."""
    cache.clear()


def cached_bytes():
    """Bytes held by the cache for reuse."""
    return cache.cached_bytes()
