"""Overlap-add convolution (like scipy.signal.oaconvolve): a long signal against a much shorter kernel.

in1 is cut into blocks of B samples per dim; every block is convolved with in2
through one batched FFT of size F = next_fast_len(B + len(in2) - 1), and the
blocks' results, each len(in2) - 1 longer than the block, are added back
overlapping. F is the fast length that minimises the FFT work per output
sample, F log F / (F - len(in2) + 1); a dim where one block would cover the
whole signal is transformed whole.
"""
import math

import numpy as np
import scipy.fft

from .. import shapes
from .fft import spectra_product


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


def convolve(in1, in2, mode="full"):
    """scipy.signal.convolve(in1, in2, mode) of two 1-3-D arrays by overlap-add."""
    if mode == "valid" and any(b > a for a, b in zip(in1.shape, in2.shape)):
        in1, in2 = in2, in1
    nd = in1.ndim
    fft_shape, blocks, counts = block_plan(in1.shape, in2.shape)
    padded = np.zeros(tuple(n * b for n, b in zip(counts, blocks)), in1.dtype)
    padded[tuple(slice(0, a) for a in in1.shape)] = in1
    # (nb0, B0, nb1, B1, ...) -> (nb0, nb1, ..., B0, B1, ...): a batch of blocks
    split = padded.reshape(tuple(v for pair in zip(counts, blocks) for v in pair))
    batch = split.transpose(tuple(range(0, 2 * nd, 2)) + tuple(range(1, 2 * nd, 2)))
    y = spectra_product(batch, in2, fft_shape)
    # back to (nb0, F0, nb1, F1, ...), then add the overlaps dim by dim, the last first
    y = y.transpose(tuple(v for pair in zip(range(nd), range(nd, 2 * nd)) for v in pair))
    full_shape = shapes.signal_output_shape(in1.shape, in2.shape, "full")
    for dim in reversed(range(nd)):
        y = _fold(y, 2 * dim, blocks[dim], full_shape[dim])
    out_shape = shapes.signal_output_shape(in1.shape, in2.shape, mode)
    return np.ascontiguousarray(y[shapes.signal_crop(full_shape, out_shape)], dtype=in1.dtype)
