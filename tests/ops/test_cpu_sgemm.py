"""The AVX-512 sgemm kernel (ops/_native/sgemm.h) against NumPy on sizes around its tile and panel edges."""
import numpy as np
import pytest

from ops._native import matmul, products
from tests.helpers import assert_close

pytestmark = pytest.mark.skipif(not products.fast_sgemm(), reason="this CPU has no AVX-512")


@pytest.mark.parametrize("threads", [1, 2])
def test_matmul_matches_numpy_across_edges(rng, threads):
    sizes = [1, 7, 8, 9, 31, 33, 130, 257, 520]
    for _ in range(12):
        m, k, n = (int(rng.choice(sizes)) for _ in range(3))
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        out = np.full((m, n), np.nan, np.float32)
        matmul.matmul(a, b, out, threads)
        assert_close(out, a.astype(np.float64) @ b, np.float32, scale=max(1.0, k / 100))


def test_mismatched_shapes_are_rejected():
    with pytest.raises(ValueError, match="do not match"):
        matmul.matmul(np.ones((3, 4), np.float32), np.ones((5, 2), np.float32), np.empty((3, 2), np.float32), 1)
