"""Overlap-add convolution (like scipy.signal.oaconvolve): a long signal against a much shorter kernel.

in1 is cut into blocks of B samples along each convolved axis; every block is
convolved with in2 through one batched FFT of size F = next_fast_len(B + len(in2) - 1),
and the blocks' results, each len(in2) - 1 longer than the block, are added back
overlapping. F is the fast length that minimises the FFT work per output
sample, F log F / (F - len(in2) + 1); an axis where one block would cover the
whole signal is transformed whole. The other axes lead as a batch whose
lengths broadcast between in1 and in2.
"""
import math

import numpy as np
import scipy.fft

from .fft import axes_plan, spectra_product


def _fft_length(signal, kernel):
    """F for one dim: the cheapest fast length per output sample, or the whole result if blocking does not pay."""
    whole = scipy.fft.next_fast_len(signal + kernel - 1, real=True)
    if kernel == 1 or 2 * (kernel - 1) >= signal:
        return whole
    best, best_cost = whole, math.log2(whole) * whole / signal
    f = scipy.fft.next_fast_len(2 * (kernel - 1) + 1, real=True)
    while f < whole:
        cost = math.log2(f) * f / (f - kernel + 1)
        if cost < best_cost:
            best, best_cost = f, cost
        f = scipy.fft.next_fast_len(f + 1, real=True)
    return best


def block_plan(shape1, shape2):
    """(FFT shape, block shape, blocks per dim) for in1 of shape1 against in2 of shape2."""
    fft_shape = tuple(_fft_length(a, b) for a, b in zip(shape1, shape2))
    blocks = tuple(f - b + 1 if f < a + b - 1 else a for f, a, b in zip(fft_shape, shape1, shape2))
    counts = tuple(-(-a // b) for a, b in zip(shape1, blocks))
    return fft_shape, blocks, counts


def _fold(y, axis, block, full):
    """Overlap-add along one dim: y (..., nb, F, ...) with the block axis at `axis` -> (..., full, ...)."""
    nb, fft_len = y.shape[axis], y.shape[axis + 1]
    lead = (slice(None),) * axis
    if nb == 1:
        return y[lead + (0, slice(0, full))]
    tail = fft_len - block
    out = np.zeros(y.shape[:axis] + (nb + 1, block) + y.shape[axis + 2:], y.dtype)
    out[lead + (slice(0, nb),)] = y[lead + (slice(None), slice(0, block))]
    out[lead + (slice(1, nb + 1), slice(0, tail))] += y[lead + (slice(None), slice(block, fft_len))]
    out = out.reshape(y.shape[:axis] + ((nb + 1) * block,) + y.shape[axis + 2:])
    return out[lead + (slice(0, full),)]


def convolve(in1, in2, mode="full", axes=None):
    """scipy.signal.oaconvolve(in1, in2, mode, axes) by overlap-add along `axes` (all by default); the other
    axes broadcast. Real or complex float arrays, already checked; the result has their common dtype."""
    dtype = np.result_type(in1, in2)
    in1, in2, axes, full_shape, crop = axes_plan(in1, in2, mode, axes)
    if not axes:
        return np.ascontiguousarray((in1 * in2)[crop], dtype=dtype)
    axes = sorted(axes)
    nd, lead = len(axes), in1.ndim - len(axes)
    # the convolved axes last, the others in front as a batch that broadcasts between in1 and in2
    in1 = np.moveaxis(in1, axes, range(lead, in1.ndim))
    in2 = np.moveaxis(in2, axes, range(lead, in2.ndim))
    fft_shape, blocks, counts = block_plan(in1.shape[lead:], in2.shape[lead:])
    padded = np.zeros(in1.shape[:lead] + tuple(n * b for n, b in zip(counts, blocks)), in1.dtype)
    padded[(Ellipsis,) + tuple(slice(0, a) for a in in1.shape[lead:])] = in1
    # (batch, nb0, B0, nb1, B1, ...) -> (batch, nb0, nb1, ..., B0, B1, ...): a batch of blocks
    split = padded.reshape(in1.shape[:lead] + tuple(v for pair in zip(counts, blocks) for v in pair))
    count_axes, sample_axes = tuple(range(lead, lead + 2 * nd, 2)), tuple(range(lead + 1, lead + 2 * nd, 2))
    batch = split.transpose(tuple(range(lead)) + count_axes + sample_axes)
    kernel = in2.reshape(in2.shape[:lead] + (1,) * nd + in2.shape[lead:])
    y = spectra_product(batch, kernel, fft_shape, tuple(range(lead + nd, lead + 2 * nd)))
    # back to (batch, nb0, F0, nb1, F1, ...), then add the overlaps dim by dim, the last first
    pairs = zip(range(lead, lead + nd), range(lead + nd, lead + 2 * nd))
    y = y.transpose(tuple(range(lead)) + tuple(v for pair in pairs for v in pair))
    for dim in reversed(range(nd)):
        y = _fold(y, lead + 2 * dim, blocks[dim], full_shape[axes[dim]])
    y = np.moveaxis(y, range(lead, y.ndim), axes)
    return np.ascontiguousarray(y[crop], dtype=dtype)


# The fixed part of one block's N-D transform in an overlap-add (1-D batches well), in seconds (ops.cpu.cost_model).
FFT_BLOCK = 1e-6


def cost(shape1, shape2, mode, itemsize, threads):
    """Estimated seconds of this method for correlate/convolve(in1, in2, mode) (see ops.cpu.cost_model): two
    transforms per block (and one of in2), then an overlap-add pass over the blocks per dim; infinite for one
    block, where the plain FFT does the same without the extra passes."""
    from .cost_model import CALL, PACK_ELEMENT, fft_seconds, parallel
    if mode == "valid" and any(b > a for a, b in zip(shape1, shape2)):
        shape1, shape2 = shape2, shape1
    fft_shape, _, counts = block_plan(shape1, shape2)
    if math.prod(counts) == 1:
        return math.inf
    size, batch = math.prod(fft_shape), math.prod(counts)
    per_block = fft_seconds(fft_shape) + (FFT_BLOCK if len(shape1) > 1 else 0.0)
    work = (2 * batch + 1) * per_block + 3 * len(shape1) * batch * size * PACK_ELEMENT
    return CALL + parallel(work * itemsize / 4, batch, threads)
