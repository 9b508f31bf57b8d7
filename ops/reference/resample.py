"""Plain NumPy padding, interpolation and adaptive pooling, and their gradients: the oracle.

Padding, nearest / linear interpolation and adaptive average pooling are separable: each is a 1-D linear
map applied along every spatial axis in turn (a box mean is the product of 1-D means). The forward applies
the 1-D maps with np.pad, np.take and slice means; the gradient applies each map's matrix, obtained by
running the 1-D map on the identity, transposed. Adaptive max pooling is not linear; it loops over windows.
PyTorch's conventions: x (N, C, *spatial); pads (before, after) per spatial dim.
"""
import math

import numpy as np

from .. import shapes

PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}
INTERPOLATE_MODES = ("nearest", "linear", "bilinear", "trilinear")


def nearest_sources(size, out, scale):
    """Input index of each output index for mode='nearest': floor(o * scale), clipped (PyTorch's rule)."""
    return np.minimum(np.floor(np.arange(out) * scale).astype(np.int64), size - 1)


def linear_sources(size, out, scale, align_corners):
    """(i0, i1, lam) per output index for linear interpolation: out = (1 - lam) x[i0] + lam x[i1].

    align_corners maps the corner pixels' centres onto each other (src = o * (size - 1) / (out - 1));
    otherwise src = (o + 0.5) * scale - 0.5, clamped at 0 (PyTorch's half-pixel rule).
    """
    o = np.arange(out, dtype=np.float64)
    if align_corners:
        src = o * ((size - 1) / (out - 1) if out > 1 else 0.0)
    else:
        src = np.maximum((o + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), size - 1)
    i1 = np.minimum(i0 + 1, size - 1)
    return i0, i1, src - i0


# --- 1-D maps along the last axis ----------------------------------------------------
def pad_1d(x, before, after, mode, value=0.0):
    widths = ((0, 0),) * (x.ndim - 1) + ((before, after),)
    if mode == "constant":
        return np.pad(x, widths, constant_values=value)
    return np.pad(x, widths, mode=PAD_MODES[mode])


def nearest_1d(x, out, scale):
    return np.take(x, nearest_sources(x.shape[-1], out, scale), axis=-1)


def linear_1d(x, out, scale, align_corners):
    i0, i1, lam = linear_sources(x.shape[-1], out, scale, align_corners)
    return np.take(x, i0, axis=-1) * (1 - lam) + np.take(x, i1, axis=-1) * lam


def adaptive_avg_1d(x, out):
    starts, ends = shapes.adaptive_windows(x.shape[-1], out)
    return np.stack([x[..., a:b].mean(axis=-1) for a, b in zip(starts, ends)], axis=-1)


def _separable(x, maps):
    """Apply maps[d] (a 1-D map on the last axis, or None) along spatial axis d of x (N, C, *spatial)."""
    for d, fn in enumerate(maps):
        if fn is not None:
            x = np.moveaxis(fn(np.moveaxis(x, 2 + d, -1)), -1, 2 + d)
    return np.ascontiguousarray(x)


def map_matrix(fn, size):
    """The matrix (size, out) of the linear 1-D map fn on `size` inputs: fn applied to the identity."""
    return fn(np.eye(size))


def _separable_grad(grad_out, input_shape, maps):
    g = grad_out
    for d, fn in enumerate(maps):
        if fn is not None:
            matrix = map_matrix(fn, input_shape[2 + d]).astype(grad_out.dtype)
            g = np.moveaxis(np.moveaxis(g, 2 + d, -1) @ matrix.T, -1, 2 + d)
    return np.ascontiguousarray(g)


# --- the ops ----------------------------------------------------------------------
def pad_maps(pads, mode, value=0.0):
    return [lambda a, lo=lo, hi=hi: pad_1d(a, lo, hi, mode, value) for lo, hi in pads]


def interpolate_maps(in_spatial, out_spatial, scales, mode, align_corners):
    """The 1-D map of each spatial dim; scales[d] is input / output size unless a scale_factor fixed it."""
    if mode == "nearest":
        return [lambda a, o=o, s=s: nearest_1d(a, o, s) for o, s in zip(out_spatial, scales)]
    return [lambda a, o=o, s=s: linear_1d(a, o, s, align_corners) for o, s in zip(out_spatial, scales)]


def adaptive_avg_maps(out_spatial):
    return [lambda a, o=o: adaptive_avg_1d(a, o) for o in out_spatial]


def pad(x, pads, mode="constant", value=0.0):
    """x (N, C, *S) padded by pads ((before, after) per spatial dim) in mode constant|reflect|replicate|circular."""
    return _separable(x, pad_maps(pads, mode, value))


def pad_grad_input(grad_out, input_shape, pads, mode="constant"):
    return _separable_grad(grad_out, input_shape, pad_maps(pads, mode))


def interpolate(x, out_spatial, scales, mode="nearest", align_corners=False):
    return _separable(x, interpolate_maps(x.shape[2:], out_spatial, scales, mode, align_corners))


def interpolate_grad_input(grad_out, input_shape, scales, mode="nearest", align_corners=False):
    return _separable_grad(grad_out, input_shape,
                           interpolate_maps(input_shape[2:], grad_out.shape[2:], scales, mode, align_corners))


def adaptive_avg_pool(x, out_spatial):
    return _separable(x, adaptive_avg_maps(out_spatial))


def adaptive_avg_pool_grad_input(grad_out, input_shape):
    return _separable_grad(grad_out, input_shape, adaptive_avg_maps(grad_out.shape[2:]))


def adaptive_max_pool(x, out_spatial):
    """(out, indices): each adaptive window's maximum and its flat position in the input plane (int64)."""
    spatial = x.shape[2:]
    windows = [list(zip(*shapes.adaptive_windows(size, o))) for size, o in zip(spatial, out_spatial)]
    out = np.empty(x.shape[:2] + tuple(out_spatial), x.dtype)
    indices = np.empty(out.shape, np.int64)
    for cell in np.ndindex(*out_spatial):
        box = tuple(slice(*windows[d][i]) for d, i in enumerate(cell))
        block = x[(Ellipsis,) + box].reshape(x.shape[:2] + (-1,))
        best = np.argmax(block, axis=-1)
        out[(Ellipsis,) + cell] = np.take_along_axis(block, best[..., None], -1)[..., 0]
        local = np.unravel_index(best, [s.stop - s.start for s in box])
        indices[(Ellipsis,) + cell] = np.ravel_multi_index(tuple(at + s.start for at, s in zip(local, box)), spatial)
    return out, indices


def adaptive_max_pool_grad_input(grad_out, indices, input_shape):
    rows = input_shape[0] * input_shape[1]
    grad = np.zeros((rows, math.prod(input_shape[2:])), grad_out.dtype)
    np.add.at(grad, (np.arange(rows)[:, None], indices.reshape(rows, -1)), grad_out.reshape(rows, -1))
    return grad.reshape(input_shape)
