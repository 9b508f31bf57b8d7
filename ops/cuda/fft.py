"""FFT convolution on the device: our own radix-2 Stockham FFT over power-of-two padding.

fftn / ifftn transform complex 1-3-D arrays whose sizes are powers of two, one
axis after the other; along an axis every (outer, inner) line is transformed at
once (batched). Each of the log2(n) passes is one kernel launch, one thread per
butterfly: thread i of a line combines elements i and i + n/2 and writes them to
their sorted places in a second buffer (Stockham autosort: no bit reversal).
Twiddle factors come from a table computed once in float64 per size and dtype.

convolve zero-pads both inputs to the next power of two at least as large as
the full result in every dim, multiplies the spectra, transforms back and crops
SciPy's `mode` window out of the result (its real part for real inputs).
"""
import functools
import math

import numpy as np
from numba import cuda

from .. import shapes
from . import arrays
from .indexing import unravel5

COMPLEX = {np.dtype(np.float32): np.complex64, np.dtype(np.float64): np.complex128}


@functools.lru_cache(maxsize=32)
def _twiddles(n, dtype):
    """exp(-2 pi i k / n) for k < n / 2, on the device."""
    return cuda.to_device(np.exp(-2j * np.pi * np.arange(max(n // 2, 1)) / n).astype(dtype))


@cuda.jit(cache=True)
def _stockham_pass(src, dst, twiddles, n, inner, half_span, conjugate):
    # one radix-2 pass over lines of length n along the middle axis of (outer, n, inner) arrays;
    # half_span = 1, 2, 4, ... n/2: the length of the sorted sub-transforms this pass combines in pairs
    t = cuda.grid(1)
    half = n // 2
    if t >= src.size // 2:
        return
    col = t % inner
    i = (t // inner) % half
    line = t // (inner * half) * n * inner + col
    k = i % half_span
    w = twiddles[k * (half // half_span)]
    if conjugate:
        w = w.conjugate()
    x0 = src[line + i * inner]
    x1 = src[line + (i + half) * inner] * w
    j = 2 * i - k
    dst[line + j * inner] = x0 + x1
    dst[line + (j + half_span) * inner] = x0 - x1


def transform(a, inverse=False, batch_dims=0):
    """The unnormalised DFT (inverse: with conjugate twiddles) of a complex device array along its axes
    after the first batch_dims.

    Consumes a: the passes ping-pong between a and one more buffer; the result is in one of them.
    """
    shape = tuple(a.shape)
    if any(n & (n - 1) for n in shape[batch_dims:]):
        raise ValueError(f"the radix-2 FFT needs power-of-two sizes, got shape {shape[batch_dims:]}")
    src, dst = arrays.flat(a), arrays.empty((a.size,), a.dtype)
    for axis in range(batch_dims, len(shape)):
        n = shape[axis]
        inner = math.prod(shape[axis + 1:])
        twiddles = _twiddles(n, np.dtype(a.dtype).str)
        half_span = 1
        while half_span < n:
            _stockham_pass[arrays.grid(a.size // 2)](src, dst, twiddles, n, inner, half_span, inverse)
            src, dst = dst, src
            half_span *= 2
    return src.reshape(shape)


def _copy(a):
    out = arrays.empty(a.shape, a.dtype)
    out.copy_to_device(a)
    return out


def fftn(a):
    """Like np.fft.fftn for a complex64/complex128 device array of 1-3 power-of-two dims."""
    return transform(_copy(a))


def ifftn(a):
    """Like np.fft.ifftn (normalised by the size) for a complex device array of 1-3 power-of-two dims."""
    out = transform(_copy(a), inverse=True)
    _scale[arrays.grid(out.size)](arrays.flat(out), 1.0 / out.size)
    return out


@cuda.jit(cache=True)
def _scale(a, factor):
    i = cuda.grid(1)
    if i < a.size:
        a[i] *= factor


@cuda.jit(cache=True)
def _multiply(a, b):
    i = cuda.grid(1)
    if i < a.size:
        a[i] *= b[i]


@cuda.jit(cache=True)
def _real_window(spectrum, out, lead, step, factor):
    # out (N, C, D, H, W) = factor * the real part of spectrum (N, C, D', H', W') at lead + position * step
    i = cuda.grid(1)
    if i < out.size:
        n, c, d, h, w = unravel5(i, out.shape)
        out[n, c, d, h, w] = spectrum[n, c, lead[0] + d * step[0], lead[1] + h * step[1], lead[2] + w * step[2]].real * factor


def real_window(spectrum, spatial, lead, step, factor, dtype):
    """spectrum (N, C, *P) complex -> (N, C, *spatial) of `dtype`: factor * real part, taken from lead on, step apart."""
    out = arrays.empty(tuple(spectrum.shape[:2]) + tuple(spatial), dtype)
    _real_window[arrays.grid(out.size)](arrays.five_d(spectrum), arrays.five_d(out), arrays.three(lead, 0),
                                        arrays.three(step, 1), factor)
    return out


@cuda.jit(cache=True)
def _complex_window(spectrum, out, lead, factor):
    # out (N, C, D, H, W) = factor * spectrum (N, C, D', H', W') from lead on
    i = cuda.grid(1)
    if i < out.size:
        n, c, d, h, w = unravel5(i, out.shape)
        out[n, c, d, h, w] = spectrum[n, c, lead[0] + d, lead[1] + h, lead[2] + w] * factor


def convolve(in1, in2, mode="full"):
    """True convolution of device arrays in1, in2 (1-3-D, one dtype: float32/64 or complex64/128) through the
    FFT, like scipy.signal.fftconvolve."""
    full = shapes.signal_output_shape(in1.shape, in2.shape, "full")
    padded = tuple(arrays.next_pow2(n) for n in full)
    complex_dtype = np.dtype(in1.dtype) if np.dtype(in1.dtype).kind == "c" else COMPLEX[np.dtype(in1.dtype)]
    zeros = (0,) * len(full)
    spectrum = transform(arrays.embed(in1, padded, zeros, complex_dtype))
    _multiply[arrays.grid(spectrum.size)](arrays.flat(spectrum),
                                          arrays.flat(transform(arrays.embed(in2, padded, zeros, complex_dtype))))
    product = transform(spectrum, inverse=True)
    out_shape = shapes.signal_output_shape(in1.shape, in2.shape, mode)
    lead = tuple(sl.start for sl in shapes.signal_crop(full, out_shape))
    if np.dtype(in1.dtype).kind == "c":
        out = arrays.empty((1, 1) + out_shape, complex_dtype)
        _complex_window[arrays.grid(out.size)](arrays.five_d(product.reshape((1, 1) + padded)), arrays.five_d(out),
                                               arrays.three(lead, 0), 1.0 / product.size)
        return out.reshape(out_shape)
    out = real_window(product.reshape((1, 1) + padded), out_shape, lead, (1,) * len(full), 1.0 / product.size,
                      in1.dtype)
    return out.reshape(out_shape)
