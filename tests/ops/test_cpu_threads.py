"""ops.set_num_threads sets one count for Numba, our OpenMP loops and BLAS; results do not depend on it."""
import numba
import numpy as np
import pytest

import ops
from ops import reference, shapes, threads
from tests.helpers import assert_close


@pytest.fixture
def restore_threads():
    before = ops.get_num_threads()
    yield
    ops.set_num_threads(before)


def blas_threads():
    return [lib.num_threads for lib in threads._blas().lib_controllers]


def test_one_count_everywhere_and_the_same_results(rng, restore_threads):
    x = rng.standard_normal((3, 4, 10, 9)).astype(np.float32)
    w = rng.standard_normal((5, 4, 3, 3)).astype(np.float32)
    geom = shapes.conv_geometry(x.shape, w.shape, 2, 1, 1)
    expected = reference.conv.forward(x, w, None, geom)
    for n in range(1, numba.config.NUMBA_NUM_THREADS + 1):
        ops.set_num_threads(n)
        assert ops.get_num_threads() == n and numba.get_num_threads() == n
        assert set(blas_threads()) == {n}
        for algorithm in ("gemm", "direct", "fft"):
            assert_close(ops.conv2d(x, w, padding=1, algorithm=algorithm), expected)


def test_blas_runs_single_threaded_inside_our_loops_and_is_restored(restore_threads):
    ops.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    before = blas_threads()
    with threads.blas_single_threaded():
        assert set(blas_threads()) == {1}
    assert blas_threads() == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", 10 ** 6])
def test_bad_counts_are_rejected(bad):
    with pytest.raises(ValueError, match="threads must be an int"):
        ops.set_num_threads(bad)
