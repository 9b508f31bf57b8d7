"""Convolution layers through the FFT: for large kernels, where a transform beats kvol multiply-adds per output.

One real FFT (scipy.fft, pocketfft, `workers` threads) per input plane, per
filter plane and per output plane, never one per (input, filter) pair; the
channel sums happen between the transforms, as complex multiply-adds in Numba.
Transforms are of size next_fast_len(padded input) per dim: a correlation of
a signal of that length needs no more, since its valid outputs never wrap.

Stride and dilation are supported exactly but without savings: dilation
inserts zeros into the kernel, stride > 1 computes the stride-1 result and
subsamples it (the gradients upsample grad_out with zeros). The selector only
picks this for stride-1 convs with large kernels.
"""
import math

import numpy as np
import scipy.fft
from numba import njit, prange

from .. import shapes, threads
from .cost_model import CALL, fft_seconds, padded_extent, parallel

# A transform mixes a whole plane into every output: one Inf or NaN makes its whole output plane NaN.
SPREADS_NONFINITE = True

# The cost model's rates (seconds, float32, one core; see ops.cpu.cost_model)
SPECTRAL_MAC = 1.2e-9  # one complex multiply-add between transforms
FFT_BATCHED = 0.5      # a conv transforms many planes per call: cheaper per plane
FFT_CALL = 50e-6       # the fixed part of a conv by FFT (allocations, three transform calls)


def supports(geom, dtype, op):
    """Every geometry, op ('forward', 'grad_input', 'grad_weight') and float dtype."""
    return dtype in shapes.FLOAT_DTYPES


def cost(op, geom, itemsize, threads):
    """Estimated seconds of one pass: one transform per input, filter and output plane, plus the channel sums
    between them; divided by min(threads, its tasks), float64 twice float32."""
    padded = padded_extent(geom)
    cg = geom.in_channels // geom.groups
    transforms = geom.batch * geom.in_channels + geom.out_channels * cg + geom.batch * geom.out_channels
    spectral = geom.batch * geom.out_channels * cg * math.prod(padded) / 2
    work = transforms * fft_seconds(padded) * FFT_BATCHED + spectral * SPECTRAL_MAC
    return CALL + FFT_CALL + parallel(work * itemsize / 4, geom.batch * geom.out_channels, threads)


@njit(parallel=True, cache=True)
def _mix_channels(left, right, out, conj_right):
    """out[a, b] = sum over j of left[a, group(b) * J + j] * right[b, j] (conjugated if conj_right), per bin.

    left (A, groups * J, F), right (B, J, F), out (A, B, F); B splits evenly into the groups.
    """
    A, B, F = out.shape
    J = right.shape[1]
    Bg = B // (left.shape[1] // J)
    for task in prange(A * B):
        a, b = task // B, task % B
        j0 = (b // Bg) * J
        acc = out[a, b]
        acc[:] = 0
        for j in range(J):
            lhs = left[a, j0 + j]
            rhs = right[b, j]
            if conj_right:
                for f in range(F):
                    acc[f] += lhs[f] * rhs[f].conjugate()
            else:
                for f in range(F):
                    acc[f] += lhs[f] * rhs[f]


@njit(parallel=True, cache=True)
def _sum_batch(grad, inputs, out):
    """out[k, c] = sum over n of conj(grad[n, k]) * inputs[n, group(k) * Cg + c], per bin: the weight gradient."""
    K, Cg, F = out.shape
    N, C = inputs.shape[:2]
    Kg = K // (C // Cg)
    for task in prange(K * Cg):
        k, c = task // Cg, task % Cg
        ci = (k // Kg) * Cg + c
        acc = out[k, c]
        acc[:] = 0
        for n in range(N):
            g = grad[n, k]
            x = inputs[n, ci]
            for f in range(F):
                acc[f] += g[f].conjugate() * x[f]


class _Plan:
    """Sizes of one conv geometry's transforms."""

    def __init__(self, geom):
        self.nd = geom.nd
        self.axes = tuple(range(2, 2 + self.nd))
        self.padded = tuple(s + lo + hi for s, (lo, hi) in zip(geom.in_spatial, geom.padding))
        self.fft_shape = tuple(scipy.fft.next_fast_len(p, real=True) for p in self.padded)
        self.span = tuple(d * (k - 1) + 1 for k, d in zip(geom.kernel, geom.dilation))
        self.dense_out = tuple(p - s + 1 for p, s in zip(self.padded, self.span))
        self.upsampled = tuple((o - 1) * s + 1 for o, s in zip(geom.out_spatial, geom.stride))
        self.geom = geom

    def rfft(self, a):
        """(M, M', *spatial) -> (M, M', bins): each plane's spectrum, flattened."""
        spectrum = scipy.fft.rfftn(a, self.fft_shape, axes=self.axes, workers=threads.get_num_threads())
        return spectrum.reshape(a.shape[:2] + (-1,))

    def irfft(self, spectrum, dtype):
        shape = self.fft_shape[:-1] + (self.fft_shape[-1] // 2 + 1,)
        planes = spectrum.reshape(spectrum.shape[:2] + shape)
        out = scipy.fft.irfftn(planes, self.fft_shape, axes=self.axes, workers=threads.get_num_threads())
        return out.astype(dtype, copy=False)

    def padded_input(self, x):
        return np.pad(x, ((0, 0), (0, 0)) + self.geom.padding)

    def weight_spectrum(self, w):
        """Spectra of the (dilated) filter planes, (K, C // groups, bins)."""
        dilated = np.zeros(w.shape[:2] + self.span, w.dtype)
        dilated[(Ellipsis,) + tuple(slice(None, None, d) for d in self.geom.dilation)] = w
        return self.rfft(dilated)

    def upsampled_grad(self, grad_out):
        """grad_out with stride - 1 zeros between its elements: the gradient of the dense stride-1 output."""
        if all(s == 1 for s in self.geom.stride):
            return grad_out
        up = np.zeros(grad_out.shape[:2] + self.upsampled, grad_out.dtype)
        up[(Ellipsis,) + tuple(slice(None, None, s) for s in self.geom.stride)] = grad_out
        return up


def forward(x, w, bias, geom):
    """x (N, C, *S), w (K, C // groups, *k), bias (K,) or None -> (N, K, *S_out)."""
    plan = _Plan(geom)
    inputs, filters = plan.rfft(plan.padded_input(x)), plan.weight_spectrum(w)
    spectrum = np.empty((geom.batch, geom.out_channels, inputs.shape[2]), inputs.dtype)
    _mix_channels(inputs, filters, spectrum, True)
    dense = plan.irfft(spectrum, x.dtype)
    out = dense[(Ellipsis,) + tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(geom.out_spatial, geom.stride))]
    if bias is not None:
        out = out + bias.reshape((-1,) + (1,) * geom.nd)
    return np.ascontiguousarray(out)


def grad_input(grad_out, w, geom):
    """grad_out (N, K, *S_out), w (K, C // groups, *k) -> (N, C, *S)."""
    plan = _Plan(geom)
    grads = plan.rfft(plan.upsampled_grad(grad_out))
    filters = plan.weight_spectrum(w)
    groups, cg = geom.groups, geom.in_channels // geom.groups
    # (K, Cg, bins) -> (C, K // groups, bins): for each input channel, the filters that read it
    by_input = filters.reshape(groups, -1, cg, filters.shape[2]).transpose(0, 2, 1, 3).reshape(geom.in_channels, -1, filters.shape[2])
    spectrum = np.empty((geom.batch, geom.in_channels, grads.shape[2]), grads.dtype)
    _mix_channels(grads, np.ascontiguousarray(by_input), spectrum, False)
    dense = plan.irfft(spectrum, grad_out.dtype)
    crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(geom.in_spatial, geom.padding))
    return np.ascontiguousarray(dense[(Ellipsis,) + crop])


def grad_weight(x, grad_out, geom):
    """x (N, C, *S), grad_out (N, K, *S_out) -> (K, C // groups, *k)."""
    plan = _Plan(geom)
    inputs = plan.rfft(plan.padded_input(x))
    grads = plan.rfft(plan.upsampled_grad(grad_out))
    spectrum = np.empty((geom.out_channels, geom.in_channels // geom.groups, inputs.shape[2]), inputs.dtype)
    _sum_batch(grads, inputs, spectrum)
    lags = plan.irfft(spectrum, x.dtype)
    return np.ascontiguousarray(lags[(Ellipsis,) + tuple(slice(0, s, d) for s, d in zip(plan.span, geom.dilation))])
