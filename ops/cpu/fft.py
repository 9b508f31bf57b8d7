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
    other = forward(in2, fft_shape, axes=axes, workers=workers)
    if spectrum.dtype == other.dtype and all(o in (1, s) for o, s in zip(other.shape, spectrum.shape)):
        spectrum *= other  # in place: other broadcasts into spectrum
    else:
        spectrum = spectrum * other
    return inverse(spectrum, fft_shape, axes=axes, workers=workers, overwrite_x=True)


def convolve(in1, in2, mode="full", axes=None):
    """Like scipy.signal.fftconvolve for float32/float64/complex64/complex128 arrays, in1, in2 already checked;
    the result has their common dtype."""
    dtype = np.result_type(in1, in2)
    axes, swap = shapes.signal_axes(in1.shape, in2.shape, mode, axes)
    if swap:
        in1, in2 = in2, in1
    full_shape = shapes.signal_axes_full_shape(in1.shape, in2.shape, axes)
    if axes:
        real = dtype.kind != "c"
        fast_shape = [scipy.fft.next_fast_len(full_shape[a], real=real) for a in axes]
        full = spectra_product(in1, in2, fast_shape, axes)[tuple(slice(0, n) for n in full_shape)]
    else:
        full = in1 * in2
    out_shape = shapes.signal_axes_output_shape(in1.shape, in2.shape, mode, axes)
    return np.ascontiguousarray(full[shapes.signal_crop(full_shape, out_shape)], dtype=dtype)
