"""Padding (constant, reflect, replicate, circular), interpolation (nearest, linear / bilinear / trilinear) and
adaptive pooling (average, max) in 1-3 spatial dims, with their gradients. PyTorch's conventions.

Every op but adaptive max is separable and linear: along each spatial dim, each output position is a short
weighted sum of input positions. ops.reference.resample defines those 1-D maps; here each becomes a table
of (input index, weight) taps per output position, built once per shape from the map's matrix, and one
gather kernel per backend (ops.cpu.resample, ops.cuda.resample) applies the three tables. A gradient is the
same gather with the transposed tables. A tap with index -1 reads the constant fill (constant padding:
there each dim has one tap of weight 1, so an output with any index -1 is the fill).
"""
import functools
import math
from dataclasses import dataclass, field

import numpy as np

from . import select, shapes
from .reference import resample as reference


@dataclass(frozen=True)
class Taps:
    """The gather tables of one separable map: per (D, H, W) dim an int64 index table (out, K) and a weight
    table (out, K). key identifies the map (a cache key for device copies); arrays are read-only."""
    key: tuple
    tables: tuple = field(compare=False, hash=False)
    out_spatial: tuple = field(compare=False, hash=False)


def _taps_of(matrix):
    """(index, weight) tables (rows, K) of the nonzero entries of each row of `matrix` (rows, cols);
    a row without entries gets the tap (-1, 1): it reads the fill value."""
    counts = (matrix != 0).sum(axis=1)
    width = max(1, int(counts.max()))
    index = np.full((matrix.shape[0], width), -1, np.int64)
    weight = np.zeros((matrix.shape[0], width), np.float64)
    for row in range(matrix.shape[0]):
        cols = np.flatnonzero(matrix[row])
        index[row, :cols.size], weight[row, :cols.size] = cols, matrix[row, cols]
        if not cols.size:
            weight[row, 0] = 1.0
    return index, weight


@functools.lru_cache(maxsize=256)
def _plan(kind, in_spatial, params, dtype):
    """(forward Taps, backward Taps) of a separable op on spatial shape in_spatial; params its hashable arguments."""
    if kind == "pad":
        mode, pads = params
        maps = reference.pad_maps(pads, mode)
    elif kind == "interpolate":
        out_spatial, scales, mode, align_corners = params
        maps = reference.interpolate_maps(in_spatial, out_spatial, scales, mode, align_corners)
    else:
        maps = reference.adaptive_avg_maps(params)
    matrices = [reference.map_matrix(fn, size) for fn, size in zip(maps, in_spatial)]  # (in, out) per dim
    out_spatial = tuple(m.shape[1] for m in matrices)
    identity = (np.zeros((1, 1), np.int64), np.ones((1, 1), np.float64))
    plans = []
    for transposed in (False, True):
        tables = [_taps_of(m if transposed else m.T) for m in matrices]
        tables = [identity] * (3 - len(tables)) + tables
        flat = tuple(a.astype(dtype) if a.dtype.kind == "f" else a for pair in tables for a in pair)
        for a in flat:
            a.flags.writeable = False
        plans.append(Taps((kind, in_spatial, params, dtype, transposed), flat,
                          in_spatial if transposed else out_spatial))
    return tuple(plans)


def _run(x, taps, fill=0.0):
    backend = select.resample_backend(shapes.device_of(x))
    out_shape = tuple(x.shape[:2]) + taps.out_spatial
    return backend.separable(x, out_shape, taps, fill)


def _check_input(x, name, nds=(1, 2, 3)):
    x = shapes.check_array(x, name)
    if len(x.shape) - 2 not in nds:
        raise ValueError(f"{name} must be (N, C, *spatial) with {' or '.join(map(str, nds))} spatial dims, "
                         f"got shape {tuple(x.shape)}")
    return x


# --- padding -------------------------------------------------------------------
def pad_widths(pad, ndim):
    """torch.nn.functional.pad's flat pad (last dim's before, after, then the dim before it, ...) as
    ((before, after) per spatial dim) for an (N, C, *spatial) array of ndim dims; pads >= 0."""
    pad = tuple(pad)
    if len(pad) % 2 or not pad or not all(isinstance(p, (int, np.integer)) for p in pad):
        raise ValueError(f"pad must be an even number of ints, got {pad!r}")
    if len(pad) // 2 > ndim - 2:
        raise ValueError(f"pad {pad} covers {len(pad) // 2} dims, the input has only {ndim - 2} spatial dims")
    if any(p < 0 for p in pad):
        raise ValueError(f"pad must be >= 0 (no cropping), got {pad!r}")
    pairs = [(int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2)][::-1]
    return ((0, 0),) * (ndim - 2 - len(pairs)) + tuple(pairs)


def _pad_plan(input_shape, pads, mode, dtype):
    if mode not in reference.PAD_MODES:
        raise ValueError(f"padding mode must be one of {tuple(reference.PAD_MODES)}, got {mode!r}")
    for d, ((lo, hi), size) in enumerate(zip(pads, input_shape[2:])):
        if mode == "reflect" and max(lo, hi) >= size:
            raise ValueError(f"reflect padding {(lo, hi)} must be smaller than the input size {size} (spatial dim {d})")
        if mode == "circular" and max(lo, hi) > size:
            raise ValueError(f"circular padding {(lo, hi)} must be at most the input size {size} (spatial dim {d})")
    return _plan("pad", tuple(input_shape[2:]), (mode, tuple(pads)), np.dtype(dtype).str)


def pad(x, pads, mode="constant", value=0.0):
    """x (N, C, *S) with 1-3 spatial dims -> (N, C, *(S + before + after)); pads: (before, after) per spatial
    dim (pad_widths converts PyTorch's flat form). mode: constant (value), reflect, replicate, circular."""
    x = _check_input(x, "input")
    pads = tuple(tuple(p) for p in pads)
    if len(pads) != len(x.shape) - 2:
        raise ValueError(f"pads must hold one (before, after) pair per spatial dim of {tuple(x.shape)}, got {pads}")
    if mode != "constant" and value != 0:
        raise ValueError(f"a fill value is only used by mode='constant', got value={value} with mode={mode!r}")
    forward, _ = _pad_plan(tuple(x.shape), pads, mode, x.dtype)
    return _run(x, forward, float(value))


def pad_grad_input(grad_out, input_shape, pads, mode="constant"):
    """Gradient of pad: grad_out (N, C, *padded) -> input_shape (each border value's gradient folded back)."""
    grad_out = _check_input(grad_out, "grad_out")
    _, backward = _pad_plan(tuple(input_shape), tuple(tuple(p) for p in pads), mode, grad_out.dtype)
    expected = tuple(input_shape[:2]) + tuple(n + lo + hi for n, (lo, hi) in zip(input_shape[2:], pads))
    if tuple(grad_out.shape) != expected:
        raise ValueError(f"grad_out has shape {tuple(grad_out.shape)}, padding {tuple(input_shape)} gives {expected}")
    return _run(grad_out, backward)


# --- interpolation --------------------------------------------------------------
def interpolate_geometry(input_shape, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """(output spatial shape, per-dim scales) of F.interpolate, PyTorch's rules: the output is `size`, or
    floor(input * scale_factor), and a given scale_factor sets the source step 1 / scale_factor."""
    nd = len(input_shape) - 2
    if mode not in reference.INTERPOLATE_MODES:
        raise ValueError(f"interpolate mode must be one of {reference.INTERPOLATE_MODES}, got {mode!r}")
    wanted = {"linear": 1, "bilinear": 2, "trilinear": 3}.get(mode, nd)
    if wanted != nd:
        raise ValueError(f"mode={mode!r} needs {wanted} spatial dims, the input has shape {tuple(input_shape)}")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("align_corners only applies to the linear modes, not to mode='nearest'")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate needs exactly one of size and scale_factor")
    if size is not None:
        out = shapes.as_tuple(size, nd, "size", 1)
        return out, tuple(n / o for n, o in zip(input_shape[2:], out))
    factors = (float(scale_factor),) * nd if isinstance(scale_factor, (int, float)) else tuple(map(float, scale_factor))
    if len(factors) != nd or any(not f > 0 for f in factors):
        raise ValueError(f"scale_factor must be a positive number or {nd} of them, got {scale_factor!r}")
    out = tuple(math.floor(n * f) for n, f in zip(input_shape[2:], factors))
    if any(o < 1 for o in out):
        raise ValueError(f"scale_factor {scale_factor!r} shrinks {tuple(input_shape[2:])} to nothing")
    return out, tuple(1 / f for f in factors)


def _interpolate_plan(input_shape, out_spatial, scales, mode, align_corners, dtype):
    mode = "nearest" if mode == "nearest" else "linear"
    return _plan("interpolate", tuple(input_shape[2:]), (tuple(out_spatial), tuple(scales), mode, bool(align_corners)),
                 np.dtype(dtype).str)


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """F.interpolate: x (N, C, *S) -> (N, C, *size) by nearest or (bi/tri)linear interpolation."""
    x = _check_input(x, "input")
    out_spatial, scales = interpolate_geometry(x.shape, size, scale_factor, mode, align_corners)
    forward, _ = _interpolate_plan(tuple(x.shape), out_spatial, scales, mode, align_corners, x.dtype)
    return _run(x, forward)


def interpolate_grad_input(grad_out, input_shape, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Gradient of interpolate: grad_out (N, C, *out) -> input_shape."""
    grad_out = _check_input(grad_out, "grad_out")
    out_spatial, scales = interpolate_geometry(tuple(input_shape), size, scale_factor, mode, align_corners)
    if tuple(grad_out.shape) != tuple(input_shape[:2]) + out_spatial:
        raise ValueError(f"grad_out has shape {tuple(grad_out.shape)}, interpolating {tuple(input_shape)} gives "
                         f"{tuple(input_shape[:2]) + out_spatial}")
    _, backward = _interpolate_plan(tuple(input_shape), out_spatial, scales, mode, align_corners, grad_out.dtype)
    return _run(grad_out, backward)


# --- adaptive pooling ---------------------------------------------------------------
def _adaptive_output(input_shape, nd, output_size):
    if len(input_shape) != nd + 2:
        raise ValueError(f"adaptive pool{nd}d input must be {nd + 2}-D (N, C, {'spatial ' * nd}), got shape "
                         f"{tuple(input_shape)}")
    sizes = (output_size,) * nd if isinstance(output_size, (int, np.integer, type(None))) else tuple(output_size)
    if len(sizes) != nd:
        raise ValueError(f"output_size must be an int or {nd} ints (None keeps a dim), got {output_size!r}")
    sizes = tuple(n if o is None else o for o, n in zip(sizes, input_shape[2:]))
    return shapes.as_tuple(sizes, nd, "output_size", 1)


def adaptive_avg_pool(x, nd, output_size):
    """x (N, C, *S) with nd spatial dims -> (N, C, *output_size): means over PyTorch's adaptive windows."""
    x = _check_input(x, "input", (nd,))
    out_spatial = _adaptive_output(x.shape, nd, output_size)
    forward, _ = _plan("adaptive_avg", tuple(x.shape[2:]), out_spatial, np.dtype(x.dtype).str)
    return _run(x, forward)


def adaptive_avg_pool_grad_input(grad_out, input_shape, nd):
    grad_out = _check_input(grad_out, "grad_out", (nd,))
    input_shape = tuple(input_shape)
    if tuple(grad_out.shape[:2]) != input_shape[:2] or len(input_shape) != nd + 2:
        raise ValueError(f"grad_out {tuple(grad_out.shape)} does not match the input shape {input_shape}")
    _, backward = _plan("adaptive_avg", input_shape[2:], tuple(grad_out.shape[2:]), np.dtype(grad_out.dtype).str)
    return _run(grad_out, backward)


def adaptive_max_pool(x, nd, output_size):
    """x (N, C, *S) -> (maxima (N, C, *output_size), int64 flat positions of each maximum in its input plane)."""
    x = _check_input(x, "input", (nd,))
    out_spatial = _adaptive_output(x.shape, nd, output_size)
    return select.resample_backend(shapes.device_of(x)).adaptive_max_pool(x, out_spatial)


def adaptive_max_pool_grad_input(grad_out, indices, input_shape, nd):
    """Each grad_out element added at its maximum's position: -> input_shape."""
    grad_out = _check_input(grad_out, "grad_out", (nd,))
    if tuple(indices.shape) != tuple(grad_out.shape) or tuple(grad_out.shape[:2]) != tuple(input_shape[:2]):
        raise ValueError(f"grad_out {tuple(grad_out.shape)} and indices {tuple(indices.shape)} must have one shape, "
                         f"with the input's {tuple(input_shape)[:2]} leading dims")
    return select.resample_backend(shapes.device_of(grad_out)).adaptive_max_pool_grad_input(
        grad_out, indices, tuple(input_shape))


def adaptive_avg_pool1d(x, output_size):
    """x (N, C, L) -> (N, C, output_size)."""
    return adaptive_avg_pool(x, 1, output_size)


def adaptive_avg_pool2d(x, output_size):
    """x (N, C, H, W) -> (N, C, *output_size); an int means a square output, None keeps that dim."""
    return adaptive_avg_pool(x, 2, output_size)


def adaptive_avg_pool3d(x, output_size):
    """x (N, C, D, H, W) -> (N, C, *output_size)."""
    return adaptive_avg_pool(x, 3, output_size)


def adaptive_max_pool1d(x, output_size, return_indices=False):
    """x (N, C, L) -> (N, C, output_size), and the int64 indices if return_indices."""
    out, indices = adaptive_max_pool(x, 1, output_size)
    return (out, indices) if return_indices else out


def adaptive_max_pool2d(x, output_size, return_indices=False):
    """x (N, C, H, W) -> (N, C, *output_size), and the int64 indices if return_indices."""
    out, indices = adaptive_max_pool(x, 2, output_size)
    return (out, indices) if return_indices else out


def adaptive_max_pool3d(x, output_size, return_indices=False):
    """x (N, C, D, H, W) -> (N, C, *output_size), and the int64 indices if return_indices."""
    out, indices = adaptive_max_pool(x, 3, output_size)
    return (out, indices) if return_indices else out
