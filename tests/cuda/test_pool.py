"""CUDA pooling (max with indices, average, blur) through the public ops on device arrays, against the reference."""
import numpy as np
import pytest

import ops
from ops import reference, shapes
from tests.helpers import assert_close

pytestmark = pytest.mark.cuda

# (input shape, pooling arguments, dtype): overlapping windows, padding, ceil_mode, dilation (max only)
CASES = {
    "1d": ((1, 2, 11), dict(kernel_size=2), np.float32),
    "1d-ceil-overlap": ((2, 1, 10), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), np.float64),
    "2d-ceil-pad": ((2, 3, 7, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), np.float32),
    "2d-rectangular": ((1, 2, 6, 7), dict(kernel_size=(2, 3), stride=(2, 1)), np.float64),
    "3d": ((1, 1, 5, 4, 5), dict(kernel_size=(2, 3, 2), stride=(1, 2, 2), padding=(1, 1, 0)), np.float32),
}


def _call(kind, nd, *args, **kwargs):
    return getattr(ops, f"{kind}_pool{nd}d")(*args, **kwargs)


def _pool_data(rng, case):
    x_shape, kwargs, dtype = CASES[case]
    nd = len(x_shape) - 2
    x = rng.standard_normal(x_shape).astype(dtype)
    return nd, x, kwargs, dtype


@pytest.mark.parametrize("dilated", [False, True])
@pytest.mark.parametrize("case", CASES)
def test_max_pool_and_gradient(case, dilated, rng, dev):
    nd, x, kwargs, dtype = _pool_data(rng, case)
    if dilated:    # dilation 2 along every dim where the window still fits
        kernel = shapes.as_tuple(kwargs["kernel_size"], nd, "kernel_size", 1)
        kwargs = dict(kwargs, dilation=tuple(2 if 2 * k - 1 <= size else 1 for k, size in zip(kernel, x.shape[2:])))
    x[..., 0] = x[..., 1]      # ties: the first maximum must win, as in the reference
    geom = shapes.pool_geometry(x.shape, nd, **kwargs)
    out, indices = _call("max", nd, dev(x), return_indices=True, **kwargs)
    expected, expected_indices = reference.pool.max_pool(x, geom)
    assert_close(out.copy_to_host(), expected, dtype)
    np.testing.assert_array_equal(indices.copy_to_host(), expected_indices)
    assert np.dtype(indices.dtype) == np.int64

    grad_out = rng.standard_normal(geom.output_shape).astype(dtype)
    grad_x = getattr(ops, f"max_pool{nd}d_grad_input")(dev(grad_out), indices, x.shape, **kwargs)
    assert_close(grad_x.copy_to_host(), reference.pool.max_pool_grad_input(grad_out, expected_indices, geom), dtype)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("case", CASES)
def test_avg_pool_and_gradient(case, count_include_pad, rng, dev):
    nd, x, kwargs, dtype = _pool_data(rng, case)
    geom = shapes.pool_geometry(x.shape, nd, **kwargs)
    out = _call("avg", nd, dev(x), count_include_pad=count_include_pad, **kwargs)
    assert_close(out.copy_to_host(), reference.pool.avg_pool(x, geom, count_include_pad), dtype)

    grad_out = rng.standard_normal(geom.output_shape).astype(dtype)
    grad_x = getattr(ops, f"avg_pool{nd}d_grad_input")(dev(grad_out), x.shape, count_include_pad=count_include_pad,
                                                       **kwargs)
    assert_close(grad_x.copy_to_host(), reference.pool.avg_pool_grad_input(grad_out, geom, count_include_pad), dtype)


@pytest.mark.parametrize("x_shape, filt_size, stride, dtype", [
    ((2, 2, 9), 3, 2, np.float32),
    ((1, 1, 8), 6, 3, np.float64),        # even filter: reflect pads (2, 3)
    ((1, 1, 5), 7, 1, np.float32),        # pads of 3 on a length-5 signal: both mirrors reach the far end
    ((1, 2, 7, 6), 3, 2, np.float64),
    ((1, 1, 6, 5), 4, 2, np.float32),
    ((1, 1, 4, 5), 1, 1, np.float32),
    ((1, 1, 5, 6), 5, 3, np.float64),
])
def test_blur_pool_and_gradient(x_shape, filt_size, stride, dtype, rng, dev):
    nd = len(x_shape) - 2
    x = rng.standard_normal(x_shape).astype(dtype)
    out = _call("blur", nd, dev(x), filt_size, stride)
    expected = reference.pool.blur_pool(x, filt_size, stride)
    assert_close(out.copy_to_host(), expected, dtype)

    grad_out = rng.standard_normal(expected.shape).astype(dtype)
    grad_x = getattr(ops, f"blur_pool{nd}d_grad_input")(dev(grad_out), x_shape, filt_size, stride)
    assert_close(grad_x.copy_to_host(), reference.pool.blur_pool_grad_input(grad_out, x_shape, filt_size, stride), dtype)
