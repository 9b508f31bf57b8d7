"""ops.correlate / convolve / fftconvolve and their gradients on device arrays, and the CUDA FFT itself."""
import numpy as np
import pytest

import ops
from ops import reference
from ops.cuda import fft
from tests.helpers import assert_close

pytestmark = pytest.mark.cuda

# (in1 shape, in2 shape, dtype): odd sizes, in2 larger than in1, even kernels (off-centre 'same' crops)
PAIRS = [((9,), (4,), np.float32), ((3,), (7,), np.float64), ((5, 6), (3, 2), np.float64),
         ((2, 3), (4, 3), np.float32), ((3, 4, 2), (2, 2, 3), np.float32)]


def _modes(shape1, shape2):
    nested = all(a >= b for a, b in zip(shape1, shape2)) or all(b >= a for a, b in zip(shape1, shape2))
    return ["full", "same", "valid"] if nested else ["full", "same"]


@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("shape1, shape2, dtype", PAIRS)
def test_convolve_and_correlate_match_reference(shape1, shape2, dtype, method, rng, dev):
    in1 = rng.standard_normal(shape1).astype(dtype)
    in2 = rng.standard_normal(shape2).astype(dtype)
    for mode in _modes(shape1, shape2):
        out = ops.convolve(dev(in1), dev(in2), mode, method)
        assert_close(out.copy_to_host(), reference.convolve(in1, in2, mode), dtype)
        out = ops.correlate(dev(in1), dev(in2), mode, method)
        assert_close(out.copy_to_host(), reference.correlate(in1, in2, mode), dtype)


def test_fftconvolve_and_auto_on_device_arrays(rng, dev):
    in1, in2 = rng.standard_normal((6, 7)), rng.standard_normal((3, 3))
    expected = reference.convolve(in1, in2, "same")
    assert_close(ops.fftconvolve(dev(in1), dev(in2), "same").copy_to_host(), expected)
    assert_close(ops.convolve(dev(in1), dev(in2), "same").copy_to_host(), expected)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_gradients_on_device_match_the_host(mode, rng, dev):
    in1, in2 = rng.standard_normal((7, 5)), rng.standard_normal((3, 2))
    grad_out = rng.standard_normal(ops.shapes.signal_output_shape(in1.shape, in2.shape, mode))
    for grad in (ops.convolve_grad, ops.correlate_grad):
        expected = grad(grad_out, in1, in2, mode, "direct")
        actual = grad(dev(grad_out), dev(in1), dev(in2), mode, "direct")
        for a, e in zip(actual, expected):
            assert_close(a.copy_to_host(), e)


@pytest.mark.parametrize("shape", [(1,), (2,), (16,), (4, 2), (2, 4, 8)])
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_fftn_and_ifftn_match_numpy(shape, dtype, rng, dev):
    a = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    d_a = dev(a)
    real = np.float32 if dtype == np.complex64 else np.float64
    for ours, numpys in [(fft.fftn, np.fft.fftn), (fft.ifftn, np.fft.ifftn)]:
        out, expected = ours(d_a).copy_to_host(), numpys(a)
        assert out.dtype == dtype
        assert_close(np.stack([out.real, out.imag]), np.stack([expected.real, expected.imag]), real)
    np.testing.assert_array_equal(d_a.copy_to_host(), a)      # the input is left as it was


def test_fft_needs_power_of_two_sizes(dev):
    with pytest.raises(ValueError, match="power-of-two"):
        fft.fftn(dev(np.zeros((4, 6), np.complex64)))


def _complex(rng, shape, dtype):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("shape1, shape2, dtype", [((7,), (3,), np.complex128), ((3, 4), (2, 3), np.complex64)])
def test_complex_inputs_match_scipy(shape1, shape2, dtype, method, rng, dev):
    import scipy.signal
    in1, in2 = _complex(rng, shape1, dtype), _complex(rng, shape2, dtype)
    real = np.float32 if dtype == np.complex64 else np.float64
    for mode in _modes(shape1, shape2):
        for name in ("correlate", "convolve"):
            out = getattr(ops, name)(dev(in1), dev(in2), mode, method).copy_to_host()
            expected = getattr(scipy.signal, name)(in1, in2, mode)
            assert out.dtype == dtype
            assert_close(np.stack([out.real, out.imag]), np.stack([expected.real, expected.imag]), real)


def test_complex_gradients_on_device_match_the_host(rng, dev):
    in1, in2 = _complex(rng, (5, 4), np.complex128), _complex(rng, (2, 3), np.complex128)
    grad_out = _complex(rng, ops.shapes.signal_output_shape(in1.shape, in2.shape, "same"), np.complex128)
    for grad in (ops.convolve_grad, ops.correlate_grad):
        expected = grad(grad_out, in1, in2, "same", "direct")
        for a, e in zip(grad(dev(grad_out), dev(in1), dev(in2), "same", "direct"), expected):
            np.testing.assert_allclose(a.copy_to_host(), e, atol=1e-10)


def test_auto_takes_direct_for_non_finite_inputs(rng, dev):
    """The device's rule picks the FFT for these shapes; an Inf makes it take the direct method, which keeps
    the non-finite values where the products with them land."""
    in1, in2 = rng.standard_normal(64), rng.standard_normal(64)
    assert ops.choose_conv_method(dev(in1), dev(in2)) == "fft"
    in1[3] = np.inf
    out = ops.convolve(dev(in1), dev(in2)).copy_to_host()
    expected = reference.convolve(in1, in2)
    np.testing.assert_array_equal(np.isfinite(out), np.isfinite(expected))


def test_device_arrays_of_other_dtypes_raise(dev):
    with pytest.raises(TypeError, match="on CUDA"):
        ops.correlate(dev(np.arange(4)), dev(np.arange(2)))
    with pytest.raises(ValueError, match="1-3-D, non-empty"):
        ops.convolve(dev(np.zeros(0)), dev(np.ones(2)))
    with pytest.raises(NotImplementedError, match="CPU only"):
        ops.oaconvolve(dev(np.ones(8)), dev(np.ones(2)))
