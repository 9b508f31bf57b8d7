"""Padding, interpolation and adaptive pooling on the GPU (see ops.resample for the tables).

One thread per output element for the separable gather (its tables uploaded once per shape) and for
adaptive max pooling; its gradient runs one thread per input element, gathering the outputs whose
windows cover it (no atomics, deterministic).
"""
import functools

import numpy as np
from numba import cuda

from . import arrays
from .indexing import unravel5


@cuda.jit(cache=True)
def _separable(x, out, iz, wz, iy, wy, ix, wx, fill):
    i = cuda.grid(1)
    if i >= out.size:
        return
    n, c, oz, oy, ox = unravel5(i, out.shape)
    total = cuda.local.array(1, out.dtype)
    total[0] = 0
    for a in range(iz.shape[1]):
        z = iz[oz, a]
        for b in range(iy.shape[1]):
            y = iy[oy, b]
            weight_zy = wz[oz, a] * wy[oy, b]
            for q in range(ix.shape[1]):
                col = ix[ox, q]
                if z < 0 or y < 0 or col < 0:
                    total[0] += weight_zy * wx[ox, q] * fill[0]
                else:
                    total[0] += weight_zy * wx[ox, q] * x[n, c, z, y, col]
    out[n, c, oz, oy, ox] = total[0]


@functools.lru_cache(maxsize=256)
def _device_tables(taps):
    return tuple(cuda.to_device(np.ascontiguousarray(a)) for a in taps.tables)


@functools.lru_cache(maxsize=64)
def _fill(value, dtype):
    return cuda.to_device(np.array([value], dtype))


def separable(x, out_shape, taps, fill=0.0):
    out = arrays.empty(out_shape, x.dtype)
    _separable[arrays.grid(out.size)](arrays.five_d(x), arrays.five_d(out), *_device_tables(taps),
                                      _fill(float(fill), np.dtype(x.dtype).str))
    return out


@cuda.jit(device=True)
def _window(o, size, out):
    """[start, end) of adaptive window o along one dim (PyTorch's floor / ceil rule)."""
    return (o * size) // out, ((o + 1) * size + out - 1) // out


@cuda.jit(cache=True)
def _adaptive_max(x, out, indices):
    i = cuda.grid(1)
    if i >= out.size:
        return
    n, c, oz, oy, ox = unravel5(i, out.shape)
    D, H, W = x.shape[2], x.shape[3], x.shape[4]
    z0, z1 = _window(oz, D, out.shape[2])
    y0, y1 = _window(oy, H, out.shape[3])
    x0, x1 = _window(ox, W, out.shape[4])
    best = cuda.local.array(1, x.dtype)
    best_at = -1
    for z in range(z0, z1):
        for y in range(y0, y1):
            for q in range(x0, x1):
                v = x[n, c, z, y, q]
                if best_at < 0 or v > best[0] or (v != v and best[0] == best[0]):
                    best[0] = v
                    best_at = (z * H + y) * W + q
    out[n, c, oz, oy, ox] = best[0]
    indices[n, c, oz, oy, ox] = best_at


def adaptive_max_pool(x, out_spatial):
    out_shape = tuple(x.shape[:2]) + tuple(out_spatial)
    out = arrays.empty(out_shape, x.dtype)
    indices = arrays.empty(out_shape, np.int64)
    _adaptive_max[arrays.grid(out.size)](arrays.five_d(x), arrays.five_d(out), arrays.five_d(indices))
    return out, indices


@cuda.jit(device=True)
def _covering(i, size, out):
    """The outputs [first, last + 1) whose adaptive windows contain input i along one dim."""
    return (i * out) // size, ((i + 1) * out + size - 1) // size


@cuda.jit(cache=True)
def _adaptive_max_grad(grad_out, indices, grad_x):
    i = cuda.grid(1)
    if i >= grad_x.size:
        return
    n, c, z, y, q = unravel5(i, grad_x.shape)
    D, H, W = grad_x.shape[2], grad_x.shape[3], grad_x.shape[4]
    here = (z * H + y) * W + q
    z0, z1 = _covering(z, D, grad_out.shape[2])
    y0, y1 = _covering(y, H, grad_out.shape[3])
    x0, x1 = _covering(q, W, grad_out.shape[4])
    acc = cuda.local.array(1, grad_x.dtype)
    acc[0] = 0
    for oz in range(z0, z1):
        for oy in range(y0, y1):
            for ox in range(x0, x1):
                if indices[n, c, oz, oy, ox] == here:
                    acc[0] += grad_out[n, c, oz, oy, ox]
    grad_x[n, c, z, y, q] = acc[0]


def adaptive_max_pool_grad_input(grad_out, indices, input_shape):
    grad_x = arrays.empty(input_shape, grad_out.dtype)
    _adaptive_max_grad[arrays.grid(grad_x.size)](arrays.five_d(grad_out), arrays.five_d(indices),
                                                 arrays.five_d(grad_x))
    return grad_x
