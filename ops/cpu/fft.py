"""Convolution through the convolution theorem on the CPU: scipy.fft (pocketfft) with fast sizes and threads."""
import numpy as np
import scipy.fft

from .. import shapes, threads


def spectra_product(in1, in2, fft_shape):
    """irfftn(rfftn(in1) * rfftn(in2)) at fft_shape over the last dims (in1 may carry batch dims in front)."""
    workers = threads.get_num_threads()
    axes = tuple(range(in1.ndim - len(fft_shape), in1.ndim))
    spectrum = scipy.fft.rfftn(in1, fft_shape, axes=axes, workers=workers)
    spectrum *= scipy.fft.rfftn(in2, fft_shape, workers=workers)
    return scipy.fft.irfftn(spectrum, fft_shape, axes=axes, workers=workers, overwrite_x=True)


def convolve(in1, in2, mode="full"):
    """Like scipy.signal.fftconvolve for real float32/float64 arrays of 1-3 dims; in1, in2 already checked."""
    full_shape = shapes.signal_output_shape(in1.shape, in2.shape, "full")
    fast_shape = tuple(scipy.fft.next_fast_len(n, real=True) for n in full_shape)
    full = spectra_product(in1, in2, fast_shape)
    out_shape = shapes.signal_output_shape(in1.shape, in2.shape, mode)
    return np.ascontiguousarray(full[shapes.signal_crop(full_shape, out_shape)], dtype=in1.dtype)
