"""Padding, interpolation and adaptive pooling as Numba kernels (see ops.resample for the tables).

Arrays are seen as (P, D, H, W) planes, P = N * C, 1-D and 2-D ops as D = H = 1 (or D = 1), as in
ops.cpu.pool. One gather kernel applies a separable map's three tables; adaptive max pooling has its own
window kernel, and its gradient is ops.cpu.pool's scatter to the recorded indices.
"""

import numpy as np
from numba import njit, prange

from .. import shapes
from .pool import _planes, scatter_to_indices


@njit(parallel=True, cache=True)
def _separable(x, out, iz, wz, iy, wy, ix, wx, fill):
    """out[p, z, y, x] = sum over taps of wz[z, a] wy[y, b] wx[x, c] x[p, iz[z, a], iy[y, b], ix[x, c]],
    reading `fill` where a tap's index is -1.

    Separably, as the blur-pool kernel: each output row first blends whole input rows over its (z, y) taps
    (contiguous, vectorised), then gathers that line along W; about 3 times faster than summing every
    (z, y, x) tap of every output.
    """
    planes, W = x.shape[0], x.shape[3]
    Do, Ho, Wo = out.shape[1:]
    for task in prange(planes * Do):
        p, oz = task // Do, task % Do
        line = np.empty(W, x.dtype)
        for oy in range(Ho):
            line[:] = 0
            for a in range(iz.shape[1]):
                z = iz[oz, a]
                for b in range(iy.shape[1]):
                    y = iy[oy, b]
                    weight = wz[oz, a] * wy[oy, b]
                    if weight == 0:
                        continue
                    if z < 0 or y < 0:
                        line += weight * fill
                    else:
                        src = x[p, z, y]
                        for i in range(W):
                            line[i] += weight * src[i]
            for ox in range(Wo):
                total = out.dtype.type(0)
                for c in range(ix.shape[1]):
                    col = ix[ox, c]
                    total += wx[ox, c] * (fill if col < 0 else line[col])
                out[p, oz, oy, ox] = total


def separable(x, out_shape, taps, fill=0.0):
    """Apply a separable map's tables (ops.resample.Taps) to x (N, C, *S) -> out_shape."""
    out = np.empty(_planes(out_shape), x.dtype)
    _separable(x.reshape(_planes(x.shape)), out, *taps.tables, x.dtype.type(fill))
    return out.reshape(out_shape)


@njit(parallel=True, cache=True)
def _adaptive_max(x, out, idx, z_start, z_end, y_start, y_end, x_start, x_end):
    planes, D, H, W = x.shape
    Do, Ho, Wo = out.shape[1:]
    for task in prange(planes * Do):
        p, oz = task // Do, task % Do
        for oy in range(Ho):
            for ox in range(Wo):
                best, best_at = x[p, z_start[oz], y_start[oy], x_start[ox]], -1
                for iz in range(z_start[oz], z_end[oz]):
                    for iy in range(y_start[oy], y_end[oy]):
                        for i in range(x_start[ox], x_end[ox]):
                            v = x[p, iz, iy, i]
                            # the first maximum wins, a NaN is the maximum (np.argmax's rule)
                            if best_at < 0 or v > best or (v != v and best == best):
                                best, best_at = v, (iz * H + iy) * W + i
                out[p, oz, oy, ox] = best
                idx[p, oz, oy, ox] = best_at


def _window_arrays(in_spatial, out_spatial):
    """Start and end arrays of the adaptive windows along (D, H, W)."""
    pairs = [([0], [1])] * (3 - len(in_spatial))
    pairs += [shapes.adaptive_windows(size, out) for size, out in zip(in_spatial, out_spatial)]
    return [np.asarray(a, np.int64) for pair in pairs for a in pair]


def adaptive_max_pool(x, out_spatial):
    out_shape = tuple(x.shape[:2]) + tuple(out_spatial)
    out = np.empty(_planes(out_shape), x.dtype)
    idx = np.empty(out.shape, np.int64)
    _adaptive_max(x.reshape(_planes(x.shape)), out, idx, *_window_arrays(x.shape[2:], out_spatial))
    return out.reshape(out_shape), idx.reshape(out_shape)


def adaptive_max_pool_grad_input(grad_out, indices, input_shape):
    return scatter_to_indices(grad_out, indices, input_shape)


