"""Direct convolution by Numba kernels (no im2col): any geometry and float dtype, at its best for few channels,
1-D and 3-D, strides and groups where the native kernels (ops.cpu.implicit, ops.cpu.depthwise) do not run.

The input is zero-padded once, flattened per (image, channel) to a volume
V = Dp * Hp * Wp, and each kernel tap becomes a flat offset into it
(ops.cpu.planes.FlatTaps). An output is then a set of rows, row r reading the
input from base[r] on with step `step`, and every tap adds
`weight * input[base[r] + offset[t] + i * step]` to element i of the row, with
no bounds checks:
- stride 1 in every dim: one row per output depth slice, running over Ho * Wp
  (the padded width; the Wp - Wo extra columns are dropped afterwards), so
  rows are long even for 28x28 images;
- otherwise: one row per output (depth, height) line of Wo elements, step = stride along W.

One compiled kernel per dtype for every dim, stride, dilation and group count. Work split (no two threads
write one element): forward, one task per (image, output channel, row, block of the row); grad_input, one
per (image, input channel) volume, scattering every tap; grad_weight, one per (batch chunk, output channel,
input channel), the chunks' partial sums added afterwards so that small K * C still fills the threads.

Non-finite operands: the wide rows hold zeros beside the outputs (grad_out's, in the gradients), which
would meet a non-finite weight (grad_input) or input (grad_weight) in sums that have no such term. So a
non-finite weight sends the forward and grad_input to gemm, whose sums have exactly the reference's terms,
and a NaN in a weight gradient has gemm compute it again.

(ops.select's "direct" family runs the native kernels first where they apply: see CONV_FAMILIES.)
"""
import functools
import math

import numpy as np
from numba import njit, prange

from .. import shapes, threads
from . import gemm
from .cost_model import CALL, padded_extent, parallel
from .planes import FlatTaps

_FLAGS = dict(parallel=True, cache=True, fastmath=True)

# Elements of an output row processed tap after tap while they stay in the L1 cache.
_BLOCK = 2048

# The cost model's rates (seconds, float32, one core; see ops.cpu.cost_model)
DIRECT_MAC = 1 / 20e9           # stride 1: vectorised rows
DIRECT_STRIDED_MAC = 1 / 2.5e9  # stride > 1: gathers
DIRECT_ROW_TAP = 10e-9          # one tap over one row block (slicing, loop setup)


class _Plan(FlatTaps):
    """The flat-offset formulation of one conv geometry (see the module docstring): FlatTaps' padded volume
    read as rows."""

    def __init__(self, geom):
        super().__init__(geom)
        out, stride, (_, hp, wp) = self.out, self.stride, self.padded
        if self.wide:
            self.bases = np.arange(out[0], dtype=np.int64) * hp * wp
            self.row_shape = (out[0], out[1] * wp)
            self.step = 1
        else:
            oz, oy = np.indices(out[:2]).reshape(2, -1)
            self.bases = ((oz * stride[0] * hp + oy * stride[1]) * wp).astype(np.int64)
            self.row_shape = (out[0] * out[1], out[2])
            self.step = stride[2]

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


# A geometry's plan is arrays of offsets computed in Python: tens of microseconds, as long as a small conv.
@functools.lru_cache(maxsize=256)
def _plan(geom):
    return _Plan(geom)


def supports(geom, dtype, op):
    """Every geometry, op ('forward', 'grad_input', 'grad_weight') and float dtype."""
    return dtype in shapes.FLOAT_DTYPES


def cost(op, geom, itemsize, threads):
    """Estimated seconds of one pass: the multiply-adds over wide rows (stride 1) or output lines (strided),
    plus a fixed cost per row and tap; divided by min(threads, its tasks), float64 twice float32."""
    padded = padded_extent(geom)
    out_positions = math.prod(geom.out_spatial)
    taps = geom.in_channels // geom.groups * math.prod(geom.kernel)
    if all(s == 1 for s in geom.stride):
        row = padded[-1] * geom.out_spatial[-2] if geom.nd > 1 else padded[-1]  # wide rows: the padded width
        rows = out_positions // geom.out_spatial[-1] * padded[-1] // row
        macs = geom.batch * geom.out_channels * taps * rows * row
        work = macs * DIRECT_MAC + macs / row * (1 + row // _BLOCK) * DIRECT_ROW_TAP
    else:
        macs = geom.batch * geom.out_channels * taps * out_positions
        work = macs * DIRECT_STRIDED_MAC + macs / geom.out_spatial[-1] * DIRECT_ROW_TAP
    tasks = {"forward": geom.batch * geom.out_channels, "grad_input": geom.batch * geom.in_channels,
             "grad_weight": geom.out_channels * geom.in_channels // geom.groups * geom.batch}[op]
    return CALL + parallel(work * itemsize / 4, tasks, threads)


def forward(x, w, bias, geom):
    """x (N, C, *S), w (K, C // groups, *k), bias (K,) or None -> (N, K, *S_out)."""
    if not np.isfinite(w).all():
        return gemm.forward(x, w, bias, geom)
    plan = _plan(geom)
    rows = np.empty((geom.batch, geom.out_channels) + plan.row_shape, x.dtype)
    bias = np.zeros(geom.out_channels, x.dtype) if bias is None else bias
    _forward(plan.pad_input(x), plan.weights(w), bias, plan.offsets, plan.bases, plan.step, rows)
    return plan.from_rows(rows, geom.output_shape)


def grad_input(grad_out, w, geom):
    """grad_out (N, K, *S_out), w (K, C // groups, *k) -> (N, C, *S)."""
    if not np.isfinite(w).all():
        return gemm.grad_input(grad_out, w, geom)
    plan = _plan(geom)
    grad = np.empty((geom.batch, geom.in_channels, plan.volume), grad_out.dtype)
    _grad_input(plan.to_rows(grad_out), plan.weights(w), plan.offsets, plan.bases, plan.step, grad)
    return plan.crop_input(grad, geom.input_shape)


def grad_weight(x, grad_out, geom):
    """x (N, C, *S), grad_out (N, K, *S_out) -> (K, C // groups, *k)."""
    plan = _plan(geom)
    pairs = geom.out_channels * (geom.in_channels // geom.groups)
    chunks = min(geom.batch, max(1, -(-4 * threads.get_num_threads() // pairs)))
    partial = np.empty((chunks,) + geom.weight_shape[:2] + (len(plan.offsets),), x.dtype)
    _grad_weight(plan.pad_input(x), plan.to_rows(grad_out), plan.offsets, plan.bases, plan.step, partial)
    grad = partial.sum(axis=0).reshape(geom.weight_shape)
    # An Inf of x met by the rows' zeros comes out as NaN (as does a NaN the exact sums have too): then
    # gemm decides. Checking the small result costs far less than checking x.
    return gemm.grad_weight(x, grad_out, geom) if np.isnan(grad).any() else grad
