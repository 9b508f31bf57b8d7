"""The buffer cache (ops/_native/buffers.pyx) as NumPy's memory handler: reuse, zeroing, resizing, limits;
ops.cpu.buffers.run, which installs it around one call."""
import numpy as np
import pytest

import ops.cpu.buffers
from ops._native import buffers


@pytest.fixture
def cache():
    buffers.clear()
    previous = buffers.install()
    yield buffers
    buffers.restore(previous)
    buffers.clear()


def test_a_freed_buffer_returns_for_the_same_size(cache, rng):
    a = rng.standard_normal(50_000)
    address = a.ctypes.data
    del a
    assert cache.cached_bytes() >= 400_000
    b = np.empty(50_000)
    assert b.ctypes.data == address and cache.cached_bytes() == 0


def test_only_close_sizes_share_a_buffer(cache):
    a = np.empty(100_000, np.uint8)
    address = a.ctypes.data
    del a
    smaller = np.empty(80_000, np.uint8)   # would waste a fifth of the buffer
    larger = np.empty(100_001, np.uint8)   # does not fit
    assert address not in (smaller.ctypes.data, larger.ctypes.data)
    assert np.empty(95_000, np.uint8).ctypes.data == address


def test_zeros_from_a_reused_buffer_are_zeros(cache, rng):
    noise = [rng.standard_normal(40_000).astype(np.float32), rng.standard_normal((200, 200))]
    del noise
    z = np.zeros(40_000, np.float32)
    assert not z.any()
    assert not np.zeros((200, 200)).any()


def test_resize_keeps_the_values(cache, rng):
    a = rng.standard_normal(20_000)
    head = a.copy()
    a.resize(60_000, refcheck=False)
    assert np.array_equal(a[:20_000], head) and not a[20_000:].any()
    a.resize(10, refcheck=False)
    assert np.array_equal(a, head[:10])


def test_arrays_made_inside_and_freed_outside_come_back(rng):
    buffers.clear()
    previous = buffers.install()
    a = rng.standard_normal(30_000)
    buffers.restore(previous)
    del a
    assert buffers.cached_bytes() >= 240_000
    buffers.clear()
    assert buffers.cached_bytes() == 0


def test_small_buffers_and_the_limit(cache):
    small = np.empty(1000)
    del small
    assert cache.cached_bytes() == 0
    before = cache.set_limit(1_000_000)
    try:
        large = np.empty(200_000)  # 1.6 MB: over the limit
        del large
        assert cache.cached_bytes() == 0
    finally:
        assert cache.set_limit(before) == 1_000_000


def test_run_installs_the_cache_only_for_its_call():
    get_handler_name = getattr(np, "_core", getattr(np, "core", None)).multiarray.get_handler_name
    before = get_handler_name()
    inside = ops.cpu.buffers.run(lambda: np.empty(100_000))
    assert get_handler_name(inside) == "convref_buffer_cache" and get_handler_name() == before
    with pytest.raises(ZeroDivisionError):
        ops.cpu.buffers.run(lambda: 1 / 0)
    assert get_handler_name() == before
