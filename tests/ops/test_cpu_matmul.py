"""ops.cpu.matmul, the engine's CPU matrix product, against NumPy's (float64 products of the same operands)."""
import numpy as np
import pytest

from ops.cpu.matmul import matmul
from tests.helpers import assert_close

SHAPES = [(1, 1, 1), (7, 5, 3), (64, 400, 120), (33, 17, 257), (5, 300, 513), (64, 0, 9)]


@pytest.mark.parametrize("m,k,n", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_numpy(rng, m, k, n, dtype):
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    out = matmul(a, b)
    assert out.dtype == dtype and out.shape == (m, n)
    assert_close(out, a.astype(np.float64) @ b.astype(np.float64), scale=max(1, k) ** 0.5)


def test_transposed_views_are_read_as_their_values(rng):
    a = rng.standard_normal((40, 70)).astype(np.float32)
    b = rng.standard_normal((300, 40)).astype(np.float32)
    assert_close(matmul(a.T, b.T), (a.T.astype(np.float64) @ b.T.astype(np.float64)), scale=5)


def test_batched_and_broadcast_products_follow_numpy(rng):
    a = rng.standard_normal((3, 4, 5)).astype(np.float32)
    b = rng.standard_normal((5, 6)).astype(np.float32)
    assert_close(matmul(a, b), np.matmul(a, b))


def test_mismatched_inner_sizes_are_an_error(rng):
    with pytest.raises(ValueError, match="inner sizes differ"):
        matmul(np.ones((3, 4), np.float32), np.ones((5, 2), np.float32))
