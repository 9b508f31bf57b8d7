"""Index arithmetic shared by the kernels (CUDA device functions, inlined into each kernel that calls them)."""
from numba import cuda


@cuda.jit(device=True)
def unravel5(i, shape):
    """Flat index i of a C-ordered 5-D array of `shape` -> its 5 coordinates."""
    q = i % shape[4]
    i //= shape[4]
    p = i % shape[3]
    i //= shape[3]
    r = i % shape[2]
    i //= shape[2]
    return i // shape[1], i % shape[1], r, p, q


@cuda.jit(device=True)
def window_of(position, pad, tap, dilation, stride, out_size):
    """The output position whose window puts kernel tap `tap` on input `position` (along one dim), or -1.

    Output o reads input o * stride - pad + tap * dilation; this inverts that.
    """
    t = position + pad - tap * dilation
    if t < 0 or t % stride != 0:
        return -1
    o = t // stride
    return o if o < out_size else -1


@cuda.jit(device=True)
def covering_window(tap, d, h, w, kernel, stride, pad, dilation, out_d, out_h, out_w):
    """The output position (od, oh, ow) whose window puts kernel tap `tap` on input position (d, h, w),
    or (-1, -1, -1) when there is none. Taps are numbered in C order over the kernel's (kd, kh, kw)."""
    od = window_of(d, pad[0], tap // (kernel[2] * kernel[1]), dilation[0], stride[0], out_d)
    oh = window_of(h, pad[1], (tap // kernel[2]) % kernel[1], dilation[1], stride[1], out_h)
    ow = window_of(w, pad[2], tap % kernel[2], dilation[2], stride[2], out_w)
    if od < 0 or oh < 0 or ow < 0:
        return -1, -1, -1
    return od, oh, ow


@cuda.jit(device=True)
def row_sum(partial, value):
    """Sum `value` over threadIdx.x within each row (threadIdx.y) of the block; every thread gets its row's sum.

    blockDim.x must be a power of two and partial hold blockDim.x * blockDim.y
    elements. Every thread of the block must call this (it holds barriers).
    """
    t = cuda.threadIdx.x
    row = cuda.threadIdx.y * cuda.blockDim.x
    partial[row + t] = value
    cuda.syncthreads()
    step = cuda.blockDim.x // 2
    while step > 0:
        if t < step:
            partial[row + t] += partial[row + t + step]
        cuda.syncthreads()
        step //= 2
    total = partial[row]
    cuda.syncthreads()
    return total
