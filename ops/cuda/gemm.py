"""Convolution as im2col + tiled shared-memory matrix products on the GPU (the workhorse for many channels).

im2col packs x into cols (N, C * kvol, L), L the output positions, one thread
per element; col2im is its adjoint, gathered per input element (no atomics).
A pointwise conv (1x1, stride 1, no padding) skips both: x is its own cols.
matmul multiplies strided matrices in batches: every product reads its
operands through (row, column) strides, so transposes cost nothing, and the
batch index splits into (outer, group) plus an optional summed index, which
is how one call covers all images and groups:
  forward      out[n, g]  = W[g] @ cols[n, g]                (+ bias, fused)
  grad_input   dcols[n, g] = W[g]^T @ dout[n, g]   -> col2im
  grad_weight  dW[g]      = sum_n dout[n, g] @ cols[n, g]^T
Each block computes a (blockDim.y * 4) x (blockDim.x * 4) tile of C, each
thread a 4 x 4 register block; K advances in slices of TILE_K staged in shared
memory, loaded so that consecutive threads read consecutive addresses.
"""
from numba import cuda

from . import arrays
from .indexing import covering_window, unravel5

REGISTER_BLOCK = 4       # each thread computes REGISTER_BLOCK x REGISTER_BLOCK outputs
MAX_THREADS_ALONG = 16   # threads per block along each side of the C tile (tiles up to 64 x 64)
TILE_K = 16
_MAX_TILE = MAX_THREADS_ALONG * REGISTER_BLOCK
_SHARED_LEADING = _MAX_TILE + 1      # one element of padding: row-wise stores hit distinct banks


@cuda.jit(cache=True)
def _matmul(a, b, c, bias, m, n, k, groups, batches, sums, a_strides, b_strides, c_strides):
    # C[z] = sum_s A[z, s] @ B[z, s] (+ bias[g * m + row]) for z = q * groups + g; strides are
    # (outer q, group g, summed s, row, column) over the flat arrays a, b, c
    a_tile = cuda.shared.array((TILE_K, _SHARED_LEADING), a.dtype)
    b_tile = cuda.shared.array((TILE_K, _SHARED_LEADING), a.dtype)
    acc = cuda.local.array((REGISTER_BLOCK, REGISTER_BLOCK), a.dtype)
    a_regs = cuda.local.array(REGISTER_BLOCK, a.dtype)
    b_regs = cuda.local.array(REGISTER_BLOCK, a.dtype)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    bx, by = cuda.blockDim.x, cuda.blockDim.y
    tile_m, tile_n = by * REGISTER_BLOCK, bx * REGISTER_BLOCK
    tid, n_threads = ty * bx + tx, bx * by
    row0 = cuda.blockIdx.y * tile_m
    col0 = cuda.blockIdx.x * tile_n
    for z in range(cuda.blockIdx.z, batches * groups, cuda.gridDim.z):
        q, g = z // groups, z % groups
        for i in range(REGISTER_BLOCK):
            for j in range(REGISTER_BLOCK):
                acc[i, j] = 0
        for s in range(sums):
            a0 = q * a_strides[0] + g * a_strides[1] + s * a_strides[2]
            b0 = q * b_strides[0] + g * b_strides[1] + s * b_strides[2]
            for k0 in range(0, k, TILE_K):
                for e in range(tid, tile_m * TILE_K, n_threads):
                    if a_strides[4] == 1:     # walk along k, the contiguous direction
                        i, p = e // TILE_K, e % TILE_K
                    else:
                        i, p = e % tile_m, e // tile_m
                    if row0 + i < m and k0 + p < k:
                        a_tile[p, i] = a[a0 + (row0 + i) * a_strides[3] + (k0 + p) * a_strides[4]]
                    else:
                        a_tile[p, i] = 0
                for e in range(tid, tile_n * TILE_K, n_threads):
                    if b_strides[4] == 1:
                        j, p = e % tile_n, e // tile_n
                    else:
                        j, p = e // TILE_K, e % TILE_K
                    if col0 + j < n and k0 + p < k:
                        b_tile[p, j] = b[b0 + (k0 + p) * b_strides[3] + (col0 + j) * b_strides[4]]
                    else:
                        b_tile[p, j] = 0
                cuda.syncthreads()
                for p in range(TILE_K):
                    for i in range(REGISTER_BLOCK):
                        a_regs[i] = a_tile[p, ty + i * by]
                    for j in range(REGISTER_BLOCK):
                        b_regs[j] = b_tile[p, tx + j * bx]
                    for i in range(REGISTER_BLOCK):
                        for j in range(REGISTER_BLOCK):
                            acc[i, j] += a_regs[i] * b_regs[j]
                cuda.syncthreads()
        c0 = q * c_strides[0] + g * c_strides[1]
        for i in range(REGISTER_BLOCK):
            row = row0 + ty + i * by
            for j in range(REGISTER_BLOCK):
                col = col0 + tx + j * bx
                if row < m and col < n:
                    value = acc[i, j]
                    if bias.shape[0] > 0:
                        value += bias[g * m + row]
                    c[c0 + row * c_strides[3] + col * c_strides[4]] = value


def matmul(a, b, c, m, n, k, a_strides, b_strides, c_strides, groups=1, batches=1, sums=1, bias=None):
    """C[q, g] = sum_s A[q, g, s] @ B[q, g, s] (+ bias[g * m + row]) for q < batches, g < groups, s < sums.

    a, b, c: contiguous device arrays read and written through 5-tuples of strides in
    elements (outer, group, summed, row, column); A is m x k, B k x n, C m x n.
    """
    ty = min(MAX_THREADS_ALONG, arrays.next_pow2(-(-m // REGISTER_BLOCK)))
    tx = min(MAX_THREADS_ALONG, arrays.next_pow2(-(-n // REGISTER_BLOCK)))
    grid = (arrays.blocks(n, tx * REGISTER_BLOCK), arrays.blocks(m, ty * REGISTER_BLOCK),
            min(batches * groups, arrays.MAX_GRID_Z))
    bias = arrays.empty((0,), c.dtype) if bias is None else bias
    _matmul[grid, (tx, ty)](arrays.flat(a), arrays.flat(b), arrays.flat(c), bias, m, n, k, groups, batches, sums,
                            a_strides, b_strides, c_strides)


@cuda.jit(cache=True)
def _im2col(x, cols, kernel, stride, pad, dilation, out_spatial):
    # x (N, C, D, H, W) -> cols (N, C * kd * kh * kw, Do * Ho * Wo)
    i = cuda.grid(1)
    if i >= cols.size:
        return
    out_d, out_h, out_w = out_spatial
    position = i % cols.shape[2]
    row = (i // cols.shape[2]) % cols.shape[1]
    n = i // (cols.shape[2] * cols.shape[1])
    ow = position % out_w
    oh = (position // out_w) % out_h
    od = position // (out_w * out_h)
    kvol = kernel[0] * kernel[1] * kernel[2]
    c, tap = row // kvol, row % kvol
    q = tap % kernel[2]
    b = (tap // kernel[2]) % kernel[1]
    a = tap // (kernel[2] * kernel[1])
    id_ = od * stride[0] - pad[0] + a * dilation[0]
    ih = oh * stride[1] - pad[1] + b * dilation[1]
    iw = ow * stride[2] - pad[2] + q * dilation[2]
    if 0 <= id_ < x.shape[2] and 0 <= ih < x.shape[3] and 0 <= iw < x.shape[4]:
        cols[n, row, position] = x[n, c, id_, ih, iw]
    else:
        cols[n, row, position] = 0


@cuda.jit(cache=True)
def _col2im(cols, grad_x, kernel, stride, pad, dilation, out_spatial):
    i = cuda.grid(1)
    if i >= grad_x.size:
        return
    n, c, d, h, col = unravel5(i, grad_x.shape)
    out_d, out_h, out_w = out_spatial
    acc = cuda.local.array(1, grad_x.dtype)
    acc[0] = 0
    taps = kernel[0] * kernel[1] * kernel[2]
    for tap in range(taps):
        od, oh, ow = covering_window(tap, d, h, col, kernel, stride, pad, dilation, out_d, out_h, out_w)
        if od >= 0:
            acc[0] += cols[n, c * taps + tap, (od * out_h + oh) * out_w + ow]
    grad_x[n, c, d, h, col] = acc[0]


def _sizes(geom):
    """(kvol, L, per-group channel and kernel counts) of a geometry."""
    kvol = 1
    for v in geom.kernel:
        kvol *= v
    positions = 1
    for v in geom.out_spatial:
        positions *= v
    return kvol, positions, geom.in_channels // geom.groups, geom.out_channels // geom.groups


def _pointwise(geom):
    """A 1x1 conv with stride 1 and no padding: x (N, C, L) already is its cols."""
    return all(k == 1 for k in geom.kernel) and all(s == 1 for s in geom.stride) and \
        all(p == (0, 0) for p in geom.padding)


def _cols(x, geom):
    kvol, positions, _, _ = _sizes(geom)
    if _pointwise(geom):
        return x.reshape((geom.batch, geom.in_channels, positions))
    cols = arrays.empty((geom.batch, geom.in_channels * kvol, positions), x.dtype)
    _im2col[arrays.grid(cols.size)](arrays.five_d(x), cols, *arrays.conv_args(geom), arrays.three(geom.out_spatial, 1))
    return cols


def forward(x, w, bias, geom):
    kvol, positions, cg, kg = _sizes(geom)
    out = arrays.empty(geom.output_shape, x.dtype)
    matmul(w, _cols(x, geom), out, kg, positions, cg * kvol,
           (0, kg * cg * kvol, 0, cg * kvol, 1),
           (geom.in_channels * kvol * positions, cg * kvol * positions, 0, positions, 1),
           (geom.out_channels * positions, kg * positions, 0, positions, 1),
           groups=geom.groups, batches=geom.batch, bias=bias)
    return out


def grad_input(grad_out, w, geom):
    kvol, positions, cg, kg = _sizes(geom)
    grad_x = arrays.empty(geom.input_shape, grad_out.dtype)
    # a pointwise conv's column gradient is the input gradient itself
    cols = grad_x if _pointwise(geom) else arrays.empty((geom.batch, geom.in_channels * kvol, positions), grad_out.dtype)
    matmul(w, grad_out, cols, cg * kvol, positions, kg,
           (0, kg * cg * kvol, 0, 1, cg * kvol),
           (geom.out_channels * positions, kg * positions, 0, positions, 1),
           (geom.in_channels * kvol * positions, cg * kvol * positions, 0, positions, 1),
           groups=geom.groups, batches=geom.batch)
    if not _pointwise(geom):
        _col2im[arrays.grid(grad_x.size)](cols, arrays.five_d(grad_x), *arrays.conv_args(geom),
                                          arrays.three(geom.out_spatial, 1))
    return grad_x


def grad_weight(x, grad_out, geom):
    kvol, positions, cg, kg = _sizes(geom)
    grad_w = arrays.empty(geom.weight_shape, x.dtype)
    matmul(grad_out, _cols(x, geom), grad_w, kg, cg * kvol, positions,
           (0, kg * positions, geom.out_channels * positions, positions, 1),
           (0, cg * kvol * positions, geom.in_channels * kvol * positions, 1, positions),
           (0, kg * cg * kvol, 0, cg * kvol, 1),
           groups=geom.groups, sums=geom.batch)
    return grad_w
