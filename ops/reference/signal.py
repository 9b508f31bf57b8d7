"""Plain NumPy correlate / convolve / fftconvolve with SciPy's conventions: the oracle.

convolve is a sum of shifted, scaled copies of in1, one per kernel element:
slow for big kernels, but obviously right.
"""
import numpy as np

from .. import shapes


def _inputs(in1, in2, mode):
    in1 = shapes.check_signal_array(in1, "in1")
    in2 = shapes.check_signal_array(in2, "in2")
    shapes.check_signal_pair(in1, in2, mode)
    dtype = np.result_type(in1, in2)
    return in1.astype(dtype, copy=False), in2.astype(dtype, copy=False)


def _full_convolve(a, b):
    full_shape = tuple(x + y - 1 for x, y in zip(a.shape, b.shape))
    out = np.zeros(full_shape, dtype=a.dtype)
    for offset in np.ndindex(*b.shape):
        window = tuple(slice(o, o + n) for o, n in zip(offset, a.shape))
        out[window] += b[offset] * a
    return out


def convolve(in1, in2, mode="full"):
    """True convolution (the kernel flipped) of two 1-3-D arrays, like scipy.signal.convolve."""
    in1, in2 = _inputs(in1, in2, mode)
    full = _full_convolve(in1, in2)
    out_shape = shapes.signal_output_shape(in1.shape, in2.shape, mode)
    return np.ascontiguousarray(full[shapes.signal_crop(full.shape, out_shape)])


def correlate(in1, in2, mode="full"):
    """Cross-correlation, like scipy.signal.correlate: convolution with in2 flipped in every axis (and conjugated)."""
    in1, in2 = _inputs(in1, in2, mode)
    return convolve(in1, np.ascontiguousarray(np.conj(np.flip(in2)) if in2.dtype.kind == "c" else np.flip(in2)), mode)


def fftconvolve(in1, in2, mode="full"):
    """Convolution through the convolution theorem (numpy.fft), like scipy.signal.fftconvolve (its dtypes too:
    integers and bools transform as float64, float16 as float32)."""
    in1, in2 = shapes.check_signal_array(in1, "in1"), shapes.check_signal_array(in2, "in2")
    shapes.check_signal_pair(in1, in2, mode)
    transformed = [np.float64 if a.dtype.kind in "biu" else np.promote_types(a.dtype, np.float32) for a in (in1, in2)]
    dtype = np.result_type(*transformed)
    in1, in2 = in1.astype(dtype), in2.astype(dtype)
    full_shape = tuple(x + y - 1 for x, y in zip(in1.shape, in2.shape))
    axes = tuple(range(in1.ndim))
    if dtype.kind == "c":
        full = np.fft.ifftn(np.fft.fftn(in1, full_shape, axes) * np.fft.fftn(in2, full_shape, axes), full_shape, axes)
    else:
        full = np.fft.irfftn(np.fft.rfftn(in1, full_shape, axes) * np.fft.rfftn(in2, full_shape, axes), full_shape, axes)
    out_shape = shapes.signal_output_shape(in1.shape, in2.shape, mode)
    return np.ascontiguousarray(full[shapes.signal_crop(full_shape, out_shape)], dtype=dtype)
