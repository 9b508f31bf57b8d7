"""Correlation, convolution and pooling over dask arrays larger than memory, each chunk computed by convref's kernels.

    import dask.array as da, ops.dask
    image = da.from_zarr(...)                                  # or any dask array, float32/float64
    smooth = ops.dask.correlate(image, kernel, mode="same")    # kernel: an in-memory NumPy array
    smooth.to_zarr(...)                                        # chunk by chunk; .compute() if it fits

Every op here is a window sliding over the spatial axes, so each goes the same way:
pad the input once (zeros; -inf for max-pool; mirrored for blur-pool) to turn the op
into one without padding, rechunk so that every chunk starts on an output position
(a multiple of the stride), then dask.array.map_overlap with the one-sided halo
(0, span - stride): each chunk borrows the first inputs of the next, which is as far
as its last window reaches. The chunk results then abut exactly: the same numbers as
the in-memory op, whatever the chunking. Chunks narrower than the halo are merged
with their neighbour. Weights and kernels are NumPy arrays (they must fit in memory).
Our kernels are threaded themselves: where dask runs several chunks at once, give each
one thread (ops.set_num_threads(1), on every worker: client.run(ops.set_num_threads, 1)).

Needs dask (pip install -e ".[dask]"); `import ops` does not import this module.
"""
import functools

import dask.array as da
import numpy as np

from . import conv, pool, shapes, signal


def _check_dask(x, name):
    if not isinstance(x, da.Array):
        raise TypeError(f"{name} must be a dask array, got {type(x).__name__}; use the op in `ops` for in-memory arrays")
    if np.dtype(x.dtype) not in shapes.FLOAT_DTYPES:
        raise TypeError(f"{name} has dtype {x.dtype}; convref computes in float32 or float64")
    if x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape})")
    return x


def _check_in_memory(a, name, dtype=None):
    if isinstance(a, da.Array):
        raise TypeError(f"{name} must be an in-memory NumPy array, got a dask array (compute it first)")
    a = shapes.check_array(a, name)
    if dtype is not None and a.dtype != dtype:
        raise TypeError(f"{name} has dtype {a.dtype}, the input {dtype}")
    return a


def _chunk_starts(input_chunks, last_start, stride, halo):
    """Where the padded axis' chunks start: the input's chunk boundaries rounded down to a multiple of the
    stride (output chunks then follow the input's: the same ones for 'same' mode), at least `halo` apart
    (a chunk lends its first `halo` inputs to the one before it), none past the last window's start (so no
    chunk is left without an output)."""
    starts = [0]
    for boundary in np.cumsum(input_chunks)[:-1]:
        start = int(boundary) // stride * stride
        if start - starts[-1] >= max(halo, 1) and start <= last_start:
            starts.append(start)
    return starts


def _sliding(x, axes, lo, spans, strides, out_sizes, fill, block_op, out_chunks=None, mode="constant"):
    """Apply block_op, a padding-free windowed op, over `axes` of dask array x, as one in-memory op would.

    Per axis: lo the padding before the input, spans the window's (dilated) reach, strides its step,
    out_sizes the output length. fill pads with that constant (mode 'constant') or mode is 'reflect'.
    out_chunks: {axis: chunks} for the non-windowed axes block_op changes (conv2d's channels).
    """
    pads, keep = [(0, 0)] * x.ndim, [slice(None)] * x.ndim
    for axis, before, span, step, n_out in zip(axes, lo, spans, strides, out_sizes):
        after = (n_out - 1) * step + span - x.shape[axis] - before  # exactly what the last window reaches
        pads[axis] = (before, max(after, 0))
        keep[axis] = slice(0, x.shape[axis] + min(after, 0))
    padded = da.pad(x[tuple(keep)], pads, mode=mode, **({"constant_values": fill} if mode == "constant" else {}))
    chunks, result_chunks, depth = list(x.chunks), dict(out_chunks or {}), {}
    for axis, before, span, step, n_out in zip(axes, lo, spans, strides, out_sizes):
        halo = max(span - step, 0)
        starts = _chunk_starts(x.chunks[axis], (n_out - 1) * step, step, halo)
        chunks[axis] = tuple(np.diff(starts + [padded.shape[axis]]).tolist())
        result_chunks[axis] = tuple(np.diff([s // step for s in starts] + [n_out]).tolist())
        depth[axis] = (0, halo)
    for axis in out_chunks or {}:
        chunks[axis] = (x.shape[axis],)  # read whole by every block
    padded = padded.rechunk(tuple(chunks))
    result_chunks = tuple(result_chunks.get(axis, padded.chunks[axis]) for axis in range(x.ndim))
    return da.map_overlap(block_op, padded, depth=depth, boundary="none", trim=False, chunks=result_chunks,
                          dtype=x.dtype, meta=np.empty((0,) * x.ndim, x.dtype))


def _signal(op, in1, in2, mode, method):
    in1 = _check_dask(in1, "in1")
    in2 = _check_in_memory(in2, "in2")
    shapes.check_signal_pair(in1, in2, mode)
    if mode == "valid" and any(a < b for a, b in zip(in1.shape, in2.shape)):
        raise ValueError(f"for 'valid' mode in2 {tuple(in2.shape)} must fit inside in1 {in1.shape}")
    dtype = np.result_type(in1.dtype, in2.dtype)
    in1, in2 = in1.astype(dtype, copy=False), in2.astype(dtype, copy=False)
    reach = [k - 1 for k in in2.shape]
    # 'same' is SciPy's centred crop of 'full': it starts (k - 1) // 2 into the full result
    lo = {"full": reach, "same": [r - r // 2 for r in reach], "valid": [0] * len(reach)}[mode]
    out_sizes = shapes.signal_output_shape(in1.shape, in2.shape, mode)
    block_op = functools.partial(op, in2=in2, mode="valid", method=method)
    return _sliding(in1, range(in1.ndim), lo, in2.shape, [1] * in1.ndim, out_sizes, 0, block_op)


def correlate(in1, in2, mode="full", method="auto"):
    """ops.correlate over a 1-3-D dask array in1 with a NumPy kernel in2: a dask array of
    shapes.signal_output_shape(in1.shape, in2.shape, mode). In 'valid' mode in2 must fit inside in1."""
    return _signal(signal.correlate, in1, in2, mode, method)


def convolve(in1, in2, mode="full", method="auto"):
    """ops.convolve (in2 flipped) over a 1-3-D dask array in1 with a NumPy kernel in2; see correlate."""
    return _signal(signal.convolve, in1, in2, mode, method)


def _conv2d_block(block, weight, bias, stride, dilation, groups, algorithm):
    return conv.conv2d(block, weight, bias, stride, 0, dilation, groups, algorithm)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, algorithm="auto"):
    """ops.conv2d over a dask array x (N, C, H, W) with NumPy weight (K, C // groups, kh, kw) and bias (K,):
    a dask array (N, K, H_out, W_out), chunked like x in N, H and W (each block reads all C channels)."""
    x = _check_dask(x, "input")
    weight = _check_in_memory(weight, "weight", x.dtype)
    bias = None if bias is None else _check_in_memory(bias, "bias", x.dtype)
    geom = shapes.conv_geometry(x.shape, weight.shape, 2, stride, padding, dilation, groups)
    if bias is not None and tuple(bias.shape) != (geom.out_channels,):
        raise ValueError(f"bias must have shape ({geom.out_channels},), got {tuple(bias.shape)}")
    spans = [d * (k - 1) + 1 for k, d in zip(geom.kernel, geom.dilation)]
    block_op = functools.partial(_conv2d_block, weight=weight, bias=bias, stride=geom.stride,
                                 dilation=geom.dilation, groups=groups, algorithm=algorithm)
    return _sliding(x, (2, 3), [p[0] for p in geom.padding], spans, geom.stride, geom.out_spatial, 0, block_op,
                    out_chunks={1: (geom.out_channels,)})


def _max_pool2d_block(block, kernel_size, stride, dilation):
    return pool.max_pool2d(block, kernel_size, stride, 0, dilation)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """ops.max_pool2d over a dask array x (N, C, H, W) -> (N, C, H_out, W_out), chunked like x.
    (No return_indices: indices into a plane larger than memory would be of little use.)"""
    x = _check_dask(x, "input")
    geom = shapes.pool_geometry(x.shape, 2, kernel_size, stride, padding, dilation, ceil_mode)
    spans = [d * (k - 1) + 1 for k, d in zip(geom.kernel, geom.dilation)]
    block_op = functools.partial(_max_pool2d_block, kernel_size=geom.kernel, stride=geom.stride, dilation=geom.dilation)
    return _sliding(x, (2, 3), geom.padding, spans, geom.stride, geom.out_spatial, -np.inf, block_op)


def _blur_pool2d_block(block, filt, stride):
    """The blur of an already mirrored block: a stride-s conv of every plane with the binomial filter."""
    n, c, h, w = block.shape
    planes = conv.conv2d(np.ascontiguousarray(block).reshape(n * c, 1, h, w), filt, None, stride)
    return planes.reshape((n, c) + planes.shape[2:])


def blur_pool2d(x, filt_size=3, stride=2):
    """ops.blur_pool2d over a dask array x (N, C, H, W) -> (N, C, (H - 1) // stride + 1, (W - 1) // stride + 1)."""
    x = _check_dask(x, "input")
    pads, geom = shapes.blur_geometry(x.shape, filt_size, stride)
    filt = shapes.blur_filter(filt_size, 2, x.dtype)[None, None]
    block_op = functools.partial(_blur_pool2d_block, filt=filt, stride=geom.stride)
    return _sliding(x, (2, 3), (pads[0],) * 2, geom.kernel, geom.stride, geom.out_spatial, None, block_op,
                    mode="reflect")
