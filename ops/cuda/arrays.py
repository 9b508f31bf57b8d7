"""Device arrays for the kernels: allocation, fills, flips, 5-D views and launch sizes.

1-D and 2-D convolutions and poolings run as 3-D ones: (N, C, L) is viewed as
(N, C, 1, 1, L) and (N, C, H, W) as (N, C, 1, H, W), so each op has one kernel.
Views of contiguous device arrays cost nothing; no data leaves the device here.
"""
import numpy as np
from numba import cuda

from .indexing import unravel5

THREADS = 128          # threads per block for one-thread-per-element kernels
REDUCE_THREADS = 64    # threads per block of the reductions (32 such blocks fill a multiprocessor)
MAX_GRID_Z = 65535     # the hardware limit of gridDim.z (x allows 2**31 - 1)
MAX_RANK = 5           # dims of the strided index spaces (indexing.strided_offset)


def blocks(n, threads=THREADS):
    """Blocks of `threads` that cover n elements: every element gets a thread, whatever n is."""
    return max(1, -(-n // threads))


def grid(n):
    """(blocks, threads) of a one-thread-per-element launch over n elements: blocks of THREADS threads,
    fewer for small n (idle threads cost nothing on a GPU, but each is a Python thread in the simulator)."""
    threads = min(THREADS, next_pow2(n))
    return blocks(n, threads), threads


def next_pow2(n):
    return 1 << max(0, int(n) - 1).bit_length()


def reduction_block(count, rows):
    """Block shape (lanes, rows) for kernels where each row of threads reduces `count` terms (indexing.row_reduce):
    lanes a power of two with at least 32 terms each, at most a warp; rows as many as fit REDUCE_THREADS
    and no more than needed."""
    lanes = min(32, next_pow2(-(-count // 32)))
    return lanes, min(REDUCE_THREADS // lanes, next_pow2(rows))


def strides_of(shape):
    """C-order strides, in elements, of a contiguous array of `shape`."""
    strides, step = [], 1
    for n in reversed(tuple(shape)):
        strides.append(step)
        step *= int(n)
    return tuple(reversed(strides))


def rank5(shape, strides):
    """(shape, strides) padded to MAX_RANK entries with leading 1s and 0s, as indexing.strided_offset takes them."""
    extra = MAX_RANK - len(shape)
    if extra < 0:
        raise ValueError(f"CUDA elementwise kernels handle up to {MAX_RANK} dims, got shape {tuple(shape)}")
    return (1,) * extra + tuple(int(n) for n in shape), (0,) * extra + tuple(int(s) for s in strides)


def empty(shape, dtype):
    return cuda.device_array(tuple(shape), np.dtype(dtype))


def flat(a):
    """The 1-D view of a contiguous device array."""
    return a.reshape(a.size)


@cuda.jit(cache=True)
def _fill(a, value):
    i = cuda.grid(1)
    if i < a.size:
        a[i] = value


def full(shape, value, dtype):
    a = empty(shape, dtype)
    _fill[grid(a.size)](flat(a), value)
    return a


def three(values, pad):
    """Left-pad a per-dim tuple to 3 dims (1-D and 2-D ops run as 3-D)."""
    return (pad,) * (3 - len(values)) + tuple(int(v) for v in values)


def five_d(a):
    """(N, C, *S) with 1-3 spatial dims -> the (N, C, D, H, W) view."""
    shape = tuple(a.shape)
    return a.reshape(shape[:2] + three(shape[2:], 1))


def conv_args(geom):
    """A ConvGeometry's kernel, stride, leading padding and dilation as 3-tuples for the kernels."""
    return (three(geom.kernel, 1), three(geom.stride, 1), three([lo for lo, _ in geom.padding], 0),
            three(geom.dilation, 1))


@cuda.jit(cache=True)
def _flip(a, out):
    i = cuda.grid(1)
    if i < out.size:
        depth, height, width = out.shape
        w = i % width
        h = (i // width) % height
        d = i // (width * height)
        out[d, h, w] = a[depth - 1 - d, height - 1 - h, width - 1 - w]


def flip(a):
    """A new device array with `a` (1-3-D) reversed along every axis, like np.flip(a)."""
    shape = tuple(a.shape)
    out = empty(shape, a.dtype)
    as3 = three(shape, 1)
    _flip[grid(a.size)](a.reshape(as3), out.reshape(as3))
    return out


@cuda.jit(cache=True)
def _spread(a, out, lead, step):
    # out (N, C, D, H, W): a (N, C, d, h, w) with its elements `step` apart from position `lead` on, zeros elsewhere
    i = cuda.grid(1)
    if i >= out.size:
        return
    n, c, d, h, w = unravel5(i, out.shape)
    sd, sh, sw = d - lead[0], h - lead[1], w - lead[2]
    inside = (sd >= 0 and sh >= 0 and sw >= 0 and sd % step[0] == 0 and sh % step[1] == 0 and sw % step[2] == 0
              and sd // step[0] < a.shape[2] and sh // step[1] < a.shape[3] and sw // step[2] < a.shape[4])
    out[n, c, d, h, w] = a[n, c, sd // step[0], sh // step[1], sw // step[2]] if inside else 0


def spread(a, spatial, lead, step, dtype=None):
    """a (N, C, *S) placed into a new zero array (N, C, *spatial) of a's dtype or `dtype`: element s of a goes to
    lead + s * step. Zero padding (step 1), dilating a kernel or upsampling a strided gradient (step > 1)."""
    shape = tuple(a.shape[:2]) + tuple(spatial)
    out = empty(shape, a.dtype if dtype is None else dtype)
    _spread[grid(out.size)](five_d(a), five_d(out), three(lead, 0), three(step, 1))
    return out


def embed(a, shape, lead, dtype=None):
    """A new zero array of `shape` (1-3-D, a's dtype or `dtype`) holding `a` from position `lead` on:
    the adjoint of cropping."""
    planes = spread(a.reshape((1, 1) + tuple(a.shape)), shape, lead, (1,) * len(shape), dtype)
    return planes.reshape(tuple(shape))
