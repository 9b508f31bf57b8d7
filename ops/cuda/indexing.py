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


# what a reduction computes (row_reduce, elementwise.reduce_axes)
SUM, MAX, ARGMAX = 0, 1, 2


@cuda.jit(device=True)
def strided_offset(index, shape, strides):
    """Element offset of flat position `index` of a C-ordered index space of `shape`, laid over `strides`.

    shape and strides have MAX_RANK (5) entries: pad fewer dims with leading 1s and 0s. A broadcast dim has stride 0.
    """
    offset = 0
    for d in range(4, -1, -1):
        offset += (index % shape[d]) * strides[d]
        index //= shape[d]
    return offset


@cuda.jit(device=True)
def combine(op, value, index, other, other_index):
    """Merge two partial reductions (value, index), index -1 marking an empty one.

    SUM adds; MAX and ARGMAX keep the larger value, NaN over any number and the
    lower index between equals: NumPy's first occurrence.
    """
    if other_index < 0:
        return value, index
    if index < 0:
        return other, other_index
    if op == SUM:
        return value + other, index
    value_nan, other_nan = value != value, other != other
    if other_nan and (not value_nan or other_index < index):
        return other, other_index
    if not value_nan and not other_nan and (other > value or (other == value and other_index < index)):
        return other, other_index
    return value, index


@cuda.jit(device=True)
def row_reduce(op, values, indices, value, index):
    """Reduce (value, index) over threadIdx.x within each row (threadIdx.y) of the block by `combine`;
    every thread gets its row's (value, index).

    blockDim.x must be a power of two; values and indices (shared) hold blockDim.x * blockDim.y
    elements. Every thread of the block must call this (it holds barriers).
    """
    t = cuda.threadIdx.x
    row = cuda.threadIdx.y * cuda.blockDim.x
    values[row + t] = value
    indices[row + t] = index
    cuda.syncthreads()
    step = cuda.blockDim.x // 2
    while step > 0:
        if t < step:
            values[row + t], indices[row + t] = combine(op, values[row + t], indices[row + t],
                                                        values[row + t + step], indices[row + t + step])
        cuda.syncthreads()
        step //= 2
    total, total_index = values[row], indices[row]
    cuda.syncthreads()
    return total, total_index
