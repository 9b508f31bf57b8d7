"""Convolution as im2col + matrix products (the workhorse for many channels).

The Cython extension (ops._native.gemm) does the work: each task packs one
block of output positions of one image into a per-thread buffer that stays in
the L2 cache and multiplies it there with sgemm/dgemm (scipy.linalg.cython_blas)
straight into the (N, K, L) output; 1x1 stride-1 convs skip the packing. The
tasks run on our OpenMP threads with BLAS single-threaded inside, so threads
never nest. grad_input multiplies then scatters (col2im) one (image, group) per
task; grad_weight sums partial products, each over a fixed run of tasks.
"""
import math

import numpy as np

from .. import shapes, threads
from .._native import gemm as native
from .._native import products
from .cost_model import CALL, PACK_ELEMENT, parallel, product_flop, tile_waste

# Bytes of packed columns per block: half of the 1 MiB L2 per core of the machine we measure on,
# so the block, a panel of the weights and the output block all stay there.
_BLOCK_BYTES = 512 * 1024

# The cost model's rates (seconds, float32, one core; see ops.cpu.cost_model)
GEMM_CALL = 0.5e-6  # one product on a block, with its own packing of the operands
PACK_RUN = 4e-9     # one run of im2col (an output line of one channel at one kernel offset)


def _as_3d(values, fill):
    """Left-pad a per-dim tuple to 3 dims, so 1-D and 2-D convs run as 3-D ones."""
    return (fill,) * (3 - len(values)) + tuple(values)


def _five_d(shape):
    return tuple(shape[:2]) + _as_3d(shape[2:], 1)


def _args(geom):
    return (_as_3d(geom.kernel, 1), _as_3d(geom.stride, 1), _as_3d(tuple(lo for lo, _ in geom.padding), 0),
            _as_3d(geom.dilation, 1), _as_3d(geom.out_spatial, 1))


def _rows(geom):
    """Rows of the packed matrix of one image: every channel at every kernel offset."""
    return geom.in_channels * math.prod(geom.kernel)


def _block(geom, dtype):
    """Output positions per task: as many as fit _BLOCK_BYTES of packed rows, a multiple of 16."""
    positions = math.prod(geom.out_spatial)
    fit = max(16, _BLOCK_BYTES // (_rows(geom) * np.dtype(dtype).itemsize) // 16 * 16)
    return min(positions, fit)


def _work(geom, dtype, n_threads, block):
    return np.empty((n_threads, products.scratch_size(_rows(geom), block, geom.out_channels)), dtype)


def reduction_slots(threads, elements):
    """How many partial sums of `elements` each a weight gradient keeps. It depends on the geometry and the thread
    count alone, never on which thread runs what, so the sums' order and bits stay the same call after call; small
    partials get four per thread, so that a thread that wakes late takes fewer of them."""
    return 4 * threads if 4 * threads * elements <= 1 << 15 else threads


def packed_weights(w2, groups, transposed=False):
    """Each group's (K / groups, R) block of w2 (K, R), or its transpose, packed once for the float32 kernel
    (empty where BLAS does the products)."""
    m, k = w2.shape[0] // groups, w2.shape[1]
    fast = w2.dtype == np.float32 and products.fast_sgemm()
    packed = np.empty(groups * products.packed_size(*((k, m) if transposed else (m, k))) if fast else 0, w2.dtype)
    products.pack_weights(w2, groups, transposed, packed)
    return packed


def supports(geom, dtype, op):
    """Every geometry, op ('forward', 'grad_input', 'grad_weight') and float dtype."""
    return dtype in shapes.FLOAT_DTYPES


def cost(op, geom, itemsize, threads):
    """Estimated seconds of one pass: the flops at the product rate (AVX-512 kernel, else BLAS; empty rows of
    its 8-row tile count), plus the im2col/col2im elements (three times for the weight gradient, whose product
    packs them again, transposed) and lines, plus one call per image block and group; divided by
    min(threads, its tasks)."""
    out_positions = math.prod(geom.out_spatial)
    kvol = math.prod(geom.kernel)
    identity = kvol == 1 and all(s == 1 for s in geom.stride) and not any(map(any, geom.padding))
    packed = 0 if identity else geom.batch * geom.in_channels * kvol * out_positions
    runs = 0 if identity else packed // geom.out_spatial[-1]
    calls = geom.batch * geom.groups * max(1, out_positions // 4096)
    kg = geom.out_channels // geom.groups
    rows = {"forward": kg, "grad_input": geom.in_channels // geom.groups * kvol, "grad_weight": kg}[op]
    if op == "grad_weight":  # the columns packed once more, transposed, as the product's B
        packed *= 3
    work = (geom.flops * product_flop(itemsize) * tile_waste(rows) + packed * PACK_ELEMENT + runs * PACK_RUN
            + calls * GEMM_CALL)
    tasks = geom.batch * (geom.groups if op == "grad_input" else max(1, out_positions // 256))
    return CALL + parallel(work, tasks, threads)


def forward(x, w, bias, geom):
    """x (N, C, *S), w (K, C // groups, *k), bias (K,) or None -> (N, K, *S_out)."""
    n_threads = threads.get_num_threads()
    block = _block(geom, x.dtype)
    out = np.empty((geom.batch, geom.out_channels, math.prod(geom.out_spatial)), x.dtype)
    w2 = w.reshape(geom.out_channels, -1)
    packed = packed_weights(w2, geom.groups)
    native.conv_forward(x.reshape(_five_d(x.shape)), w2, packed, bias, out, *_args(geom), geom.groups, block,
                        _work(geom, x.dtype, n_threads, block), n_threads)
    return out.reshape(geom.output_shape)


def grad_input(grad_out, w, geom):
    """grad_out (N, K, *S_out), w (K, C // groups, *k) -> (N, C, *S)."""
    n_threads = threads.get_num_threads()
    block = _block(geom, grad_out.dtype)
    grad = np.empty(_five_d(geom.input_shape), grad_out.dtype)
    w2 = w.reshape(geom.out_channels, -1)
    packed = packed_weights(w2, geom.groups, transposed=True)
    native.conv_grad_input(grad_out.reshape(geom.batch, geom.out_channels, -1), w2, packed, grad, *_args(geom),
                           geom.groups, block, _work(geom, grad_out.dtype, n_threads, block), n_threads)
    return grad.reshape(geom.input_shape)


def grad_weight(x, grad_out, geom):
    """x (N, C, *S), grad_out (N, K, *S_out) -> (K, C // groups, *k)."""
    n_threads = threads.get_num_threads()
    block = _block(geom, x.dtype)
    size = geom.out_channels * _rows(geom) // geom.groups
    partial = np.zeros((reduction_slots(n_threads, size), geom.out_channels, _rows(geom) // geom.groups), x.dtype)
    native.conv_grad_weight(x.reshape(_five_d(x.shape)), grad_out.reshape(geom.batch, geom.out_channels, -1),
                            partial, *_args(geom), geom.groups, block, _work(geom, x.dtype, n_threads, block),
                            n_threads)
    return partial.sum(axis=0).reshape(geom.weight_shape)
