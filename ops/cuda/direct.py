"""Direct correlation on the GPU (small channel counts, depthwise, 1-D/3-D, first layers).

forward: each block computes a tile of blockDim.y x blockDim.x outputs of one
depth slice for OUT_CHANNELS_PER_THREAD output channels, so every thread keeps
that many accumulators. Per input channel and kernel depth it stages the input
window the tile reads (halo included) and the weights it needs in shared
memory, then every thread reads only shared memory.
grad_input: one thread per input element gathers the outputs whose windows
cover it (no atomics, deterministic).
grad_weight: each row of a block reduces one weight element over batch and
output positions, its lanes striding over them, then a tree sum in shared memory.

Same interface as ops.reference.conv: x (N, C, *S), w (K, C // groups, *k),
device arrays in and out, geom an ops.shapes.ConvGeometry.
"""
from numba import cuda, int64

from . import arrays
from .arrays import REDUCE_THREADS
from .indexing import SUM, covering_window, row_reduce, unravel5

OUT_CHANNELS_PER_THREAD = 4
TILE_THREADS = 128
SHARED_BYTES = 48 * 1024     # what every CUDA GPU gives one block without opting in


@cuda.jit(cache=True)
def _forward(x, w, bias, out, kernel, stride, pad, dilation, patch_h, patch_w):
    # x (N, C, D, H, W), w (K, C/G, kd, kh, kw), bias (K,) or (0,), out (N, K, Do, Ho, Wo)
    kd, kh, kw = kernel
    channels_per_group = w.shape[1]
    groups = x.shape[1] // channels_per_group
    kernels_per_group = w.shape[0] // groups
    k_blocks = (kernels_per_group + OUT_CHANNELS_PER_THREAD - 1) // OUT_CHANNELS_PER_THREAD
    patch = cuda.shared.array(0, x.dtype)    # (patch_h, patch_w) input window, then (kb, kh, kw) weights
    weights = patch[patch_h * patch_w:]
    acc = cuda.local.array(OUT_CHANNELS_PER_THREAD, x.dtype)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    tid = ty * cuda.blockDim.x + tx
    n_threads = cuda.blockDim.x * cuda.blockDim.y
    oh = cuda.blockIdx.y * cuda.blockDim.y + ty
    ow = cuda.blockIdx.x * cuda.blockDim.x + tx
    h0 = cuda.blockIdx.y * cuda.blockDim.y * stride[1] - pad[1]
    w0 = cuda.blockIdx.x * cuda.blockDim.x * stride[2] - pad[2]
    n_z = x.shape[0] * out.shape[2] * groups * k_blocks
    for z in range(cuda.blockIdx.z, n_z, cuda.gridDim.z):
        k_block = z % k_blocks
        g = (z // k_blocks) % groups
        od = (z // (k_blocks * groups)) % out.shape[2]
        n = z // (k_blocks * groups * out.shape[2])
        k0 = g * kernels_per_group + k_block * OUT_CHANNELS_PER_THREAD
        k_count = min(OUT_CHANNELS_PER_THREAD, (g + 1) * kernels_per_group - k0)
        for j in range(OUT_CHANNELS_PER_THREAD):
            acc[j] = 0
        for cl in range(channels_per_group):
            c = g * channels_per_group + cl
            for a in range(kd):
                id_ = od * stride[0] - pad[0] + a * dilation[0]
                if id_ < 0 or id_ >= x.shape[2]:
                    continue    # the same for the whole block, so the barriers below stay uniform
                for e in range(tid, patch_h * patch_w, n_threads):
                    ih = h0 + e // patch_w
                    iw = w0 + e % patch_w
                    if 0 <= ih < x.shape[3] and 0 <= iw < x.shape[4]:
                        patch[e] = x[n, c, id_, ih, iw]
                    else:
                        patch[e] = 0
                for e in range(tid, k_count * kh * kw, n_threads):
                    j = e // (kh * kw)
                    weights[e] = w[k0 + j, cl, a, (e // kw) % kh, e % kw]
                cuda.syncthreads()
                for b in range(kh):
                    row = (ty * stride[1] + b * dilation[1]) * patch_w + tx * stride[2]
                    for q in range(kw):
                        v = patch[row + q * dilation[2]]
                        for j in range(k_count):
                            acc[j] += v * weights[(j * kh + b) * kw + q]
                cuda.syncthreads()
        if oh < out.shape[3] and ow < out.shape[4]:
            for j in range(k_count):
                if bias.shape[0] > 0:
                    acc[j] += bias[k0 + j]
                out[n, k0 + j, od, oh, ow] = acc[j]


def _tile(geom, itemsize):
    """Threads (x along output width, y along height) and the input patch they read; shrunk until it fits shared memory."""
    _, out_h, out_w = arrays.three(geom.out_spatial, 1)
    kernel, stride, _, dilation = arrays.conv_args(geom)
    tx = min(32 if out_h > 1 else TILE_THREADS, arrays.next_pow2(out_w))
    ty = min(TILE_THREADS // tx, arrays.next_pow2(out_h))
    while True:
        patch_h = (ty - 1) * stride[1] + (kernel[1] - 1) * dilation[1] + 1
        patch_w = (tx - 1) * stride[2] + (kernel[2] - 1) * dilation[2] + 1
        shared = (patch_h * patch_w + OUT_CHANNELS_PER_THREAD * kernel[1] * kernel[2]) * itemsize
        if shared <= SHARED_BYTES:
            return (tx, ty), patch_h, patch_w, shared
        if tx == ty == 1:
            raise ValueError(f"the direct CUDA conv needs {shared} bytes of shared memory for kernel {geom.kernel} "
                             f"with dilation {geom.dilation}; use algorithm='gemm'")
        tx, ty = (tx // 2, ty) if tx >= ty else (tx, ty // 2)


def forward(x, w, bias, geom):
    out = arrays.empty(geom.output_shape, x.dtype)
    threads, patch_h, patch_w, shared = _tile(geom, x.dtype.itemsize)
    out5 = arrays.five_d(out)
    k_blocks = -(-(geom.out_channels // geom.groups) // OUT_CHANNELS_PER_THREAD)
    n_z = geom.batch * out5.shape[2] * geom.groups * k_blocks
    grid = (arrays.blocks(out5.shape[4], threads[0]), arrays.blocks(out5.shape[3], threads[1]), min(n_z, arrays.MAX_GRID_Z))
    bias = arrays.empty((0,), x.dtype) if bias is None else bias
    kernel, stride, pad, dilation = arrays.conv_args(geom)
    _forward[grid, threads, 0, shared](arrays.five_d(x), arrays.five_d(w), bias, out5,
                                       kernel, stride, pad, dilation, patch_h, patch_w)
    return out


@cuda.jit(cache=True)
def _grad_input(grad_out, w, grad_x, kernel, stride, pad, dilation):
    # w (K, C/G, kvol): the kernel taps flattened
    i = cuda.grid(1)
    if i >= grad_x.size:
        return
    n, c, d, h, col = unravel5(i, grad_x.shape)
    channels_per_group = w.shape[1]
    kernels_per_group = w.shape[0] // (grad_x.shape[1] // channels_per_group)
    g, cl = c // channels_per_group, c % channels_per_group
    acc = cuda.local.array(1, grad_x.dtype)
    acc[0] = 0
    for tap in range(kernel[0] * kernel[1] * kernel[2]):
        od, oh, ow = covering_window(tap, d, h, col, kernel, stride, pad, dilation,
                                     grad_out.shape[2], grad_out.shape[3], grad_out.shape[4])
        if od >= 0:
            for k in range(g * kernels_per_group, (g + 1) * kernels_per_group):
                acc[0] += grad_out[n, k, od, oh, ow] * w[k, cl, tap]
    grad_x[n, c, d, h, col] = acc[0]


def grad_input(grad_out, w, geom):
    grad_x = arrays.empty(geom.input_shape, grad_out.dtype)
    taps = w.reshape(tuple(w.shape[:2]) + (w.size // (w.shape[0] * w.shape[1]),))
    _grad_input[arrays.grid(grad_x.size)](arrays.five_d(grad_out), taps, arrays.five_d(grad_x), *arrays.conv_args(geom))
    return grad_x


@cuda.jit(cache=True)
def _grad_weight(x, grad_out, grad_w, stride, pad, dilation):
    # block (lanes, weights): each row of lanes reduces one weight element
    e = cuda.blockIdx.x * cuda.blockDim.y + cuda.threadIdx.y
    k, cl, a, b, q = unravel5(min(e, grad_w.size - 1), grad_w.shape)
    channels_per_group = grad_w.shape[1]
    kernels_per_group = grad_w.shape[0] // (x.shape[1] // channels_per_group)
    c = (k // kernels_per_group) * channels_per_group + cl
    out_d, out_h, out_w = grad_out.shape[2], grad_out.shape[3], grad_out.shape[4]
    acc = cuda.local.array(1, x.dtype)
    acc[0] = 0
    for r in range(cuda.threadIdx.x, x.shape[0] * out_d * out_h * out_w, cuda.blockDim.x):
        ow = r % out_w
        oh = (r // out_w) % out_h
        od = (r // (out_w * out_h)) % out_d
        n = r // (out_w * out_h * out_d)
        id_ = od * stride[0] - pad[0] + a * dilation[0]
        ih = oh * stride[1] - pad[1] + b * dilation[1]
        iw = ow * stride[2] - pad[2] + q * dilation[2]
        if 0 <= id_ < x.shape[2] and 0 <= ih < x.shape[3] and 0 <= iw < x.shape[4]:
            acc[0] += grad_out[n, k, od, oh, ow] * x[n, c, id_, ih, iw]
    partial = cuda.shared.array(REDUCE_THREADS, x.dtype)
    partial_index = cuda.shared.array(REDUCE_THREADS, int64)
    total, _ = row_reduce(SUM, partial, partial_index, acc[0], 0)
    if cuda.threadIdx.x == 0 and e < grad_w.size:
        grad_w[k, cl, a, b, q] = total


def grad_weight(x, grad_out, geom):
    grad_w = arrays.empty(geom.weight_shape, x.dtype)
    _, stride, pad, dilation = arrays.conv_args(geom)
    threads = arrays.reduction_block(grad_out.size // geom.out_channels, grad_w.size)
    _grad_weight[arrays.blocks(grad_w.size, threads[1]), threads](
        arrays.five_d(x), arrays.five_d(grad_out), arrays.five_d(grad_w), stride, pad, dilation)
    return grad_w
