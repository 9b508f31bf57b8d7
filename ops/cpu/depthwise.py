"""The native depthwise kernels (ops/_native, float32 on AVX-512 CPUs, stride 1): depthwise convs (one channel
per filter) and the weight gradient of convs with few (filter, channel) pairs (first layers).

- forward: reads the unpadded input and masks the taps that fall in the padding (it does so little work per
  element that a padded copy of the input cost as much as the conv), straight into the output;
- grad_input: the forward of grad_out with the flipped kernel (ConvGeometry.transposed: depthwise again);
- grad_weight: one correlation per (filter, channel) pair, 16 taps in registers, no packing: for depthwise
  convs each plane is padded into a per-thread buffer as it is read; for first layers (FEW_PAIR_TAPS), whose
  pairs share planes, the input is padded once.

Non-finite weights: the reference multiplies the zero padding too (0 * Inf = NaN), as gemm does, where the
forward skips the padded taps: a non-finite weight sends the forward and grad_input to gemm. The weight
gradient reads the padded planes at exactly the reference's terms.
"""
import functools
import math

import numpy as np

from .. import threads
from .._native import depthwise as native
from .._native import products
from . import gemm, planes
from .cost_model import CALL, PACK_ELEMENT, padded_extent, parallel

# Up to this many (filter, channel, tap) triples, and with 4 to FEW_PAIR_FILTERS - 1 filters per group, a
# stride-1 weight gradient is one correlation per (filter, channel) pair rather than the implicit GEMM: first
# layers. At 2 threads LeNet's first layer (150, 6 filters) takes 0.19 ms this way against 0.39; the bench's 3-D
# conv (864, 8 filters) 1.3 against 1.1; MNIST-1D's (160, 32 filters) 0.052 against 0.034 on the implicit GEMM
# with the taps read in place.
FEW_PAIR_TAPS = 256
FEW_PAIR_FILTERS = 32

# The cost model's rate (seconds, float32, one core; see ops.cpu.cost_model): one multiply-add of the native
# kernel, stride 1, signals included.
DEPTHWISE_MAC = 1 / 38e9


def _depthwise(geom):
    return geom.groups == geom.in_channels == geom.out_channels


def supports(geom, dtype, op):
    """float32 on the AVX-512 kernel, stride 1: depthwise convs, and the weight gradient of convs with few
    (filter, channel, tap) triples and 4 to FEW_PAIR_FILTERS - 1 filters per group."""
    if dtype != np.float32 or not products.fast_sgemm() or any(s != 1 for s in geom.stride):
        return False
    if _depthwise(geom):
        return True
    kg = geom.out_channels // geom.groups
    return (op == "grad_weight" and 4 <= kg < FEW_PAIR_FILTERS
            and geom.out_channels * geom.in_channels // geom.groups * math.prod(geom.kernel) <= FEW_PAIR_TAPS)


def _check(geom, dtype, op):
    if not supports(geom, dtype, op):
        raise NotImplementedError(f"the native depthwise kernels compute float32 stride-1 convs on AVX-512 CPUs, "
                                  f"depthwise ones, and the weight gradient of few (filter, channel) pairs; got "
                                  f"{dtype}, stride {geom.stride}, {geom.groups} groups of {geom.in_channels} -> "
                                  f"{geom.out_channels} channels, kernel {geom.kernel}, op {op!r}")


def cost(op, geom, itemsize, threads):
    """Estimated seconds of one pass: the multiply-adds plus the padded copy (and, for a depthwise weight
    gradient, grad_out's), divided by min(threads, its tasks: (image, channel), or (filter, channel) pairs)."""
    copied = math.prod(padded_extent(geom)) * geom.in_channels
    if not _depthwise(geom):  # one correlation per (filter, channel) pair on the padded input
        work = geom.flops / 2 * DEPTHWISE_MAC + geom.batch * copied * PACK_ELEMENT
        return CALL + parallel(work, geom.out_channels * geom.in_channels // geom.groups, threads)
    if op == "grad_weight":
        copied += math.prod(geom.out_spatial) * geom.out_channels
    work = geom.flops / 2 * DEPTHWISE_MAC + geom.batch * copied * PACK_ELEMENT
    return CALL + parallel(work, geom.batch * geom.in_channels, threads)


# A geometry's padded volume and tap offsets are arrays computed in Python: tens of microseconds.
@functools.lru_cache(maxsize=256)
def _taps(geom):
    return planes.FlatTaps(geom)


def forward(x, w, bias, geom):
    """x (N, C, *S), w (C, 1, *k), bias (C,) or None -> (N, C, *S_out), row by row from the unpadded input."""
    _check(geom, x.dtype, "forward")
    if not np.isfinite(w).all():
        return gemm.forward(x, w, bias, geom)
    out = np.empty((geom.batch, geom.out_channels, math.prod(geom.out_spatial)), x.dtype)
    bias = np.zeros(geom.out_channels, x.dtype) if bias is None else bias
    fill = (1,) * (3 - geom.nd)
    native.conv_depthwise(x.reshape(out.shape[:2] + (-1,)), w.reshape(geom.out_channels, -1), bias, out,
                          fill + geom.in_spatial, fill + geom.out_spatial, fill + geom.kernel,
                          fill + geom.dilation, (0,) * len(fill) + tuple(lo for lo, _ in geom.padding),
                          threads.get_num_threads())
    return out.reshape(geom.output_shape)


def grad_input(grad_out, w, geom):
    """grad_out (N, C, *S_out), w (C, 1, *k) -> (N, C, *S)."""
    _check(geom, grad_out.dtype, "grad_input")
    if not np.isfinite(w).all():
        return gemm.grad_input(grad_out, w, geom)
    return planes.transposed_forward(forward, grad_out, w, geom)


def grad_weight(x, grad_out, geom):
    """x (N, C, *S), grad_out (N, K, *S_out) -> (K, C // groups, *k)."""
    _check(geom, x.dtype, "grad_weight")
    taps = _taps(geom)
    n_threads = threads.get_num_threads()
    grad = np.zeros((geom.out_channels, geom.in_channels // geom.groups * len(taps.offsets)), x.dtype)
    if _depthwise(geom):  # each plane read once: padded as it is read
        x_planes, work = planes.planes(x), np.empty((n_threads, taps.volume), x.dtype)
    else:  # planes shared by several filters: padded once
        x_planes, work = taps.pad_input(x).reshape(-1, 1, 1, taps.volume), np.empty((0, 0), x.dtype)
    native.conv_pairs_grad_weight(x_planes, grad_out.reshape(grad_out.shape[:2] + (-1,)), taps.offsets, grad,
                                  geom.groups, taps.lows, taps.padded, taps.out, work, n_threads)
    return grad.reshape(geom.weight_shape)
