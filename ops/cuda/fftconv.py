"""Convolution layers through our CUDA FFT (ops.cuda.fft): for large kernels, where a transform beats kvol
multiply-adds per output.

One transform per input plane, per filter plane and per output plane, never one
per (input, filter) pair: the channel sums happen between the transforms as
complex multiply-adds, one thread per (output plane, frequency bin). Transforms
are of the next power of two at least the padded input in every dim: a
correlation over that length has valid outputs that never wrap around.

Stride and dilation are exact but bring no savings: dilation spreads the kernel
out with zeros, stride > 1 computes the stride-1 result and subsamples it, and
the gradients spread grad_out out with zeros. Same interface as ops.reference.conv.
"""
import math

from numba import cuda

from . import arrays, elementwise, fft


class _Plan:
    """Transform sizes of one conv geometry, and its arrays' spectra."""

    def __init__(self, geom, dtype):
        padded = tuple(s + lo + hi for s, (lo, hi) in zip(geom.in_spatial, geom.padding))
        self.size = tuple(arrays.next_pow2(p) for p in padded)
        self.lead = tuple(lo for lo, _ in geom.padding)
        self.origin = (0,) * geom.nd
        self.ones = (1,) * geom.nd
        self.scale = 1.0 / math.prod(self.size)
        self.complex = fft.COMPLEX[dtype]
        self.geom = geom

    def spectra(self, a, lead, step):
        """a (M, M', *S) real -> (M, M', bins) complex: each plane spread out by `step` from `lead` on, transformed."""
        planes = fft.transform(arrays.spread(a, self.size, lead, step, self.complex), batch_dims=2)
        return planes.reshape(tuple(a.shape[:2]) + (math.prod(self.size),))

    def real(self, spectra, spatial, lead, step, dtype):
        """(M, M', bins) spectra -> (M, M', *spatial): the inverse transforms, sampled from lead on, step apart."""
        planes = fft.transform(spectra.reshape(tuple(spectra.shape[:2]) + self.size), inverse=True, batch_dims=2)
        return fft.real_window(planes, spatial, lead, step, self.scale, dtype)


@cuda.jit(device=True)
def _bin(i, shape):
    f = i % shape[2]
    return i // (shape[2] * shape[1]), (i // shape[2]) % shape[1], f


@cuda.jit(cache=True)
def _mix_forward(inputs, filters, out):
    # out[n, k, f] = sum over the channels c of k's group of inputs[n, c, f] * conj(filters[k, c - c0, f])
    i = cuda.grid(1)
    if i >= out.size:
        return
    n, k, f = _bin(i, out.shape)
    channels_per_group = filters.shape[1]
    kernels_per_group = out.shape[1] // (inputs.shape[1] // channels_per_group)
    c0 = (k // kernels_per_group) * channels_per_group
    acc = cuda.local.array(1, out.dtype)
    acc[0] = 0
    for j in range(channels_per_group):
        acc[0] += inputs[n, c0 + j, f] * filters[k, j, f].conjugate()
    out[n, k, f] = acc[0]


@cuda.jit(cache=True)
def _mix_grad_input(grads, filters, out):
    # out[n, c, f] = sum over the kernels k of c's group of grads[n, k, f] * filters[k, c - c0, f]
    i = cuda.grid(1)
    if i >= out.size:
        return
    n, c, f = _bin(i, out.shape)
    channels_per_group = filters.shape[1]
    kernels_per_group = filters.shape[0] // (out.shape[1] // channels_per_group)
    g = c // channels_per_group
    acc = cuda.local.array(1, out.dtype)
    acc[0] = 0
    for k in range(g * kernels_per_group, (g + 1) * kernels_per_group):
        acc[0] += grads[n, k, f] * filters[k, c % channels_per_group, f]
    out[n, c, f] = acc[0]


@cuda.jit(cache=True)
def _mix_grad_weight(inputs, grads, out):
    # out[k, j, f] = sum over the batch n of inputs[n, c0 + j, f] * conj(grads[n, k, f])
    i = cuda.grid(1)
    if i >= out.size:
        return
    k, j, f = _bin(i, out.shape)
    channels_per_group = out.shape[1]
    kernels_per_group = out.shape[0] // (inputs.shape[1] // channels_per_group)
    c = (k // kernels_per_group) * channels_per_group + j
    acc = cuda.local.array(1, out.dtype)
    acc[0] = 0
    for n in range(inputs.shape[0]):
        acc[0] += inputs[n, c, f] * grads[n, k, f].conjugate()
    out[k, j, f] = acc[0]


def _mixed(kernel, left, right, planes, plan):
    out = arrays.empty(planes + (left.shape[2],), plan.complex)
    kernel[arrays.grid(out.size)](left, right, out)
    return out


def forward(x, w, bias, geom):
    plan = _Plan(geom, x.dtype)
    inputs = plan.spectra(x, plan.lead, plan.ones)
    filters = plan.spectra(w, plan.origin, geom.dilation)
    spectra = _mixed(_mix_forward, inputs, filters, (geom.batch, geom.out_channels), plan)
    out = plan.real(spectra, geom.out_spatial, plan.origin, geom.stride, x.dtype)
    return out if bias is None else elementwise.bias_add(out, bias, out=out)


def grad_input(grad_out, w, geom):
    plan = _Plan(geom, grad_out.dtype)
    grads = plan.spectra(grad_out, plan.origin, geom.stride)
    filters = plan.spectra(w, plan.origin, geom.dilation)
    spectra = _mixed(_mix_grad_input, grads, filters, (geom.batch, geom.in_channels), plan)
    return plan.real(spectra, geom.in_spatial, plan.lead, plan.ones, grad_out.dtype)


def grad_weight(x, grad_out, geom):
    plan = _Plan(geom, x.dtype)
    inputs = plan.spectra(x, plan.lead, plan.ones)
    grads = plan.spectra(grad_out, plan.origin, geom.stride)
    spectra = _mixed(_mix_grad_weight, inputs, grads, (geom.out_channels, geom.in_channels // geom.groups), plan)
    return plan.real(spectra, geom.kernel, plan.origin, geom.dilation, x.dtype)
