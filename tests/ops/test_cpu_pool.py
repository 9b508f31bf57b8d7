"""The Numba pooling kernels (ops.cpu.pool) against the NumPy reference, forward and backward,
on random geometries with dilation, odd sizes, ceil_mode and batch 1, in 1-3 dims and both dtypes."""
import numpy as np
import pytest

from ops import reference, shapes
from ops.cpu import pool
from tests.helpers import assert_close


def random_case(rng, nd, dtype):
    kernel = tuple(int(v) for v in rng.integers(1, 5, nd))
    stride = tuple(int(v) for v in rng.integers(1, 4, nd))
    dilation = tuple(int(v) for v in rng.integers(1, 3, nd))
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    extra = 4 if nd == 3 else 9
    spatial = tuple(d * (k - 1) + 1 + int(rng.integers(0, extra)) for k, d in zip(kernel, dilation))
    x = rng.standard_normal((int(rng.choice([1, 3])), int(rng.integers(1, 4))) + spatial).astype(dtype)
    geom = shapes.pool_geometry(x.shape, nd, kernel, stride, padding, dilation, bool(rng.integers(0, 2)))
    return x, geom


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_and_its_gradient_match_the_reference(rng, nd, dtype):
    for _ in range(6):
        x, geom = random_case(rng, nd, dtype)
        out, idx = pool.max_pool(x, geom)
        ref_out, ref_idx = reference.pool.max_pool(x, geom)
        assert out.dtype == dtype and idx.dtype == np.int64
        np.testing.assert_array_equal(out, ref_out)
        np.testing.assert_array_equal(idx, ref_idx)
        g = rng.standard_normal(out.shape).astype(dtype)
        assert_close(pool.max_pool_grad_input(g, idx, geom), reference.pool.max_pool_grad_input(g, ref_idx, geom))


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avg_pool_and_its_gradient_match_the_reference(rng, nd, dtype):
    for _ in range(6):
        x, geom = random_case(rng, nd, dtype)
        geom = shapes.pool_geometry(x.shape, nd, geom.kernel, geom.stride, geom.padding, 1, rng.integers(0, 2))
        g = rng.standard_normal(geom.output_shape).astype(dtype)
        for include in (True, False):
            out = pool.avg_pool(x, geom, include)
            assert out.dtype == dtype
            assert_close(out, reference.pool.avg_pool(x, geom, include))
            assert_close(pool.avg_pool_grad_input(g, geom, include), reference.pool.avg_pool_grad_input(g, geom, include))


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("filt_size", range(1, 8))
def test_blur_pool_and_its_gradient_match_the_reference(rng, nd, dtype, filt_size):
    stride = int(rng.integers(1, 4))
    x = rng.standard_normal((int(rng.choice([1, 2])), 3) + tuple(rng.integers(4, 12, nd))).astype(dtype)
    out = pool.blur_pool(x, filt_size, stride)
    assert out.dtype == dtype
    assert_close(out, reference.pool.blur_pool(x, filt_size, stride))
    g = rng.standard_normal(out.shape).astype(dtype)
    assert_close(pool.blur_pool_grad_input(g, x.shape, filt_size, stride),
                 reference.pool.blur_pool_grad_input(g, x.shape, filt_size, stride))


def test_max_pool_takes_the_first_maximum_and_propagates_nan():
    x = np.array([[[3.0, 1.0, 3.0, np.nan, 2.0, 2.0]]])
    geom = shapes.pool_geometry(x.shape, 1, 2)
    out, idx = pool.max_pool(x, geom)
    np.testing.assert_array_equal(out, [[[3.0, np.nan, 2.0]]])
    np.testing.assert_array_equal(idx, [[[0, 3, 4]]])


def test_a_window_wholly_in_the_padding_gives_minus_inf_and_no_gradient():
    x = np.array([[[5.0]]])
    geom = shapes.pool_geometry(x.shape, 1, 2, 1, 1, 2)  # taps at -1 and +1: both outside
    out, idx = pool.max_pool(x, geom)
    np.testing.assert_array_equal(out, [[[-np.inf]]])
    np.testing.assert_array_equal(idx, [[[-1]]])
    np.testing.assert_array_equal(pool.max_pool_grad_input(np.ones((1, 1, 1)), idx, geom), [[[0.0]]])


def test_indices_outside_the_plane_are_rejected(rng):
    x = rng.standard_normal((1, 2, 6, 6))
    geom = shapes.pool_geometry(x.shape, 2, 2)
    out, idx = pool.max_pool(x, geom)
    idx[0, 1, 2, 2] = 36
    with pytest.raises(ValueError, match="outside the input plane"):
        pool.max_pool_grad_input(out, idx, geom)


def test_blur_pool_gradient_rejects_a_wrong_shape(rng):
    with pytest.raises(ValueError, match="grad_out has shape"):
        pool.blur_pool_grad_input(rng.standard_normal((1, 2, 4, 4)), (1, 2, 9, 9), 3, 2)
