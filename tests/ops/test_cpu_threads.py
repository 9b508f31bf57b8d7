"""ops.set_num_threads sets one count for Numba and our OpenMP loops, BLAS stays on one thread; results do not
depend on the count."""
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
    from threadpoolctl import threadpool_info

    import ops.cpu  # noqa: F401  (its import claims BLAS)
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def test_one_count_everywhere_and_the_same_results(rng, restore_threads):
    x = rng.standard_normal((3, 4, 10, 9)).astype(np.float32)
    w = rng.standard_normal((5, 4, 3, 3)).astype(np.float32)
    geom = shapes.conv_geometry(x.shape, w.shape, 2, 1, 1)
    expected = reference.conv.forward(x, w, None, geom)
    for n in range(1, numba.config.NUMBA_NUM_THREADS + 1):
        ops.set_num_threads(n)
        assert ops.get_num_threads() == n and numba.get_num_threads() == n
        assert set(blas_threads()) == {1}
        for algorithm in ("gemm", "direct", "fft"):
            assert_close(ops.conv2d(x, w, padding=1, algorithm=algorithm), expected)


def test_every_loaded_blas_runs_on_one_thread_after_the_first_kernel():
    threads.claim_blas()
    threads.claim_blas()  # idempotent
    assert blas_threads() and set(blas_threads()) == {1}


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", 10 ** 6, True, np.int64(0)])
def test_bad_counts_are_rejected(bad):
    with pytest.raises(ValueError, match="threads must be an int"):
        ops.set_num_threads(bad)


def test_numpy_integer_counts_are_accepted(restore_threads):
    ops.set_num_threads(np.int64(1))
    assert ops.get_num_threads() == 1
