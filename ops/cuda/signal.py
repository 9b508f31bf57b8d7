"""ops.correlate / convolve on the device, SciPy's conventions, through the direct convolution kernel.

convolve(in1, in2) is the correlation of in1 with in2 flipped; 'full', 'same'
and 'valid' differ only in how much the correlation pads in1, so each mode is
one direct.forward call over a single-channel geometry with (possibly
asymmetric) padding, and no cropping afterwards. Complex inputs take three
such real calls (Gauss: (a + ib)(c + id) = ac - bd + i((a + b)(c + d) - ac - bd)).
"""
import math

import numpy as np
from numba import cuda

from .. import shapes
from . import arrays, direct


def convolve(in1, in2, mode="full"):
    """True convolution of device arrays in1, in2 (1-3-D, one dtype: float32/64 or complex64/128), like
    scipy.signal.convolve."""
    if np.dtype(in1.dtype).kind == "c":
        return _complex(in1, in2, mode)
    if mode == "valid" and any(b > a for a, b in zip(in1.shape, in2.shape)):
        in1, in2 = in2, in1      # convolution commutes; 'valid' slides the smaller input, as in SciPy
    shape1, shape2 = tuple(in1.shape), tuple(in2.shape)
    geom = shapes.signal_conv_geometry(shape1, shape2, mode)
    out = direct.forward(in1.reshape((1, 1) + shape1), arrays.flip(in2).reshape((1, 1) + shape2), None, geom)
    return out.reshape(geom.out_spatial)


@cuda.jit(cache=True)
def _parts(z, re, im, both):
    i = cuda.grid(1)
    if i < z.size:
        re[i], im[i] = z[i].real, z[i].imag
        both[i] = z[i].real + z[i].imag


@cuda.jit(cache=True)
def _gauss(ac, bd, abcd, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = complex(ac[i] - bd[i], abcd[i] - ac[i] - bd[i])


def _split(z):
    """(real part, imaginary part, their sum) of a complex device array, as new real arrays of its shape."""
    part = np.dtype(np.dtype(z.dtype).char.lower())
    re, im, both = (arrays.empty(tuple(z.shape), part) for _ in range(3))
    _parts[arrays.grid(z.size)](arrays.flat(z), arrays.flat(re), arrays.flat(im), arrays.flat(both))
    return re, im, both


def _complex(in1, in2, mode):
    (a, b, a_b), (c, d, c_d) = _split(in1), _split(in2)
    ac, bd, abcd = convolve(a, c, mode), convolve(b, d, mode), convolve(a_b, c_d, mode)
    out = arrays.empty(tuple(ac.shape), in1.dtype)
    _gauss[arrays.grid(out.size)](arrays.flat(ac), arrays.flat(bd), arrays.flat(abcd), arrays.flat(out))
    return out


@cuda.jit(cache=True)
def _conjugate(z, out):
    i = cuda.grid(1)
    if i < z.size:
        out[i] = z[i].conjugate()


def conjugate(z):
    """A new device array holding the complex conjugate of z."""
    out = arrays.empty(tuple(z.shape), z.dtype)
    _conjugate[arrays.grid(z.size)](arrays.flat(z), arrays.flat(out))
    return out


@cuda.jit(cache=True)
def _flag_non_finite(a, flag):
    i = cuda.grid(1)
    if i < a.size and not (math.isfinite(a[i].real) and math.isfinite(a[i].imag)):
        flag[0] = 1


def all_finite(a):
    """False when device array `a` holds NaN or Inf (one pass, then one int read back to the host)."""
    flag = cuda.to_device(np.zeros(1, np.int32))
    _flag_non_finite[arrays.grid(a.size)](arrays.flat(a), flag)
    return not flag.copy_to_host()[0]
