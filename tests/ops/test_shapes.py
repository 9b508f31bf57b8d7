"""Bad input gets a clear error naming the bad value; shape arithmetic matches the lecture's examples."""
import numpy as np
import pytest

import ops
from ops import shapes
from tests.helpers import assert_close


@pytest.mark.parametrize("stride, padding, expected", [(1, 0, 5), (2, 0, 3), (1, 1, 7), (2, 1, 4)])
def test_lecture_output_sizes_for_a_7x7_input_and_3x3_filter(stride, padding, expected):
    geom = shapes.conv_geometry((1, 1, 7, 7), (1, 1, 3, 3), 2, stride, padding)
    assert geom.out_spatial == (expected, expected)
    assert ops.conv2d(np.ones((1, 1, 7, 7)) * 0.5, np.arange(9.0).reshape(1, 1, 3, 3), stride=stride,
                      padding=padding).shape == (1, 1, expected, expected)


def test_flops_of_a_conv():
    geom = shapes.conv_geometry((64, 1, 28, 28), (6, 1, 5, 5), 2, 1, 2)
    assert geom.flops == 2 * 64 * 6 * 1 * 25 * 28 * 28


@pytest.fixture
def x(rng):
    return rng.standard_normal((2, 4, 9, 9)).astype(np.float32)


@pytest.fixture
def w(rng):
    return rng.standard_normal((6, 2, 3, 3)).astype(np.float32)


@pytest.mark.parametrize("kwargs, message", [
    (dict(groups=3), "not divisible by groups"),
    (dict(groups=1), "input channels"),
    (dict(groups=2, stride=0), "stride must be >= 1"),
    (dict(groups=2, dilation=(1, 0)), "dilation must be >= 1"),
    (dict(groups=2, padding=-1), "padding must be >= 0"),
    (dict(groups=2, padding=(1, 2, 3)), "padding must be an int or 2 ints"),
    (dict(groups=2, padding="same", stride=2), "padding='same' needs stride 1"),
    (dict(groups=2, padding="full"), "padding must be"),
    (dict(groups=2, dilation=5), "larger than the padded input"),
    (dict(groups=2, algorithm="winograd9"), "unknown conv algorithm"),
])
def test_bad_conv_arguments(x, w, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ops.conv2d(x, w, **kwargs)


def test_bad_conv_arrays(x, w):
    with pytest.raises(TypeError, match="int64"):
        ops.conv2d(x.astype(np.int64), w, groups=2)
    with pytest.raises(TypeError, match="different dtypes"):
        ops.conv2d(x, w.astype(np.float64), groups=2)
    with pytest.raises(ValueError, match="empty"):
        ops.conv2d(x[:0], w, groups=2)
    with pytest.raises(ValueError, match="4-D"):
        ops.conv2d(x[0], w, groups=2)
    with pytest.raises(ValueError, match="bias must have shape"):
        ops.conv2d(x, w, np.zeros(5, np.float32), groups=2)
    with pytest.raises(ValueError, match="grad_out has shape"):
        ops.conv2d_grad_input(np.ones((2, 6, 8, 8), np.float32), w, x.shape, groups=2)
    with pytest.raises(ValueError, match="output_padding"):
        ops.conv_transpose2d(x, np.full((4, 3, 3, 3), 0.1, np.float32), stride=1, output_padding=1)


def test_non_contiguous_input_is_copied_not_misread(x, w):
    strided = np.asfortranarray(x)[:, :, ::2, 1:]
    assert not strided.flags.c_contiguous
    assert_close(ops.conv2d(strided, w, groups=2), ops.conv2d(strided.copy(), w, groups=2, algorithm="reference"))


@pytest.mark.parametrize("kwargs, message", [
    (dict(kernel_size=4, padding=3), "at most half the kernel"),
    (dict(kernel_size=12), "larger than the padded input"),
    (dict(kernel_size=0), "kernel_size must be >= 1"),
    (dict(kernel_size=2, stride=(1, 2, 3)), "stride must be an int or 2 ints"),
])
def test_bad_pool_arguments(x, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ops.max_pool2d(x, **kwargs)


def test_ceil_mode_drops_a_window_that_starts_in_the_right_padding():
    assert shapes.pool_geometry((1, 1, 5), 1, 2, 2, 1, ceil_mode=True).out_spatial == (3,)
    assert shapes.pool_geometry((1, 1, 5), 1, 2, 2, 0, ceil_mode=True).out_spatial == (3,)
    assert shapes.pool_geometry((1, 1, 5), 1, 2, 2, 0, ceil_mode=False).out_spatial == (2,)


def test_bad_blur_pool_arguments(x):
    with pytest.raises(ValueError, match="filt_size must be 1 to 7"):
        ops.blur_pool2d(x, filt_size=8)
    with pytest.raises(ValueError, match="reflect padding"):
        ops.blur_pool2d(x[:, :, :3, :3], filt_size=7)


@pytest.mark.parametrize("in1_shape, in2_shape, mode, message", [
    ((5, 6), (3,), "full", "same number of dimensions"),
    ((2, 2, 2, 2), (1, 1, 1, 1), "full", "1-D to 3-D"),
    ((5, 3), (3, 5), "valid", "at least as large as the other"),
    ((5, 3), (3, 2), "circular", "mode must be one of"),
])
def test_bad_signal_arguments(rng, in1_shape, in2_shape, mode, message):
    with pytest.raises(ValueError, match=message):
        ops.correlate(rng.standard_normal(in1_shape), rng.standard_normal(in2_shape), mode)


def test_signal_rejects_other_dtypes_and_methods(rng):
    with pytest.raises(TypeError, match="object"):
        ops.convolve(rng.standard_normal(5).astype(object), rng.standard_normal(3))
    with pytest.raises(ValueError, match="unknown correlate/convolve method"):
        ops.convolve(rng.standard_normal(5), rng.standard_normal(3), method="winograd")
