"""Convolution through the convolution theorem on the CPU: scipy.fft (pocketfft) with fast sizes and threads.

Real inputs go through real transforms (rfftn), complex ones (either input) through
full ones; the other axes broadcast in the product of the spectra, as in
scipy.signal.fftconvolve.
"""
import numpy as np
import scipy.fft

from .. import shapes, threads


def spectra_product(in1, in2, fft_shape, axes):
    """ifftn(fftn(in1) * fftn(in2)) at fft_shape over `axes`, the other axes broadcast (real transforms unless
    either input is complex)."""
    workers = threads.get_num_threads()
    real = in1.dtype.kind != "c" and in2.dtype.kind != "c"
    forward, inverse = (scipy.fft.rfftn, scipy.fft.irfftn) if real else (scipy.fft.fftn, scipy.fft.ifftn)
    spectrum = forward(in1, fft_shape, axes=axes, workers=workers)
    if in1.dtype == in2.dtype and all(b in (1, a) for i, (a, b) in enumerate(zip(in1.shape, in2.shape))
                                      if i not in axes):
        spectrum *= forward(in2, fft_shape, axes=axes, workers=workers)  # in2's spectrum broadcasts into in1's
    else:
        spectrum = spectrum * forward(in2, fft_shape, axes=axes, workers=workers)
    return inverse(spectrum, fft_shape, axes=axes, workers=workers, overwrite_x=True)


def axes_plan(in1, in2, mode, axes):
    """What an FFT method needs of scipy.signal's `axes`: (in1, in2 in the order 'valid' needs, the axes to
    transform, the full result's shape, the crop of the mode's result from it). No axes: in1 * in2 is the result."""
    axes, swap = shapes.signal_axes(in1.shape, in2.shape, mode, axes)
    if swap:
        in1, in2 = in2, in1
    full_shape, out_shape = shapes.signal_axes_shapes(in1.shape, in2.shape, mode, axes)
    return in1, in2, axes, full_shape, shapes.signal_crop(full_shape, out_shape)


def convolve(in1, in2, mode="full", axes=None):
    """Like scipy.signal.fftconvolve for float32/float64/complex64/complex128 arrays, in1, in2 already checked;
    the result has their common dtype."""
    dtype = in1.dtype if in1.dtype == in2.dtype else np.result_type(in1, in2)
    in1, in2, axes, full_shape, crop = axes_plan(in1, in2, mode, axes)
    if not axes:
        return np.ascontiguousarray((in1 * in2)[crop], dtype=dtype)
    fast_shape = [scipy.fft.next_fast_len(full_shape[a], real=dtype.kind != "c") for a in axes]
    # the crop lies inside the full result, which starts the (larger) fast-length one
    return np.ascontiguousarray(spectra_product(in1, in2, fast_shape, axes)[crop], dtype=dtype)


def cost(shape1, shape2, mode, itemsize, threads):
    """Estimated seconds of this method for correlate/convolve(in1, in2, mode) (see ops.cpu.cost_model): three
    transforms of the full result's shape, divided by min(threads, 1 + its size / 65536)."""
    import math

    from .cost_model import CALL, fft_seconds, parallel
    full = shapes.signal_output_shape(shape1, shape2, "full")
    return CALL + parallel(3 * fft_seconds(full) * itemsize / 4, 1 + math.prod(full) // 65536, threads)
