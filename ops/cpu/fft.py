"""Convolution through the convolution theorem on the CPU: scipy.fft (pocketfft) with fast sizes and threads."""
import numba
import numpy as np
import scipy.fft

from .. import shapes


def convolve(in1, in2, mode="full"):
    """Like scipy.signal.fftconvolve for real float32/float64 arrays of 1-3 dims; in1, in2 already checked."""
    full_shape = tuple(a + b - 1 for a, b in zip(in1.shape, in2.shape))
    fast_shape = tuple(scipy.fft.next_fast_len(n, real=True) for n in full_shape)
    axes = tuple(range(in1.ndim))
    workers = numba.get_num_threads()
    spectrum = scipy.fft.rfftn(in1, fast_shape, axes=axes, workers=workers)
    spectrum *= scipy.fft.rfftn(in2, fast_shape, axes=axes, workers=workers)
    full = scipy.fft.irfftn(spectrum, fast_shape, axes=axes, workers=workers)
    out_shape = shapes.signal_output_shape(in1.shape, in2.shape, mode)
    full = full[tuple(slice(0, n) for n in full_shape)]
    return np.ascontiguousarray(full[shapes.signal_crop(full_shape, out_shape)], dtype=in1.dtype)
