"""Pooling (max with indices, average, blur) and its gradients as Numba kernels, one pass over the data.

Same functions as ops.reference.pool. Every input is seen as (P, D, H, W) with
P = N * C planes and 1-D / 2-D pooling as the D = H = 1 (or D = 1) case, so one
compiled kernel per dtype serves all three dims. Window geometry travels as
int64 triples (kernel, stride, pad, dilation) in (D, H, W) order.
Forward kernels split the work over (plane, output depth row); the gradients
scatter, so each plane belongs to one thread and there are no races.
"""
import functools
import math

import numpy as np
from numba import njit, prange

from .. import shapes


def _triple(values, fill):
    return np.array((fill,) * (3 - len(values)) + tuple(values), np.int64)


def _planes(shape):
    """(N, C, *S) -> (N * C, D, H, W): the 4-D view every kernel works on."""
    return (shape[0] * shape[1],) + (1,) * (5 - len(shape)) + tuple(shape[2:])


@functools.lru_cache(maxsize=256)
def _window(geom):
    """(kernel, stride, pad, dilation, offsets): the window's int64 triples, and the flat offsets in the input
    plane of every window cell from the window's first cell. Made once per geometry: building these arrays
    took longer than pooling a small batch."""
    kernel, stride, pad, dilation = (_triple(geom.kernel, 1), _triple(geom.stride, 1), _triple(geom.padding, 0),
                                     _triple(geom.dilation, 1))
    _, h, w = _triple(geom.in_spatial, 1)
    taps = np.indices(kernel).reshape(3, -1) * dilation[:, None]
    window = kernel, stride, pad, dilation, (taps[0] * h + taps[1]) * w + taps[2]
    for a in window:
        a.flags.writeable = False
    return window


@njit(inline="always")
def _taps(start, size, k, d):
    """Range [lo, hi) of kernel taps whose input position start + t * d lies in [0, size)."""
    if d == 1:  # no division (tens of cycles) in the common case: this runs once per output
        lo, hi = max(0, -start), min(k, size - start)
    else:
        lo = 0 if start >= 0 else (-start + d - 1) // d
        hi = min(k, (size - start + d - 1) // d)
    return lo, max(lo, hi)


@njit(parallel=True, cache=True)
def _max_pool(x, out, idx, kernel, stride, pad, dil, offsets):
    planes, D, H, W = x.shape
    Do, Ho, Wo = out.shape[1:]
    flat = x.reshape(planes, D * H * W)
    for task in prange(planes * Do):
        p, oz = task // Do, task % Do
        plane = flat[p]
        iz0 = oz * stride[0] - pad[0]
        z_lo, z_hi = _taps(iz0, D, kernel[0], dil[0])
        for oy in range(Ho):
            iy0 = oy * stride[1] - pad[1]
            y_lo, y_hi = _taps(iy0, H, kernel[1], dil[1])
            inside_zy = z_lo == 0 and z_hi == kernel[0] and y_lo == 0 and y_hi == kernel[1]
            for ox in range(Wo):
                ix0 = ox * stride[2] - pad[2]
                x_lo, x_hi = _taps(ix0, W, kernel[2], dil[2])
                if inside_zy and x_lo == 0 and x_hi == kernel[2]:
                    # the window lies inside the input: flat offsets, no bounds, selects instead of branches
                    # Two independent chains over the window's halves, then the later half wins only if
                    # strictly larger: the first maximum wins, a NaN is the maximum (np.argmax's rule).
                    base = (iz0 * H + iy0) * W + ix0
                    half = (offsets.size + 1) // 2
                    best, best_at = plane[base], base
                    late_at = base + offsets[min(half, offsets.size - 1)]
                    late = plane[late_at]
                    for t in range(1, half):
                        at, at_late = base + offsets[t], base + offsets[min(half + t, offsets.size - 1)]
                        v, v_late = plane[at], plane[at_late]
                        take = (v > best) | ((v != v) & (best == best))
                        take_late = (v_late > late) | ((v_late != v_late) & (late == late))
                        best, best_at = (v, at) if take else (best, best_at)
                        late, late_at = (v_late, at_late) if take_late else (late, late_at)
                    if half < offsets.size and ((late > best) | ((late != late) & (best == best))):
                        best, best_at = late, late_at
                else:
                    best = -np.inf  # stays so, at index -1, for a window that lies wholly in the padding
                    best_at = -1
                    for tz in range(z_lo, z_hi):
                        iz = iz0 + tz * dil[0]
                        for ty in range(y_lo, y_hi):
                            iy = iy0 + ty * dil[1]
                            for tx in range(x_lo, x_hi):
                                ix = ix0 + tx * dil[2]
                                v = x[p, iz, iy, ix]
                                if best_at < 0 or v > best or (v != v and best == best):
                                    best = v
                                    best_at = (iz * H + iy) * W + ix
                out[p, oz, oy, ox] = best
                idx[p, oz, oy, ox] = best_at


@njit(parallel=True, cache=True)
def _max_pool_grad(grad_out, idx, grad):
    """grad (P, plane) += grad_out at idx; returns how many indices fell outside the plane.

    Index -1 marks a window without input cells (possible with dilation): it passes no gradient.
    """
    planes, size = grad.shape
    bad = 0
    for p in prange(planes):
        for j in range(grad_out.shape[1]):
            at = idx[p, j]
            if 0 <= at < size:
                grad[p, at] += grad_out[p, j]
            elif at != -1:
                bad += 1
    return bad


@njit(inline="always")
def _avg_count(start, size, k, p, include_pad):
    """Window length along one dim: clipped to the padded input, or to the input itself."""
    end = min(start + k, size + p)
    if include_pad:
        return end - start
    return min(end, size) - max(start, 0)


@njit(parallel=True, cache=True)
def _avg_pool(x, out, kernel, stride, pad, include_pad, offsets):
    planes, D, H, W = x.shape
    Do, Ho, Wo = out.shape[1:]
    flat = x.reshape(planes, D * H * W)
    for task in prange(planes * Do):
        p, oz = task // Do, task % Do
        plane = flat[p]
        iz0 = oz * stride[0] - pad[0]
        z_lo, z_hi = _taps(iz0, D, kernel[0], 1)
        nz = _avg_count(iz0, D, kernel[0], pad[0], include_pad)
        for oy in range(Ho):
            iy0 = oy * stride[1] - pad[1]
            y_lo, y_hi = _taps(iy0, H, kernel[1], 1)
            nzy = nz * _avg_count(iy0, H, kernel[1], pad[1], include_pad)
            inside_zy = z_lo == 0 and z_hi == kernel[0] and y_lo == 0 and y_hi == kernel[1]
            for ox in range(Wo):
                ix0 = ox * stride[2] - pad[2]
                x_lo, x_hi = _taps(ix0, W, kernel[2], 1)
                total = out.dtype.type(0)
                if inside_zy and x_lo == 0 and x_hi == kernel[2]:
                    base = (iz0 * H + iy0) * W + ix0
                    for t in range(offsets.size):
                        total += plane[base + offsets[t]]
                    out[p, oz, oy, ox] = total / offsets.size
                    continue
                for iz in range(iz0 + z_lo, iz0 + z_hi):
                    for iy in range(iy0 + y_lo, iy0 + y_hi):
                        for ix in range(ix0 + x_lo, ix0 + x_hi):
                            total += x[p, iz, iy, ix]
                out[p, oz, oy, ox] = total / (nzy * _avg_count(ix0, W, kernel[2], pad[2], include_pad))


@njit(parallel=True, cache=True)
def _avg_pool_grad(grad_out, grad, kernel, stride, pad, include_pad, offsets):
    planes, D, H, W = grad.shape
    Do, Ho, Wo = grad_out.shape[1:]
    flat = grad.reshape(planes, D * H * W)
    for p in prange(planes):
        plane = flat[p]
        for oz in range(Do):
            iz0 = oz * stride[0] - pad[0]
            z_lo, z_hi = _taps(iz0, D, kernel[0], 1)
            nz = _avg_count(iz0, D, kernel[0], pad[0], include_pad)
            for oy in range(Ho):
                iy0 = oy * stride[1] - pad[1]
                y_lo, y_hi = _taps(iy0, H, kernel[1], 1)
                nzy = nz * _avg_count(iy0, H, kernel[1], pad[1], include_pad)
                inside_zy = z_lo == 0 and z_hi == kernel[0] and y_lo == 0 and y_hi == kernel[1]
                for ox in range(Wo):
                    ix0 = ox * stride[2] - pad[2]
                    x_lo, x_hi = _taps(ix0, W, kernel[2], 1)
                    if inside_zy and x_lo == 0 and x_hi == kernel[2]:
                        base = (iz0 * H + iy0) * W + ix0
                        share = grad_out[p, oz, oy, ox] / offsets.size
                        for t in range(offsets.size):
                            plane[base + offsets[t]] += share
                        continue
                    share = grad_out[p, oz, oy, ox] / (nzy * _avg_count(ix0, W, kernel[2], pad[2], include_pad))
                    for iz in range(iz0 + z_lo, iz0 + z_hi):
                        for iy in range(iy0 + y_lo, iy0 + y_hi):
                            for ix in range(ix0 + x_lo, ix0 + x_hi):
                                grad[p, iz, iy, ix] += share


@njit(inline="always")
def _reflect(i, size):
    """np.pad(mode='reflect') for one step past either edge (pads are smaller than the size)."""
    if i < 0:
        return -i
    if i >= size:
        return 2 * (size - 1) - i
    return i


@njit(parallel=True, cache=True)
def _blur_pool(x, out, rows, taps, stride, pad, columns):
    """out = binomial blur (rows[d, :taps[d]] per dim) of reflect-padded x, subsampled by stride.

    The filter is separable: each output line first blurs whole input lines over depth and height (a
    contiguous, vectorised pass), then blurs that line along W at columns[ox, t], the reflected indices.
    """
    planes, D, H, W = x.shape
    Do, Ho, Wo = out.shape[1:]
    for task in prange(planes * Do):
        p, oz = task // Do, task % Do
        line = np.empty(W, x.dtype)
        for oy in range(Ho):
            line[:] = 0
            for tz in range(taps[0]):
                iz = _reflect(oz * stride[0] - pad[0] + tz, D)
                for ty in range(taps[1]):
                    src = x[p, iz, _reflect(oy * stride[1] - pad[1] + ty, H)]
                    weight = rows[0, tz] * rows[1, ty]
                    for i in range(W):
                        line[i] += weight * src[i]
            for ox in range(Wo):
                total = line.dtype.type(0)  # not line[0] * 0: an Inf there would make it NaN
                for tx in range(taps[2]):
                    total += rows[2, tx] * line[columns[ox, tx]]
                out[p, oz, oy, ox] = total


@njit(parallel=True, cache=True)
def _blur_pool_grad(grad_out, grad, rows, taps, stride, pad, columns):
    """The adjoint of _blur_pool, line by line: spread each output line along W, then add it to the input
    lines it blurred (a task per plane, which owns the plane's gradient)."""
    planes, D, H, W = grad.shape
    Do, Ho, Wo = grad_out.shape[1:]
    for p in prange(planes):
        line = np.empty(W, grad.dtype)
        for oz in range(Do):
            for oy in range(Ho):
                line[:] = 0
                for ox in range(Wo):
                    g = grad_out[p, oz, oy, ox]
                    for tx in range(taps[2]):
                        line[columns[ox, tx]] += rows[2, tx] * g
                for tz in range(taps[0]):
                    iz = _reflect(oz * stride[0] - pad[0] + tz, D)
                    for ty in range(taps[1]):
                        dst = grad[p, iz, _reflect(oy * stride[1] - pad[1] + ty, H)]
                        weight = rows[0, tz] * rows[1, ty]
                        for i in range(W):
                            dst[i] += weight * line[i]


def max_pool(x, geom):
    """x (N, C, *S) -> (out (N, C, *S_out), int64 flat positions of each maximum in its input plane)."""
    out = np.empty(_planes(geom.output_shape), x.dtype)
    idx = np.empty(out.shape, np.int64)
    _max_pool(x.reshape(_planes(x.shape)), out, idx, *_window(geom))
    return out.reshape(geom.output_shape), idx.reshape(geom.output_shape)


def scatter_to_indices(grad_out, indices, input_shape):
    """grad_out (N, C, *S_out) added onto input_shape (N, C, *S) at the flat plane positions in `indices`."""
    planes = input_shape[0] * input_shape[1]
    grad = np.zeros((planes, math.prod(input_shape[2:])), grad_out.dtype)
    bad = _max_pool_grad(grad_out.reshape(planes, -1), np.ascontiguousarray(indices, np.int64).reshape(planes, -1), grad)
    if bad:
        raise ValueError(f"{bad} max-pool indices lie outside the input plane of {grad.shape[1]} elements")
    return grad.reshape(input_shape)


def max_pool_grad_input(grad_out, indices, geom):
    """Scatter grad_out (N, C, *S_out) onto the input positions in `indices` -> (N, C, *S)."""
    return scatter_to_indices(grad_out, indices, geom.input_shape)


def avg_pool(x, geom, count_include_pad=True):
    """x (N, C, *S) -> (N, C, *S_out): window means, PyTorch's divisor rule."""
    kernel, stride, pad, _, offsets = _window(geom)
    out = np.empty(_planes(geom.output_shape), x.dtype)
    _avg_pool(x.reshape(_planes(x.shape)), out, kernel, stride, pad, bool(count_include_pad), offsets)
    return out.reshape(geom.output_shape)


def avg_pool_grad_input(grad_out, geom, count_include_pad=True):
    """grad_out (N, C, *S_out) -> (N, C, *S): each window's share spread over its input cells."""
    kernel, stride, pad, _, offsets = _window(geom)
    grad = np.zeros(_planes(geom.input_shape), grad_out.dtype)
    _avg_pool_grad(grad_out.reshape(_planes(grad_out.shape)), grad, kernel, stride, pad, bool(count_include_pad),
                   offsets)
    return grad.reshape(geom.input_shape)


@functools.lru_cache(maxsize=256)
def _blur_args(input_shape, filt_size, stride, dtype):
    """Checks (through shapes.blur_geometry), the output shape, and the kernel's per-dim filter rows;
    made once per shape, as _window is."""
    pads, geom = shapes.blur_geometry(input_shape, filt_size, stride)
    row = np.array(shapes.BINOMIAL_ROWS[filt_size])
    rows = np.zeros((3, 7), dtype)
    rows[:, 0] = 1.0
    rows[3 - geom.nd:, :filt_size] = row / row.sum()
    taps = _triple((filt_size,) * geom.nd, 1)
    out_shape = tuple(input_shape[:2]) + geom.out_spatial
    strides, lows = _triple(geom.stride, 1), _triple((pads[0],) * geom.nd, 0)
    # along W, the input column each (output, tap) reads: the reflection done once here
    width = input_shape[-1]
    at = np.arange(out_shape[-1])[:, None] * strides[2] - lows[2] + np.arange(taps[2])
    columns = np.where(at < 0, -at, np.where(at >= width, 2 * (width - 1) - at, at))
    for a in (rows, taps, strides, lows, columns):
        a.flags.writeable = False
    return out_shape, rows, taps, strides, lows, columns


def blur_pool(x, filt_size, stride):
    """x (N, C, *S) -> (N, C, *((S - 1) // stride + 1)): reflect-pad, binomial blur, subsample."""
    out_shape, rows, taps, strides, pads, columns = _blur_args(tuple(x.shape), filt_size, stride, x.dtype)
    out = np.empty(_planes(out_shape), x.dtype)
    _blur_pool(x.reshape(_planes(x.shape)), out, rows, taps, strides, pads, columns)
    return out.reshape(out_shape)


def blur_pool_grad_input(grad_out, input_shape, filt_size, stride):
    """grad_out (N, C, *S_out) -> input_shape."""
    input_shape = tuple(input_shape)
    out_shape, rows, taps, strides, pads, columns = _blur_args(input_shape, filt_size, stride, grad_out.dtype)
    if tuple(grad_out.shape) != out_shape:
        raise ValueError(f"grad_out has shape {tuple(grad_out.shape)}, blur-pool of {input_shape} produces {out_shape}")
    grad = np.zeros(_planes(input_shape), grad_out.dtype)
    _blur_pool_grad(grad_out.reshape(_planes(out_shape)), grad, rows, taps, strides, pads, columns)
    return grad.reshape(input_shape)
