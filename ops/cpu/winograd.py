"""Winograd's minimal filtering F(2x2, 3x3) for 3x3 stride-1 2-D convolutions (Lavin and Gray, 2016).

Each 2x2 block of outputs (a tile) is A^T [(G g G^T) * (B^T d B)] A, d the tile's 4x4 input patch and g a
3x3 filter: 16 multiplications per tile and channel where the direct sum takes 36. Summed over channels,
the 16 elementwise products become 16 matrix products, (K, C) filters by (C, tiles), on the float32 kernel
of ops/_native/sgemm.h (BLAS for float64): 2.25 times fewer flops than any im2col or direct method, for
transforms that stay in the L2 cache (ops/_native/winograd.pyx: conv_winograd). The transforms add a little
rounding: a few 1e-7 relative in float32 on the bench shapes. Other geometries raise NotImplementedError
(the selector never picks it there).

grad_input is the forward of grad_out with the flipped, transposed filters (a stride-1 conv again). The
weight gradient is the direct family's (ops.select.CONV_FAMILIES): Winograd's F(3x3, 2x2) for it is not
done here.
"""
import math

import numpy as np

from .. import select, shapes, threads
from .._native import products
from .._native import winograd as native
from . import gemm, planes
from .cost_model import CALL, PACK_ELEMENT, fast_products, padded_extent, parallel, product_flop, tile_waste

# Tile rows per task: as many as keep a task's transforms and products near 64 tiles (in the L2 cache).
_TILES_PER_TASK = 64

# The tile transforms add and subtract inputs: an Inf can come out of its tile's outputs as NaN (Inf - Inf).
SPREADS_NONFINITE = True

# The cost model's rates (seconds, float32, one core; see ops.cpu.cost_model): one element of a transform (input,
# or output), in the L2 cache, on AVX-512 ...
WINOGRAD_ELEMENT = 0.28e-9
WINOGRAD_SCALAR = 4e-9  # ... and by the scalar loops (float64, or a CPU without AVX-512)

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def _computes(geom):
    """Whether F(2x2, 3x3) computes this conv: 2-D, a 3x3 kernel, stride 1, no dilation, no groups."""
    return (geom.nd == 2 and geom.kernel == (3, 3) and geom.stride == (1, 1) and geom.dilation == (1, 1)
            and geom.groups == 1)


def supports(geom, dtype, op):
    """Float 2-D 3x3 convs with stride 1, dilation 1 and groups 1, forward and grad_input (its weight gradient
    is the direct family's, which 'auto' ranks on its own)."""
    return op != "grad_weight" and dtype in shapes.FLOAT_DTYPES and _computes(geom)


def _check(geom):
    if not _computes(geom):
        raise NotImplementedError(f"the winograd algorithm computes 2-D 3x3 convs with stride 1, dilation 1 and "
                                  f"groups 1; got kernel {geom.kernel}, stride {geom.stride}, dilation "
                                  f"{geom.dilation}, groups {geom.groups}")


def _transformed(w):
    """(K, C, 3, 3) -> (16, K, C): G g G^T of every filter, flattened over its 4x4 cells."""
    u = np.einsum("ai,kcij,bj->abkc", _G, w, _G)
    return np.ascontiguousarray(u, w.dtype).reshape((16,) + w.shape[:2])


def cost(op, geom, itemsize, threads):
    """Estimated seconds of one pass: the flops / 2.25 of its 16 products per tile (empty rows of the kernel's
    8-row tile count), plus the padded copy and the transforms' elements (16 per tile and channel or filter, far
    cheaper on AVX-512 than in the scalar loops), divided by min(threads, its tasks)."""
    tiles = math.prod(-(-o // 2) for o in geom.out_spatial)
    transformed = geom.batch * tiles * 16 * (geom.in_channels + geom.out_channels)
    rows = geom.out_channels if op == "forward" else geom.in_channels
    work = (geom.flops / 2.25 * product_flop(itemsize) * tile_waste(rows) + geom.batch * math.prod(padded_extent(geom)) * geom.in_channels
            * PACK_ELEMENT + transformed * (WINOGRAD_ELEMENT if fast_products(itemsize) else WINOGRAD_SCALAR))
    return CALL + parallel(work, geom.batch * max(1, tiles // 64), threads)


def forward(x, w, bias, geom):
    """x (N, C, H, W), w (K, C, 3, 3), bias (K,) or None -> (N, K, H_out, W_out)."""
    _check(geom)
    n_threads = threads.get_num_threads()
    (ho, wo), (top, _), (left, _) = geom.out_spatial, *geom.padding
    tiles = (-(-ho // 2), -(-wo // 2))
    hq, wq = 2 * tiles[0] + 2, 2 * tiles[1] + 2
    xp = planes.padded_planes(x, (0, top, left), (1, 1, 1, hq, wq), hq * wq)
    u = _transformed(w)
    packed = gemm.packed_weights(u.reshape(-1, u.shape[2]), 16)  # the 16 (K, C) matrices
    block_rows = max(1, _TILES_PER_TASK // tiles[1])
    per_thread = 16 * (geom.in_channels + geom.out_channels) * block_rows * tiles[1] + products.scratch_size(0, 0, 0)
    out = np.empty((geom.batch, geom.out_channels, math.prod(geom.out_spatial)), x.dtype)
    native.conv_winograd(xp, u, packed, bias, out, wq, tiles, geom.out_spatial, block_rows,
                         np.empty((n_threads, per_thread), x.dtype), n_threads)
    return out.reshape(geom.output_shape)


def grad_input(grad_out, w, geom):
    """grad_out (N, K, H_out, W_out), w (K, C, 3, 3) -> (N, C, H, W)."""
    _check(geom)
    return planes.transposed_forward(forward, grad_out, w, geom)


def grad_weight(x, grad_out, geom):
    """x (N, C, H, W), grad_out (N, K, H_out, W_out) -> (K, C, 3, 3), by the direct family (ops.select)."""
    _check(geom)
    return select.conv_algorithm(geom, "cpu", "direct").grad_weight(x, grad_out, geom)
