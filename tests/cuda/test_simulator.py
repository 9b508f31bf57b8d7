"""The simulator as conftest.py sets it up: fresh memory holds garbage and a block's threads share its shared arrays,
as on a GPU. Without either, kernels that pass here could fail on a GPU, or fail here only now and then."""
import threading
import time

import numpy as np
import pytest
from numba import cuda

import ops.cuda
from ops.cuda import arrays

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not ops.cuda.simulated(), reason="checks the simulator, not a GPU")]


@cuda.jit
def _read_fresh(out):
    local = cuda.local.array(1, out.dtype)
    static = cuda.shared.array(1, out.dtype)
    dynamic = cuda.shared.array(0, out.dtype)
    out[0], out[1], out[2] = local[0], static[0], dynamic[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fresh_memory_reads_as_nan(dtype):
    out = arrays.empty((4,), dtype)
    _read_fresh[1, 1, 0, 8](out)
    assert np.isnan(out.copy_to_host()).all()     # out[3]: a device array no kernel wrote


class _SlowSize:
    """An array length that takes a while to read, so every thread asks for the array before any gets one."""

    def __index__(self):
        time.sleep(0.02)     # lets the other threads run
        return 8


def test_threads_racing_for_a_shared_array_get_the_same_one():
    from numba.cuda.simulator.kernelapi import FakeCUDAShared
    block_memory = FakeCUDAShared(0)
    start = threading.Barrier(8)
    got = []

    def thread():
        start.wait()
        got.append(block_memory.array(_SlowSize(), np.dtype(np.float64)))     # one line for all threads

    threads = [threading.Thread(target=thread) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and all(a is got[0] for a in got)
