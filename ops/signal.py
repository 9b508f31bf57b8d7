"""Signal-processing correlation and convolution with SciPy's signatures, and their gradients.

Inputs are 1-3-D float32/float64 arrays of equal ndim; mode is 'full', 'same'
(shaped like in1, centred as SciPy does) or 'valid' (the larger input must
contain the smaller in every dim; either order is accepted, as in SciPy).
"""
import numpy as np

from . import select, shapes


def _checked(in1, in2, mode):
    in1 = shapes.check_array(in1, "in1")
    in2 = shapes.check_array(in2, "in2")
    shapes.check_signal_pair(in1, in2, mode)
    if shapes.device_of(in1) != shapes.device_of(in2):
        raise ValueError(f"in1 is on {shapes.device_of(in1)}, in2 on {shapes.device_of(in2)}")
    dtype = np.result_type(in1.dtype, in2.dtype)
    if shapes.device_of(in1) == "cpu":
        in1, in2 = in1.astype(dtype, copy=False), in2.astype(dtype, copy=False)
    elif in1.dtype != in2.dtype:
        raise TypeError(f"device arrays of different dtypes: {in1.dtype} and {in2.dtype}")
    return in1, in2


def convolve(in1, in2, mode="full", method="auto"):
    """True convolution of in1 with in2 (in2 flipped), like scipy.signal.convolve.

    method: 'auto' (cost model in ops.select), 'direct', 'fft', or on the CPU 'oa' (overlap-add, SciPy's oaconvolve).
    Returns an array of shapes.signal_output_shape(in1.shape, in2.shape, mode).
    """
    in1, in2 = _checked(in1, in2, mode)
    device = shapes.device_of(in1)
    return select.signal_method(in1.shape, in2.shape, mode, device, method).convolve(in1, in2, mode)


def correlate(in1, in2, mode="full", method="auto"):
    """Cross-correlation of in1 with in2, like scipy.signal.correlate: convolve with in2 flipped."""
    in1, in2 = _checked(in1, in2, mode)
    return convolve(in1, _flipped(in2), mode, method)


def fftconvolve(in1, in2, mode="full"):
    """Convolution through the FFT, like scipy.signal.fftconvolve."""
    return convolve(in1, in2, mode, method="fft")


def _flipped(a):
    """a reversed along every axis, as a new contiguous array on a's device."""
    if shapes.device_of(a) == "cpu":
        return np.ascontiguousarray(np.flip(a))
    from .cuda import arrays
    return arrays.flip(a)


def _full_grad(grad_out, shape1, shape2, mode):
    """Embed the gradient of a cropped result into the full-size result it was cut from."""
    full_shape = shapes.signal_output_shape(shape1, shape2, "full")
    expected = shapes.signal_output_shape(shape1, shape2, mode)
    if tuple(grad_out.shape) != expected:
        raise ValueError(f"grad_out has shape {tuple(grad_out.shape)}, the {mode!r} result has {expected}")
    crop = shapes.signal_crop(full_shape, expected)
    if shapes.device_of(grad_out) == "cuda":
        from .cuda import arrays
        return arrays.embed(grad_out, full_shape, tuple(sl.start for sl in crop))
    full = np.zeros(full_shape, grad_out.dtype)
    full[crop] = grad_out
    return full


def convolve_grad(grad_out, in1, in2, mode="full", method="auto"):
    """Gradients (d in1, d in2) of convolve(in1, in2, mode) given the gradient of its result."""
    in1, in2 = _checked(in1, in2, mode)
    if shapes.device_of(in1) == "cpu":
        grad_out = np.asarray(grad_out, in1.dtype)
    full = _full_grad(grad_out, in1.shape, in2.shape, mode)
    return correlate(full, in2, "valid", method), correlate(full, in1, "valid", method)


def correlate_grad(grad_out, in1, in2, mode="full", method="auto"):
    """Gradients (d in1, d in2) of correlate(in1, in2, mode) given the gradient of its result."""
    in1, in2 = _checked(in1, in2, mode)
    g1, g_flipped = convolve_grad(grad_out, in1, _flipped(in2), mode, method)
    return g1, _flipped(g_flipped)
