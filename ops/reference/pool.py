"""Plain NumPy pooling (max, average, blur) and their gradients: the oracle.

Like the conv reference, each op loops over window offsets and reads one
strided slice of the padded input per offset. geom is an ops.shapes.PoolGeometry.
Max-pool indices are flat positions in each input plane (PyTorch's convention).
"""
import math

import numpy as np

from .. import shapes
from . import conv


def _pad_widths(geom):
    """`padding` on both sides, and on the right as far as ceil_mode's last window reaches."""
    widths = []
    for size, k, s, p, d, o in zip(geom.in_spatial, geom.kernel, geom.stride, geom.padding, geom.dilation, geom.out_spatial):
        reach = (o - 1) * s + d * (k - 1) + 1
        widths.append((p, max(p, reach - size - p)))
    return ((0, 0), (0, 0)) + tuple(widths)


def _padded(x, geom, fill):
    return np.pad(x, _pad_widths(geom), constant_values=fill)


def _windows(geom, offset):
    return tuple(slice(o * d, o * d + (n - 1) * s + 1, s)
                 for o, d, s, n in zip(offset, geom.dilation, geom.stride, geom.out_spatial))


def max_pool(x, geom):
    """Returns (out, indices): the window maxima and their flat positions in the input plane (int64)."""
    xp = _padded(x, geom, -np.inf)
    offsets = list(np.ndindex(*geom.kernel))
    stacked = np.stack([xp[(Ellipsis,) + _windows(geom, off)] for off in offsets])
    best = np.argmax(stacked, axis=0)
    out = np.take_along_axis(stacked, best[None], axis=0)[0]
    flat = np.zeros(best.shape, np.int64)
    in_padding = np.zeros(best.shape, bool)
    for dim in range(geom.nd):
        grid = np.arange(geom.out_spatial[dim]) * geom.stride[dim] - geom.padding[dim]
        grid = grid.reshape((-1,) + (1,) * (geom.nd - 1 - dim))
        at = grid + np.array([off[dim] for off in offsets])[best] * geom.dilation[dim]
        in_padding |= (at < 0) | (at >= geom.in_spatial[dim])
        flat = flat * geom.in_spatial[dim] + at
    # a window with no input cell (possible with dilation) is -inf at index -1, which takes no gradient
    return out, np.where(in_padding, -1, flat)


def max_pool_grad_input(grad_out, indices, geom):
    rows = geom.batch * geom.channels
    plane = math.prod(geom.in_spatial)
    grad = np.zeros((rows, plane + 1), grad_out.dtype)  # column `plane` collects index -1's share
    at = np.where(indices == -1, plane, indices).reshape(rows, -1)
    np.add.at(grad, (np.arange(rows)[:, None], at), grad_out.reshape(rows, -1))
    return grad[:, :plane].reshape(geom.input_shape)


def _avg_divisor(geom, count_include_pad):
    """Per-output divisor, PyTorch's rule: the window clipped to the padded input, or to the input itself."""
    divisor = np.ones((), np.float64)
    for size, k, s, p, o in zip(geom.in_spatial, geom.kernel, geom.stride, geom.padding, geom.out_spatial):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, size + p)
        along = end - start if count_include_pad else np.minimum(end, size) - np.maximum(start, 0)
        divisor = np.multiply.outer(divisor, along)
    return divisor


def avg_pool(x, geom, count_include_pad=True):
    xp = _padded(x, geom, 0.0)
    total = np.zeros(geom.output_shape, x.dtype)
    for off in np.ndindex(*geom.kernel):
        total += xp[(Ellipsis,) + _windows(geom, off)]
    return (total / _avg_divisor(geom, count_include_pad)).astype(x.dtype)


def avg_pool_grad_input(grad_out, geom, count_include_pad=True):
    share = (grad_out / _avg_divisor(geom, count_include_pad)).astype(grad_out.dtype)
    padded_shape = tuple(size + lo + hi for size, (lo, hi) in zip(geom.input_shape, _pad_widths(geom)))
    gp = np.zeros(padded_shape, grad_out.dtype)
    for off in np.ndindex(*geom.kernel):
        gp[(Ellipsis,) + _windows(geom, off)] += share
    crop = tuple(slice(p, p + size) for size, p in zip(geom.in_spatial, geom.padding))
    return np.ascontiguousarray(gp[(Ellipsis,) + crop])


def blur_pool(x, filt_size, stride):
    pads, geom = shapes.blur_geometry(x.shape, filt_size, stride)
    filt = shapes.blur_filter(filt_size, geom.nd, x.dtype)
    w = np.broadcast_to(filt, (geom.in_channels, 1) + filt.shape)
    xp = np.pad(x, ((0, 0), (0, 0)) + (pads,) * geom.nd, mode="reflect")
    return conv.forward(xp, w, None, geom)


def reflect_pad_grad(grad_padded, pads, nd):
    """Adjoint of np.pad(mode='reflect'): fold the gradient of each mirrored border back inside."""
    g = grad_padded
    lo, hi = pads
    for axis in range(2, 2 + nd):
        g = np.moveaxis(g, axis, 0).copy()
        inner = g[lo:g.shape[0] - hi]
        for i in range(1, lo + 1):
            inner[i] += g[lo - i]
        for i in range(1, hi + 1):
            inner[-1 - i] += g[g.shape[0] - hi - 1 + i]
        g = np.moveaxis(inner, 0, axis)
    return np.ascontiguousarray(g)


def blur_pool_grad_input(grad_out, input_shape, filt_size, stride):
    pads, geom = shapes.blur_geometry(input_shape, filt_size, stride)
    filt = shapes.blur_filter(filt_size, geom.nd, grad_out.dtype)
    w = np.ascontiguousarray(np.broadcast_to(filt, (geom.in_channels, 1) + filt.shape))
    return reflect_pad_grad(conv.grad_input(grad_out, w, geom), pads, geom.nd)
