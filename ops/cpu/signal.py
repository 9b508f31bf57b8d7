"""The direct method of ops.correlate / convolve on the CPU, for every dtype family scipy.signal takes.

float32 and float64 run the direct conv family's forward (ops.select.CONV_FAMILIES, over
shapes.signal_conv_geometry) as they are; the other families are composed from it:
- complex: Gauss's three real products, (a + ib)(c + id) = ac - bd + i((a + b)(c + d) - ac - bd),
  two when one input is real;
- bool and integers: exact, in SciPy's result dtype. While every partial sum stays below 2**53
  (max |in1| * max |in2| * the smaller size bounds them) the float64 kernel adds exact
  integers; beyond that a Numba loop sums in int64, which wraps modulo 2**64 as the
  integer dtypes themselves do, so the cast to the result dtype gives SciPy's numbers;
- float16: computed in float32.

NaN and Inf: the kernel also multiplies in1's zero padding by every tap of in2, so an
infinite or NaN tap would give 0 * inf = NaN where the plain sum of products
(ops.reference) has no product at all. Such taps are taken out of the kernel and
added back as shifted copies of in1, so the result has the reference's NaN and Inf.
"""
import math

import numpy as np
from numba import njit

from .. import select, shapes
from .cost_model import CALL, PACK_ELEMENT, fast_products, parallel
from .depthwise import DEPTHWISE_MAC
from .direct import DIRECT_MAC

EXACT_FLOAT_BOUND = 2 ** 53


def convolve(in1, in2, mode="full"):
    """scipy.signal.convolve(in1, in2, mode, method='direct') of two 1-3-D arrays, in1, in2 already checked."""
    if in1.dtype == in2.dtype and in1.dtype in shapes.FLOAT_DTYPES:
        return _real(in1, in2, mode)
    dtype = np.result_type(in1, in2)
    if dtype.kind == "c":
        return _complex(in1, in2, mode, dtype)
    if dtype.kind == "f":
        compute = np.promote_types(dtype, np.float32)
        return _real(in1.astype(compute), in2.astype(compute), mode).astype(dtype)
    return _exact(in1, in2, mode, dtype)


def _by_kernel(in1, in2, mode):
    """convolve(in1, in2, mode) of two float32 or float64 1-3-D arrays: the direct conv forward with one image, one
    channel and one filter (in2 flipped), padded so that its outputs are the mode's result."""
    if _kernel_side(in1.shape, in2.shape, mode):
        in1, in2 = in2, in1  # convolution commutes; 'valid' needs the larger input first
    geom = shapes.signal_conv_geometry(in1.shape, in2.shape, mode)
    kernel = np.ascontiguousarray(np.flip(in2)).reshape((1, 1) + in2.shape)
    conv = select.conv_algorithm(geom, "cpu", "direct")
    return conv.forward(in1.reshape((1, 1) + in1.shape), kernel, None, geom).reshape(geom.out_spatial)


def _kernel_side(shape1, shape2, mode):
    """True when the direct kernel slides in1 over in2 (SciPy's 'valid' swap), False when it slides in2."""
    return mode == "valid" and any(b > a for a, b in zip(shape1, shape2))


def _real(in1, in2, mode):
    swapped = _kernel_side(in1.shape, in2.shape, mode)
    if shapes.all_finite(in1 if swapped else in2):
        return _by_kernel(in1, in2, mode)
    image, kernel = (in2, in1) if swapped else (in1, in2)
    full = _with_non_finite_taps(image, kernel)
    return np.ascontiguousarray(full[shapes.signal_crop(full.shape, shapes.signal_output_shape(in1.shape, in2.shape,
                                                                                                mode))])


def _with_non_finite_taps(image, kernel):
    """The full convolution when the kernel holds NaN or Inf, every product image[j] * kernel[k] taken once:
    the finite parts through the direct kernel, each non-finite kernel tap times the whole image, and each
    non-finite image element times the finite taps."""
    bad_taps, bad_pixels = ~np.isfinite(kernel), ~np.isfinite(image)
    full = _by_kernel(np.where(bad_pixels, 0, image), np.where(bad_taps, 0, kernel), "full")
    for tap in zip(*np.nonzero(bad_taps)):
        full[tuple(slice(t, t + n) for t, n in zip(tap, image.shape))] += kernel[tap] * image
    for pixel in zip(*np.nonzero(bad_pixels)):
        full[tuple(slice(p, p + n) for p, n in zip(pixel, kernel.shape))] += np.where(bad_taps, 0, image[pixel] * kernel)
    return full


def _complex(in1, in2, mode, dtype):
    part = np.dtype(dtype.char.lower())  # complex64 -> float32, complex128 -> float64
    a, b = np.ascontiguousarray(in1.real, part), (np.ascontiguousarray(in1.imag, part) if in1.dtype.kind == "c" else None)
    c, d = np.ascontiguousarray(in2.real, part), (np.ascontiguousarray(in2.imag, part) if in2.dtype.kind == "c" else None)
    if b is None:
        re, im = convolve(a, c, mode), convolve(a, d, mode)
    elif d is None:
        re, im = convolve(a, c, mode), convolve(b, c, mode)
    else:
        ac, bd = convolve(a, c, mode), convolve(b, d, mode)
        re, im = ac - bd, convolve(a + b, c + d, mode) - ac - bd
    out = np.empty(re.shape, dtype)
    out.real, out.imag = re, im
    return out


def magnitude(a):
    """max |a| of a non-empty array: exact for bools and integers."""
    if a.dtype.kind in "biu":
        return max(abs(int(a.min())), abs(int(a.max())))
    return float(np.abs(a).max())


def _exact(in1, in2, mode, dtype):
    """Bool and integer inputs, exactly, in the result dtype."""
    if magnitude(in1) * magnitude(in2) * min(in1.size, in2.size) < EXACT_FLOAT_BOUND:
        out = _real(in1.astype(np.float64), in2.astype(np.float64), mode).astype(np.int64)
    else:
        if _kernel_side(in1.shape, in2.shape, mode):
            in1, in2 = in2, in1
        full = np.zeros(shapes.signal_output_shape(in1.shape, in2.shape, "full"), np.int64)
        three_d = lambda a: a.astype(np.int64).reshape((1,) * (3 - a.ndim) + a.shape)
        _full_int64(three_d(in1), three_d(in2), full.reshape((1,) * (3 - full.ndim) + full.shape))
        out = full[shapes.signal_crop(full.shape, shapes.signal_output_shape(in1.shape, in2.shape, mode))]
    return np.ascontiguousarray(out.astype(dtype))


@njit(cache=True)
def _full_int64(a, b, out):
    # out[i + j] += a[i] * b[j] over 3-D indices, in int64 arithmetic (wrapping, never checked)
    for i0 in range(a.shape[0]):
        for i1 in range(a.shape[1]):
            for i2 in range(a.shape[2]):
                v = a[i0, i1, i2]
                if v == 0:
                    continue
                for j0 in range(b.shape[0]):
                    for j1 in range(b.shape[1]):
                        for j2 in range(b.shape[2]):
                            out[i0 + j0, i1 + j1, i2 + j2] += v * b[j0, j1, j2]


def cost(shape1, shape2, mode, itemsize, threads):
    """Estimated seconds of this method for correlate/convolve(in1, in2, mode) (see ops.cpu.cost_model): the
    multiply-adds, on the native depthwise kernel with a padded copy of the larger input where it runs (float32
    on AVX-512), else on the Numba kernel; divided by min(threads, blocks of 4096 outputs)."""
    out = math.prod(shapes.signal_output_shape(shape1, shape2, mode))
    macs = out * min(math.prod(shape1), math.prod(shape2))
    if fast_products(itemsize):
        work = macs * DEPTHWISE_MAC + math.prod(shapes.signal_output_shape(shape1, shape2, "full")) * PACK_ELEMENT
    else:
        work = macs * DIRECT_MAC * itemsize / 4
    return CALL + parallel(work, out // 4096, threads)
