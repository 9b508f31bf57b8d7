"""Direct convolution (no im2col): first layers, depthwise and grouped convs, 1-D and 3-D, and, in float32
on AVX-512 CPUs, every stride-1 conv with 4 or more filters per group.

The input is zero-padded once, flattened per (image, channel) to a volume
V = Dp * Hp * Wp, and each kernel tap becomes a flat offset into it. An output
is then a set of rows, row r reading the input from base[r] on with step
`step`, and every tap adds `weight * input[base[r] + offset[t] + i * step]` to
element i of the row, with no bounds checks:
- stride 1 in every dim: one row per output depth slice, running over Ho * Wp
  (the padded width; the Wp - Wo extra columns are dropped afterwards), so
  rows are long even for 28x28 images;
- otherwise: one row per output (depth, height) line of Wo elements, step = stride along W.

Three engines compute the direct algorithm:
- the native implicit GEMM (ops/_native: sgemm.h's 8 x 32 register tile reading
  the taps in place), float32 stride-1 convs with >= 4 filters per group: the
  forward, the weight gradient (the taps packed, or read in place where
  there are many filters), and the input
  gradient as the forward of grad_out with the flipped, transposed kernel;
- the native depthwise kernels (float32, stride 1): the forward reads the unpadded input and masks the
  taps that fall in the padding (it does so little work per element that a padded copy of the input
  cost as much as the conv); the weight gradient, one correlation per (filter, channel) pair, also
  serves convs with few pairs (first layers) and, for depthwise ones, pads each plane into a per-thread
  buffer as it goes;
- Numba kernels for the rest (float64, strides, depthwise), one compiled
  kernel per dtype for every dim, stride, dilation and group count. Work split
  (no two threads write one element): forward, one task per (image, output
  channel, row, block of the row); grad_input, one per (image, input channel)
  volume, scattering every tap; grad_weight, one per (batch chunk, output
  channel, input channel), the chunks' partial sums added afterwards so that
  small K * C still fills the threads.

Non-finite operands: the reference multiplies the zero padding too (0 * Inf = NaN), as gemm does, where the
depthwise forward skips the padded taps; and the wide rows and the implicit GEMM's grid hold zeros beside
the outputs (grad_out's, in the gradients), which would meet a non-finite weight (grad_input) or input
(grad_weight) in sums that have no such term. So a non-finite weight sends the call to gemm, whose sums have
exactly the reference's terms, and so does a NaN in a weight gradient.
"""
import functools
import math

import numpy as np
from numba import njit, prange

from .. import shapes, threads
from .._native import depthwise, implicit, padding, products
from . import gemm

_FLAGS = dict(parallel=True, cache=True, fastmath=True)

# Elements of an output row processed tap after tap while they stay in the L1 cache.
_BLOCK = 2048

# Up to this many (filter, channel, tap) triples, and with fewer than TAPS_AS_ROWS_FILTERS filters per group,
# a stride-1 weight gradient is one correlation per (filter, channel) pair (16 taps in registers, no packing)
# rather than the implicit GEMM: first layers. At 2 threads LeNet's first layer (150, 6 filters) takes 0.19 ms
# this way against 0.39; the bench's 3-D conv (864, 8 filters) 1.3 against 1.1; MNIST-1D's (160, 32 filters)
# 0.052 against 0.034 on the implicit GEMM with the taps read in place.
FEW_PAIR_TAPS = 256

# From this many filters per group, the implicit weight gradient reads the taps in place as the rows of its
# product and packs grad_out (n = filters wide), rather than packing the taps: 30 % faster on res3x3 (64
# filters), 13-45 % slower with 8-16 filters (vol3d, lenet2), which fill too little of the kernel's 32 columns.
TAPS_AS_ROWS_FILTERS = 32


def _planes(x):
    """(N, C, *S) -> (N * C, D, H, W), 1-D and 2-D planes as D = H = 1 or D = 1."""
    return x.reshape((x.shape[0] * x.shape[1],) + (1,) * (5 - x.ndim) + x.shape[2:])


def padded_planes(x, lows, phases, volume):
    """(N, C, *S) -> (N, C, volume): each plane zero-padded with the input at `lows`, split into the stride
    phases (sd, sh, Dq, Hq, Wr) (see _Phases; (1, 1, D, H, W) pads only), flattened, zeros to the end."""
    planes = np.empty(x.shape[:2] + (volume,), x.dtype)
    padding.pad_planes(_planes(x), planes.reshape(-1, volume), lows, phases, threads.get_num_threads())
    return planes


class _Plan:
    """The flat-offset formulation of one conv geometry (see the module docstring)."""

    def __init__(self, geom):
        nd = geom.nd
        fill = 3 - nd
        self.kernel = (1,) * fill + geom.kernel
        stride = (1,) * fill + geom.stride
        dilation = (1,) * fill + geom.dilation
        pads = ((0, 0),) * fill + geom.padding
        out = (1,) * fill + geom.out_spatial
        # pad after as far as the last window reaches (at least the requested padding, for the crop)
        self.pads = tuple((lo, max(hi, (o - 1) * s + d * (k - 1) + 1 - size - lo))
                          for (lo, hi), o, s, d, k, size in
                          zip(pads, out, stride, dilation, self.kernel, (1,) * fill + geom.in_spatial))
        self.padded = tuple(size + lo + hi for size, (lo, hi) in zip((1,) * fill + geom.in_spatial, self.pads))
        self.lows = tuple(lo for lo, _ in self.pads)
        dp, hp, wp = self.padded
        taps = np.indices(self.kernel).reshape(3, -1)
        self.offsets = ((taps[0] * dilation[0] * hp + taps[1] * dilation[1]) * wp + taps[2] * dilation[2]).astype(np.int64)
        self.wide = all(s == 1 for s in stride)
        # a wide row's last extra columns read past the volume's end by up to this much: keep it as zeros
        self.slack = (self.kernel[2] - 1) * dilation[2] if self.wide else 0
        self.volume = dp * hp * wp + self.slack
        self.out = out
        if self.wide:
            self.bases = np.arange(out[0], dtype=np.int64) * hp * wp
            self.row_shape = (out[0], out[1] * wp)
            self.step = 1
        else:
            oz, oy = np.indices(out[:2]).reshape(2, -1)
            self.bases = ((oz * stride[0] * hp + oy * stride[1]) * wp).astype(np.int64)
            self.row_shape = (out[0] * out[1], out[2])
            self.step = stride[2]

    def pad_input(self, x):
        """(N, C, *S) -> (N, C, volume): zero-padded, flattened, followed by the slack."""
        return padded_planes(x, self.lows, (1, 1) + self.padded, self.volume)

    def crop_view(self, xp):
        """The input's cells inside a padded (N, C, volume) array, as an (N, C, D, H, W) view."""
        five = xp[:, :, :self.volume - self.slack].reshape(xp.shape[:2] + self.padded)
        return five[(Ellipsis,) + tuple(slice(lo, p - hi) for (lo, hi), p in zip(self.pads, self.padded))]

    def crop_input(self, xp, shape):
        """(N, C, volume) -> (N, C, *S): the inverse of pad_input."""
        return np.ascontiguousarray(self.crop_view(xp)).reshape(shape)

    def to_rows(self, out):
        """(N, K, *S_out) -> (N, K, rows, row length), zero in the extra columns of wide rows."""
        n, k = out.shape[:2]
        if not self.wide:
            return out.reshape((n, k) + self.row_shape)
        out4 = out.reshape((n, k) + self.out)
        extra = self.padded[2] - self.out[2]
        return np.pad(out4, ((0, 0),) * 4 + ((0, extra),)).reshape((n, k) + self.row_shape)

    def from_rows(self, rows, shape):
        if not self.wide:
            return rows.reshape(shape)
        wide = rows.reshape(rows.shape[:2] + self.out[:2] + (self.padded[2],))
        return np.ascontiguousarray(wide[..., :self.out[2]]).reshape(shape)

    def weights(self, w):
        return w.reshape(w.shape[:2] + (-1,))


@njit(**_FLAGS)
def _forward(xp, w, bias, offsets, bases, step, out):
    """out[n, k, r, i] = bias[k] + sum over c, t of w[k, c, t] * xp[n, c0 + c, bases[r] + offsets[t] + i * step]."""
    N, C, _ = xp.shape
    K, Cg, T = w.shape
    R, L = out.shape[2:]
    Kg = K // (C // Cg)
    blocks = (L + _BLOCK - 1) // _BLOCK
    for task in prange(N * K * R * blocks):
        n, k, r, start = task // (K * R * blocks), (task // (R * blocks)) % K, (task // blocks) % R, (task % blocks) * _BLOCK
        c0 = (k // Kg) * Cg
        size = min(_BLOCK, L - start)
        row = out[n, k, r, start:start + size]
        row[:] = bias[k]
        for c in range(Cg):
            plane = xp[n, c0 + c]
            for t in range(T):
                wv = w[k, c, t]
                at = bases[r] + offsets[t] + start * step
                if step == 1:
                    src = plane[at:at + size]
                    for i in range(size):
                        row[i] += wv * src[i]
                else:
                    strided = plane[at:at + (size - 1) * step + 1:step]
                    for i in range(size):
                        row[i] += wv * strided[i]


@njit(**_FLAGS)
def _grad_input(grad_rows, w, offsets, bases, step, grad):
    """grad[n, c, bases[r] + offsets[t] + i * step] += w[k, c, t] * grad_rows[n, k, r, i]; grad (N, C, V)."""
    N, C, _ = grad.shape
    K, Cg, T = w.shape
    R, L = grad_rows.shape[2:]
    Kg = K // (C // Cg)
    for task in prange(N * C):
        n, c = task // C, task % C
        k0, cg = (c // Cg) * Kg, c % Cg
        plane = grad[n, c]
        plane[:] = 0
        for k in range(k0, k0 + Kg):
            for r in range(R):
                for start in range(0, L, _BLOCK):
                    size = min(_BLOCK, L - start)
                    src = grad_rows[n, k, r, start:start + size]
                    for t in range(T):
                        wv = w[k, cg, t]
                        at = bases[r] + offsets[t] + start * step
                        if step == 1:
                            dst = plane[at:at + size]
                            for i in range(size):
                                dst[i] += wv * src[i]
                        else:
                            strided = plane[at:at + (size - 1) * step + 1:step]
                            for i in range(size):
                                strided[i] += wv * src[i]


@njit(**_FLAGS)
def _grad_weight(xp, grad_rows, offsets, bases, step, partial):
    """partial[chunk, k, c, t] = sum over images n = chunk, chunk + chunks, ... of the tap's dot products."""
    N, C, _ = xp.shape
    chunks, K, Cg, T = partial.shape
    R, L = grad_rows.shape[2:]
    Kg = K // (C // Cg)
    for task in prange(chunks * K * Cg):
        chunk, k, c = task // (K * Cg), (task // Cg) % K, task % Cg
        taps = partial[chunk, k, c]
        taps[:] = 0
        ci = (k // Kg) * Cg + c
        for n in range(chunk, N, chunks):
            plane = xp[n, ci]
            for r in range(R):
                for start in range(0, L, _BLOCK):
                    size = min(_BLOCK, L - start)
                    g = grad_rows[n, k, r, start:start + size]
                    for t in range(T):
                        at = bases[r] + offsets[t] + start * step
                        total = taps.dtype.type(0)
                        if step == 1:
                            src = plane[at:at + size]
                            for i in range(size):
                                total += g[i] * src[i]
                        else:
                            strided = plane[at:at + (size - 1) * step + 1:step]
                            for i in range(size):
                                total += g[i] * strided[i]
                        taps[t] += total


def _native_kind(geom, dtype, op):
    """Which native kernel computes this forward or weight gradient: 'depthwise' (one channel per filter,
    stride 1), 'implicit' (the implicit GEMM, >= 4 filters per group, a stride of 1 or 2 along W), or None
    (the Numba kernels). Native kernels need float32 and an AVX-512 CPU."""
    if dtype != np.float32 or not products.fast_sgemm():
        return None
    stride_one = all(s == 1 for s in geom.stride)
    if geom.groups == geom.in_channels == geom.out_channels:
        return "depthwise" if stride_one else None
    if geom.out_channels // geom.groups < 4:
        return None
    return "implicit" if stride_one or geom.stride[-1] <= 2 else None


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
        return padded_planes(x, self.lows, self.phases, self.volume)

    def count(self):
        """One past the grid position of the last output."""
        (do, ho, wo), (_, hq, wq) = self.out, self.grid
        return (do - 1) * hq * wq + (ho - 1) * wq + wo


# A geometry's plan is arrays of offsets computed in Python: tens of microseconds, as long as a small conv.
@functools.lru_cache(maxsize=256)
def _plan(geom):
    return _Plan(geom)


@functools.lru_cache(maxsize=256)
def _phases(geom):
    return _Phases(geom)


def _native_forward(x, w, bias, geom, kind):
    """The forward by a native kernel, straight into the output: depthwise row by row from the unpadded input;
    the implicit GEMM over the positions of the phase grid (whole 32-wide tiles even for narrow images)."""
    n_threads = threads.get_num_threads()
    out = np.empty((geom.batch, geom.out_channels, math.prod(geom.out_spatial)), x.dtype)
    bias = np.zeros(geom.out_channels, x.dtype) if bias is None else bias
    if kind == "depthwise":
        fill = (1,) * (3 - geom.nd)
        depthwise.conv_depthwise(x.reshape(out.shape[:2] + (-1,)), w.reshape(geom.out_channels, -1), bias, out,
                                 fill + geom.in_spatial, fill + geom.out_spatial, fill + geom.kernel,
                                 fill + geom.dilation, (0,) * len(fill) + tuple(lo for lo, _ in geom.padding),
                                 n_threads)
        return out.reshape(geom.output_shape)
    phases = _phases(geom)
    w2 = w.reshape(geom.out_channels, -1)
    packed = gemm.packed_weights(w2, geom.groups)
    implicit.conv_implicit(phases.split(x), packed, phases.tap_offsets, bias, out, geom.groups, phases.grid,
                           phases.out, phases.step, _BLOCK, n_threads)
    return out.reshape(geom.output_shape)


def forward(x, w, bias, geom):
    """x (N, C, *S), w (K, C // groups, *k), bias (K,) or None -> (N, K, *S_out)."""
    if not np.isfinite(w).all():
        return gemm.forward(x, w, bias, geom)
    kind = _native_kind(geom, x.dtype, "forward")
    if kind:
        return _native_forward(x, w, bias, geom, kind)
    plan = _plan(geom)
    rows = np.empty((geom.batch, geom.out_channels) + plan.row_shape, x.dtype)
    bias = np.zeros(geom.out_channels, x.dtype) if bias is None else bias
    _forward(plan.pad_input(x), plan.weights(w), bias, plan.offsets, plan.bases, plan.step, rows)
    return plan.from_rows(rows, geom.output_shape)


def transposed_weights(w, geom):
    """w (K, C // groups, *k) flipped in space, its channel axes swapped within each group: (C, K // groups, *k),
    the weights of the transposed geometry (see transposed_geometry)."""
    groups, kg, cg = geom.groups, geom.out_channels // geom.groups, geom.in_channels // geom.groups
    flipped = np.flip(w, axis=tuple(range(2, 2 + geom.nd))).reshape((groups, kg, cg) + geom.kernel)
    return np.ascontiguousarray(flipped.swapaxes(1, 2)).reshape((geom.in_channels, kg) + geom.kernel)


def transposed_geometry(geom):
    """The input gradient of a stride-1 conv is the stride-1 conv of grad_out with the kernel flipped and its
    channel axes swapped within each group, padded by span - padding: its geometry, and the crop of grad_out
    where that padding is negative."""
    spans = [d * (k - 1) for k, d in zip(geom.kernel, geom.dilation)]
    pads = [(span - lo, span - hi) for span, (lo, hi) in zip(spans, geom.padding)]
    crop = tuple(slice(max(0, -lo), size - max(0, -hi)) for (lo, hi), size in zip(pads, geom.out_spatial))
    spatial = tuple(c.stop - c.start for c in crop)
    pads = tuple((max(0, lo), max(0, hi)) for lo, hi in pads)
    return crop, shapes.ConvGeometry(geom.batch, geom.out_channels, geom.in_channels, geom.groups, spatial,
                                     geom.kernel, geom.stride, pads, geom.dilation, geom.in_spatial)


def grad_input(grad_out, w, geom):
    """grad_out (N, K, *S_out), w (K, C // groups, *k) -> (N, C, *S)."""
    if not np.isfinite(w).all():
        return gemm.grad_input(grad_out, w, geom)
    plan = _plan(geom)
    if plan.wide:
        crop, transposed = transposed_geometry(geom)
        kind = _native_kind(transposed, grad_out.dtype, "forward")
        if kind:
            g = np.ascontiguousarray(grad_out[(Ellipsis,) + crop])
            return _native_forward(g, transposed_weights(w, geom), None, transposed, kind)
    grad = np.empty((geom.batch, geom.in_channels, plan.volume), grad_out.dtype)
    _grad_input(plan.to_rows(grad_out), plan.weights(w), plan.offsets, plan.bases, plan.step, grad)
    return plan.crop_input(grad, geom.input_shape)


def grad_weight(x, grad_out, geom):
    """x (N, C, *S), grad_out (N, K, *S_out) -> (K, C // groups, *k)."""
    plan = _plan(geom)
    kind = _native_kind(geom, x.dtype, "grad_weight")
    n_threads = threads.get_num_threads()
    pairs = geom.out_channels * (geom.in_channels // geom.groups)
    few_pairs = pairs * len(plan.offsets) <= FEW_PAIR_TAPS and geom.out_channels // geom.groups < TAPS_AS_ROWS_FILTERS
    if kind == "depthwise" or (kind == "implicit" and plan.wide and few_pairs):
        grad = np.zeros((geom.out_channels, pairs // geom.out_channels * len(plan.offsets)), x.dtype)
        if kind == "depthwise":  # each plane read once: padded as it is read
            planes, work = _planes(x), np.empty((n_threads, plan.volume), x.dtype)
        else:  # planes shared by several filters: padded once
            planes, work = plan.pad_input(x).reshape(-1, 1, 1, plan.volume), np.empty((0, 0), x.dtype)
        depthwise.conv_pairs_grad_weight(planes, grad_out.reshape(grad_out.shape[:2] + (-1,)), plan.offsets, grad,
                                         geom.groups, plan.lows, plan.padded, plan.out, work, n_threads)
        return grad.reshape(geom.weight_shape)
    grad = _grid_grad_weight(x, grad_out, geom, plan, kind, n_threads)
    # An Inf of x met by the grid's zeros comes out as NaN (as does a NaN the exact sums have too): then
    # gemm decides. Checking the small result costs far less than checking x.
    return gemm.grad_weight(x, grad_out, geom) if np.isnan(grad).any() else grad


def _grid_grad_weight(x, grad_out, geom, plan, kind, n_threads):
    """The weight gradient over the position grid: the implicit GEMM, or the Numba kernels' wide rows."""
    if kind == "implicit":  # products of the taps, from the input, with grad_out on the grid
        phases = _phases(geom)
        offsets = phases.tap_offsets
        kg = geom.out_channels // geom.groups
        taps_as_rows = kg >= TAPS_AS_ROWS_FILTERS
        slots = gemm.reduction_slots(n_threads, geom.groups * offsets.size * kg)
        partial = np.zeros((slots, geom.groups) + ((offsets.size, kg) if taps_as_rows else (kg, offsets.size)),
                           x.dtype)
        work = np.empty((n_threads, products.scratch_size(0, _BLOCK, kg)), x.dtype)
        implicit.conv_implicit_grad_weight(phases.split(x), grad_out.reshape(grad_out.shape[:2] + (-1,)), offsets,
                                           partial, taps_as_rows, phases.grid, phases.out, phases.count(), phases.step,
                                           _BLOCK, work, n_threads)
        partial = partial.sum(axis=0)
        return (partial.transpose(0, 2, 1) if taps_as_rows else partial).reshape(geom.weight_shape)
    pairs = geom.out_channels * (geom.in_channels // geom.groups)
    chunks = min(geom.batch, max(1, -(-4 * n_threads // pairs)))
    partial = np.empty((chunks,) + geom.weight_shape[:2] + (len(plan.offsets),), x.dtype)
    _grad_weight(plan.pad_input(x), plan.to_rows(grad_out), plan.offsets, plan.bases, plan.step, partial)
    return partial.sum(axis=0).reshape(geom.weight_shape)

