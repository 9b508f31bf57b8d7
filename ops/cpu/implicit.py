"""The implicit GEMM (ops/_native: sgemm.h's 8 x 32 register tile reading the taps in place, no im2col):
float32 convs on AVX-512 CPUs with 4 or more filters per group and a stride of 1 or 2 along W.

- forward: the padded input split into stride phases (_Phases), so that a strided conv reads rows as a
  stride-1 one does; the products run over the positions of the phase grid, straight into the output;
- grad_input (stride 1): the forward of grad_out with the flipped, transposed kernel
  (ConvGeometry.transposed), for 4 or more input channels per group;
- grad_weight: products of the taps, read from the phases, with grad_out seen on the grid: the taps packed,
  or, from TAPS_AS_ROWS_FILTERS filters per group, read in place as the rows of the product.

Non-finite operands: the grid holds zeros beside the outputs (grad_out's, in the gradients), which would
meet a non-finite weight (grad_input) or input (grad_weight) in sums that have no such term. So a non-finite
weight sends the forward and grad_input to gemm, whose sums have exactly the reference's terms, and a NaN in
a weight gradient has gemm compute it again.
"""
import functools
import math

import numpy as np

from .. import threads
from .._native import implicit as native
from .._native import products
from . import gemm, planes
from .cost_model import CALL, GEMM_FLOP, PACK_ELEMENT, padded_extent, parallel, tile_waste

# Grid positions per task.
_CHUNK = 2048

# From this many filters per group, the implicit weight gradient reads the taps in place as the rows of its
# product and packs grad_out (n = filters wide), rather than packing the taps: 30 % faster on res3x3 (64
# filters), 13-45 % slower with 8-16 filters (vol3d, lenet2), which fill too little of the kernel's 32 columns.
TAPS_AS_ROWS_FILTERS = 32


class _Phases:
    """The padded input split into stride phases, for the implicit GEMM's forward: output (oz, oy, ox) reads
    tap t at element offsets[t] + sw * j of its channel, j = (oz * Hq + oy) * Wq + ox on the grid (Do, Hq, Wq).

    Phase (pz, py) of a channel holds the padded slices pz, pz + sd, ... and rows py, py + sh, ..., each
    Wq * sw wide, so that a strided conv reads rows as a stride-1 one does and every other element along W
    where sw is 2. A tap at k * dilation = s * shift + phase reads phase `phase` at `shift`. With stride 1
    this is the padded input itself.
    """

    def __init__(self, geom):
        fill = 3 - geom.nd
        kernel, stride = (1,) * fill + geom.kernel, (1,) * fill + geom.stride
        dilation, out = (1,) * fill + geom.dilation, (1,) * fill + geom.out_spatial
        self.lows = (0,) * fill + tuple(lo for lo, _ in geom.padding)
        reach = [(o - 1) * s + d * (k - 1) + 1 for o, s, d, k in zip(out, stride, dilation, kernel)]
        (sd, sh, sw), (dp, hp, wp) = stride, reach
        dq, hq, wq = -(-dp // sd), -(-hp // sh), -(-wp // sw)
        self.phases = (sd, sh, dq, hq, wq * sw)
        self.grid, self.out, self.step = (out[0], hq, wq), out, sw
        z, y, x = np.indices(kernel).reshape(3, -1) * np.array(dilation)[:, None]
        self.offsets = ((((z % sd) * sh + y % sh) * dq + z // sd) * hq + y // sh) * wq * sw + x
        # the last tile's masked loads stop at its last output's window, which may end past the phases
        self.volume = max(math.prod(self.phases), int(self.offsets.max()) + sw * (self.count() - 1) + 1)
        # offsets of every (input channel of a group, tap) from its group's first channel
        self.tap_offsets = (np.arange(geom.in_channels // geom.groups)[:, None] * self.volume
                            + self.offsets).reshape(-1)

    def split(self, x):
        """(N, C, *S) -> (N, C, volume): zero-padded, split into phases, flattened."""
        return planes.padded_planes(x, self.lows, self.phases, self.volume)

    def count(self):
        """One past the grid position of the last output."""
        (do, ho, wo), (_, hq, wq) = self.out, self.grid
        return (do - 1) * hq * wq + (ho - 1) * wq + wo


@functools.lru_cache(maxsize=256)
def _phases(geom):
    return _Phases(geom)


def supports(geom, dtype, op):
    """float32 on the AVX-512 kernel; the forward and weight gradient with >= 4 filters per group and a stride
    of 1 or 2 along W, grad_input with stride 1 and >= 4 input channels per group."""
    if dtype != np.float32 or not products.fast_sgemm():
        return False
    if op == "grad_input":
        return all(s == 1 for s in geom.stride) and geom.in_channels // geom.groups >= 4
    return geom.out_channels // geom.groups >= 4 and geom.stride[-1] <= 2


def _check(geom, dtype, op):
    if not supports(geom, dtype, op):
        raise NotImplementedError(f"the implicit GEMM computes float32 convs on AVX-512 CPUs with >= 4 filters per "
                                  f"group (input channels, for grad_input) and a stride of 1 or 2 along W (1 in "
                                  f"every dim for grad_input); got {dtype}, stride {geom.stride}, {geom.groups} "
                                  f"groups of {geom.in_channels} -> {geom.out_channels} channels, op {op!r}")


def cost(op, geom, itemsize, threads):
    """Estimated seconds of one pass: the flops over the padded grid's positions (rows as wide as the input,
    split into stride phases; empty rows of the kernel's 8-row tile count) plus the copies it makes,
    divided by min(threads, its tasks)."""
    padded = padded_extent(geom)
    out_positions = math.prod(geom.out_spatial)
    kg = geom.out_channels // geom.groups
    spans = [d * (k - 1) for k, d in zip(geom.kernel, geom.dilation)]
    if op == "grad_input":
        wide = math.prod(geom.in_spatial[:-1]) * (geom.in_spatial[-1] + spans[-1])
        copied = math.prod(o + s for o, s in zip(geom.out_spatial, spans)) * geom.out_channels
    else:
        wide = out_positions // geom.out_spatial[-1] * -(-padded[-1] // geom.stride[-1])
        if geom.nd > 1:
            wide = wide // geom.out_spatial[-2] * -(-padded[-2] // geom.stride[-2])
        copied = math.prod(padded) * geom.in_channels * (1 if all(s == 1 for s in geom.stride) else 2)
        if op == "grad_weight":  # grad_out packed (on the grid), and with few filters the taps
            packed_taps = wide * geom.in_channels * math.prod(geom.kernel) if kg < TAPS_AS_ROWS_FILTERS else 0
            copied += wide * geom.out_channels + packed_taps
    waste = tile_waste(geom.in_channels // geom.groups if op == "grad_input" else kg)
    work = geom.flops * wide / out_positions * GEMM_FLOP * waste + geom.batch * copied * PACK_ELEMENT
    return CALL + parallel(work, geom.batch * geom.groups * max(1, wide // _CHUNK), threads)


def forward(x, w, bias, geom):
    """x (N, C, *S), w (K, C // groups, *k), bias (K,) or None -> (N, K, *S_out), over the positions of the phase
    grid (whole 32-wide tiles even for narrow images)."""
    _check(geom, x.dtype, "forward")
    if not np.isfinite(w).all():
        return gemm.forward(x, w, bias, geom)
    phases = _phases(geom)
    out = np.empty((geom.batch, geom.out_channels, math.prod(geom.out_spatial)), x.dtype)
    bias = np.zeros(geom.out_channels, x.dtype) if bias is None else bias
    packed = gemm.packed_weights(w.reshape(geom.out_channels, -1), geom.groups)
    native.conv_implicit(phases.split(x), packed, phases.tap_offsets, bias, out, geom.groups, phases.grid,
                         phases.out, phases.step, _CHUNK, threads.get_num_threads())
    return out.reshape(geom.output_shape)


def grad_input(grad_out, w, geom):
    """grad_out (N, K, *S_out), w (K, C // groups, *k) -> (N, C, *S)."""
    _check(geom, grad_out.dtype, "grad_input")
    if not np.isfinite(w).all():
        return gemm.grad_input(grad_out, w, geom)
    return planes.transposed_forward(forward, grad_out, w, geom)


def grad_weight(x, grad_out, geom):
    """x (N, C, *S), grad_out (N, K, *S_out) -> (K, C // groups, *k)."""
    _check(geom, x.dtype, "grad_weight")
    n_threads = threads.get_num_threads()
    phases = _phases(geom)
    offsets = phases.tap_offsets
    kg = geom.out_channels // geom.groups
    taps_as_rows = kg >= TAPS_AS_ROWS_FILTERS
    slots = gemm.reduction_slots(n_threads, geom.groups * offsets.size * kg)
    partial = np.zeros((slots, geom.groups) + ((offsets.size, kg) if taps_as_rows else (kg, offsets.size)), x.dtype)
    work = np.empty((n_threads, products.scratch_size(0, _CHUNK, kg)), x.dtype)
    native.conv_implicit_grad_weight(phases.split(x), grad_out.reshape(grad_out.shape[:2] + (-1,)), offsets,
                                     partial, taps_as_rows, phases.grid, phases.out, phases.count(), phases.step,
                                     _CHUNK, work, n_threads)
    partial = partial.sum(axis=0)
    grad = (partial.transpose(0, 2, 1) if taps_as_rows else partial).reshape(geom.weight_shape)
    # An Inf of x met by the grid's zeros comes out as NaN (as does a NaN the exact sums have too): then
    # gemm decides. Checking the small result costs far less than checking x.
    return gemm.grad_weight(x, grad_out, geom) if np.isnan(grad).any() else grad
