"""Pooling on the GPU: max (with indices), average and blur-pool, forward and backward.

Same functions and signatures as ops.reference.pool, on device arrays. The
forward kernels run one thread per output element; the backward kernels one
thread per input element, gathering the windows that cover it (no atomics,
deterministic, overlapping windows included). Blur-pool is a reflect pad and a
depthwise direct convolution with the binomial filter; its gradient the
convolution's grad_input folded back through the pad.
"""
import functools

import numpy as np
from numba import cuda

from .. import shapes
from . import arrays, direct
from .indexing import covering_window, unravel5


def _args(geom):
    return (arrays.three(geom.kernel, 1), arrays.three(geom.stride, 1), arrays.three(geom.padding, 0),
            arrays.three(geom.dilation, 1))


@cuda.jit(cache=True)
def _max_pool(x, out, indices, kernel, stride, pad, dilation):
    i = cuda.grid(1)
    if i >= out.size:
        return
    n, c, od, oh, ow = unravel5(i, out.shape)
    best = cuda.local.array(1, x.dtype)
    best_index = -1
    for a in range(kernel[0]):
        d = od * stride[0] - pad[0] + a * dilation[0]
        if d < 0 or d >= x.shape[2]:
            continue
        for b in range(kernel[1]):
            h = oh * stride[1] - pad[1] + b * dilation[1]
            if h < 0 or h >= x.shape[3]:
                continue
            for q in range(kernel[2]):
                w = ow * stride[2] - pad[2] + q * dilation[2]
                if w < 0 or w >= x.shape[4]:
                    continue
                v = x[n, c, d, h, w]
                # the first maximum wins, and the first NaN over any number, as np.argmax does
                if best_index < 0 or v > best[0] or (v != v and best[0] == best[0]):
                    best[0] = v
                    best_index = (d * x.shape[3] + h) * x.shape[4] + w
    out[n, c, od, oh, ow] = best[0]
    indices[n, c, od, oh, ow] = best_index


def max_pool(x, geom):
    """Returns (out, indices): the window maxima and their flat positions in the input plane (int64)."""
    out = arrays.empty(geom.output_shape, x.dtype)
    indices = arrays.empty(geom.output_shape, np.int64)
    _max_pool[arrays.grid(out.size)](arrays.five_d(x), arrays.five_d(out), arrays.five_d(indices), *_args(geom))
    return out, indices


@cuda.jit(cache=True)
def _max_pool_grad(grad_out, indices, grad_x, kernel, stride, pad, dilation):
    i = cuda.grid(1)
    if i >= grad_x.size:
        return
    n, c, d, h, w = unravel5(i, grad_x.shape)
    here = (d * grad_x.shape[3] + h) * grad_x.shape[4] + w
    acc = cuda.local.array(1, grad_x.dtype)
    acc[0] = 0
    for tap in range(kernel[0] * kernel[1] * kernel[2]):
        od, oh, ow = covering_window(tap, d, h, w, kernel, stride, pad, dilation,
                                     grad_out.shape[2], grad_out.shape[3], grad_out.shape[4])
        if od >= 0 and indices[n, c, od, oh, ow] == here:
            acc[0] += grad_out[n, c, od, oh, ow]
    grad_x[n, c, d, h, w] = acc[0]


def max_pool_grad_input(grad_out, indices, geom):
    grad_x = arrays.empty(geom.input_shape, grad_out.dtype)
    _max_pool_grad[arrays.grid(grad_x.size)](arrays.five_d(grad_out), arrays.five_d(indices), arrays.five_d(grad_x),
            *_args(geom))
    return grad_x


@cuda.jit(device=True)
def _window_count(o, kernel, stride, pad, size, include_pad):
    """Elements of window o along one dim that the average divides by (PyTorch's rule)."""
    start = o * stride - pad
    end = min(start + kernel, size + pad)
    if include_pad:
        return end - start
    return min(end, size) - max(start, 0)


@cuda.jit(device=True)
def _avg_divisor(od, oh, ow, kernel, stride, pad, x_shape, include_pad):
    return (_window_count(od, kernel[0], stride[0], pad[0], x_shape[2], include_pad)
            * _window_count(oh, kernel[1], stride[1], pad[1], x_shape[3], include_pad)
            * _window_count(ow, kernel[2], stride[2], pad[2], x_shape[4], include_pad))


@cuda.jit(cache=True)
def _avg_pool(x, out, kernel, stride, pad, include_pad):
    i = cuda.grid(1)
    if i >= out.size:
        return
    n, c, od, oh, ow = unravel5(i, out.shape)
    acc = cuda.local.array(1, x.dtype)
    acc[0] = 0
    for a in range(kernel[0]):
        d = od * stride[0] - pad[0] + a
        for b in range(kernel[1]):
            h = oh * stride[1] - pad[1] + b
            for q in range(kernel[2]):
                w = ow * stride[2] - pad[2] + q
                if 0 <= d < x.shape[2] and 0 <= h < x.shape[3] and 0 <= w < x.shape[4]:
                    acc[0] += x[n, c, d, h, w]
    divisor = cuda.local.array(1, x.dtype)     # divide in x's precision, not in the int's float64
    divisor[0] = _avg_divisor(od, oh, ow, kernel, stride, pad, x.shape, include_pad)
    out[n, c, od, oh, ow] = acc[0] / divisor[0]


def avg_pool(x, geom, count_include_pad=True):
    out = arrays.empty(geom.output_shape, x.dtype)
    kernel, stride, pad, _ = _args(geom)
    _avg_pool[arrays.grid(out.size)](arrays.five_d(x), arrays.five_d(out), kernel, stride, pad, bool(count_include_pad))
    return out


@cuda.jit(cache=True)
def _avg_pool_grad(grad_out, grad_x, kernel, stride, pad, include_pad):
    i = cuda.grid(1)
    if i >= grad_x.size:
        return
    n, c, d, h, w = unravel5(i, grad_x.shape)
    acc = cuda.local.array(1, grad_x.dtype)
    acc[0] = 0
    divisor = cuda.local.array(1, grad_x.dtype)
    for tap in range(kernel[0] * kernel[1] * kernel[2]):
        od, oh, ow = covering_window(tap, d, h, w, kernel, stride, pad, (1, 1, 1),
                                     grad_out.shape[2], grad_out.shape[3], grad_out.shape[4])
        if od >= 0:
            divisor[0] = _avg_divisor(od, oh, ow, kernel, stride, pad, grad_x.shape, include_pad)
            acc[0] += grad_out[n, c, od, oh, ow] / divisor[0]
    grad_x[n, c, d, h, w] = acc[0]


def avg_pool_grad_input(grad_out, geom, count_include_pad=True):
    grad_x = arrays.empty(geom.input_shape, grad_out.dtype)
    kernel, stride, pad, _ = _args(geom)
    _avg_pool_grad[arrays.grid(grad_x.size)](arrays.five_d(grad_out), arrays.five_d(grad_x), kernel, stride, pad,
            bool(count_include_pad))
    return grad_x


@functools.lru_cache(maxsize=64)
def _blur_weight(filt_size, nd, dtype, channels):
    """The depthwise binomial weight (channels, 1, *filt), uploaded once per shape and dtype."""
    filt = shapes.blur_filter(filt_size, nd, dtype)
    return cuda.to_device(np.ascontiguousarray(np.broadcast_to(filt, (channels, 1) + filt.shape)))


@cuda.jit(device=True)
def _reflect(u, size):
    """np.pad(mode='reflect') along one dim: the input position that position u (in unpadded coordinates) copies."""
    if u < 0:
        return -u
    if u >= size:
        return 2 * (size - 1) - u
    return u


@cuda.jit(cache=True)
def _reflect_pad(x, padded, lead):
    i = cuda.grid(1)
    if i >= padded.size:
        return
    n, c, d, h, w = unravel5(i, padded.shape)
    padded[n, c, d, h, w] = x[n, c, _reflect(d - lead[0], x.shape[2]), _reflect(h - lead[1], x.shape[3]),
                              _reflect(w - lead[2], x.shape[4])]


@cuda.jit(device=True)
def _mirror_sources(i, lead, size, padded_size):
    """The padded positions whose reflect pad reads input position i along one dim (-1 where none):
    i itself shifted by the lead, its mirror in the leading pad and its mirror in the trailing pad."""
    left = lead - i
    right = lead + 2 * (size - 1) - i
    return (i + lead, left if i >= 1 and left >= 0 else -1,
            right if i <= size - 2 and right >= lead + size and right < padded_size else -1)


@cuda.jit(cache=True)
def _reflect_pad_grad(grad_padded, grad_x, lead):
    i = cuda.grid(1)
    if i >= grad_x.size:
        return
    n, c, d, h, w = unravel5(i, grad_x.shape)
    depths = _mirror_sources(d, lead[0], grad_x.shape[2], grad_padded.shape[2])
    rows = _mirror_sources(h, lead[1], grad_x.shape[3], grad_padded.shape[3])
    cols = _mirror_sources(w, lead[2], grad_x.shape[4], grad_padded.shape[4])
    acc = cuda.local.array(1, grad_x.dtype)
    acc[0] = 0
    for pd in depths:
        for ph in rows:
            for pw in cols:
                if pd >= 0 and ph >= 0 and pw >= 0:
                    acc[0] += grad_padded[n, c, pd, ph, pw]
    grad_x[n, c, d, h, w] = acc[0]


def blur_pool(x, filt_size, stride):
    pads, geom = shapes.blur_geometry(tuple(x.shape), filt_size, stride)
    padded = arrays.empty(geom.input_shape, x.dtype)
    lead = arrays.three((pads[0],) * geom.nd, 0)
    _reflect_pad[arrays.grid(padded.size)](arrays.five_d(x), arrays.five_d(padded), lead)
    weight = _blur_weight(filt_size, geom.nd, np.dtype(x.dtype).str, geom.in_channels)
    return direct.forward(padded, weight, None, geom)


def blur_pool_grad_input(grad_out, input_shape, filt_size, stride):
    pads, geom = shapes.blur_geometry(tuple(input_shape), filt_size, stride)
    if tuple(grad_out.shape) != geom.output_shape:
        raise ValueError(f"grad_out has shape {tuple(grad_out.shape)}, blur-pool produces {geom.output_shape}")
    weight = _blur_weight(filt_size, geom.nd, np.dtype(grad_out.dtype).str, geom.in_channels)
    grad_padded = direct.grad_input(grad_out, weight, geom)
    grad_x = arrays.empty(tuple(input_shape), grad_out.dtype)
    lead = arrays.three((pads[0],) * geom.nd, 0)
    _reflect_pad_grad[arrays.grid(grad_x.size)](arrays.five_d(grad_padded), arrays.five_d(grad_x), lead)
    return grad_x
