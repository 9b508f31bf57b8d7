"""NumPy's functions on CUDA device arrays: the subset the engine computes with, under the same names and semantics.

engine registers this module as the 'cuda' device's array namespace (`xp`), so
the engine's graph Functions run one code path on host arrays (xp = NumPy, see
ops.cpu.xp) and on device arrays. Everything here runs as kernels on the
device; no data crosses to the host (a host array where a device array is
expected is a TypeError that says so).

Where it differs from NumPy:
- arrays are C-contiguous Numba device arrays of up to 5 dims; transpose,
  swapaxes, broadcast_to and basic indexing return contiguous copies, not views
  (reshape returns a view); advanced (integer- or boolean-array) indexing is not supported;
- math errors follow the GPU (log(0) = -inf, sqrt(-1) = nan), which the simulator,
  computing in Python, may turn into exceptions;
- FUSED lists functions that are not NumPy's: single kernels for steps the engine
  would otherwise build from several ops. Every device namespace has them.
"""
import builtins
import functools
import math

import numpy as np

from . import arrays, elementwise, gemm, maps
from .indexing import ARGMAX, MAX, SUM

NUMPY_FUNCTIONS = ("abs", "add", "argmax", "array", "asarray", "broadcast_to", "copyto", "divide", "exp", "log",
                   "matmul", "max", "maximum", "mean", "minimum", "multiply", "negative", "ones", "power", "reshape",
                   "sqrt", "subtract", "sum", "swapaxes", "tanh", "transpose", "zeros", "zeros_like")
FUSED = ("erf", "relu_grad", "softmax", "softmax_grad", "log_softmax", "log_softmax_grad", "cross_entropy",
         "cross_entropy_grad", "sgd_update", "adam_update", "getitem", "setitem")
__all__ = NUMPY_FUNCTIONS + FUSED

_NUMBERS = (bool, int, float, np.bool_, np.integer, np.floating)


def owns(a):
    """True for a Numba CUDA device array (the simulator's stand-in included)."""
    return bool(getattr(a, "__cuda_ndarray__", False))


def _device(a, name="operand"):
    """`a` if it is a contiguous device array, else a TypeError / ValueError saying what it is."""
    if not owns(a):
        where = "a host (NumPy) array" if isinstance(a, np.ndarray) else f"a {type(a).__name__}"
        raise TypeError(f"{name} is {where}, not a CUDA device array: arrays on different devices do not mix; "
                        f"move it with .to('cuda')")
    if not a.is_c_contiguous():
        raise ValueError(f"{name} is a non-contiguous device array (strides {a.strides}); make it contiguous first")
    return a


def _operand(x, name="operand"):
    return x.item() if isinstance(x, np.generic) else x if isinstance(x, _NUMBERS) else _device(x, name)


def _shape(shape):
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)


# --- creation and copies ------------------------------------------------------
def asarray(a, dtype=None):
    """A device array as it is (cast when dtype differs), or a Python number as a 0-d device array."""
    if isinstance(a, _NUMBERS):
        return arrays.full((), a, np.result_type(a) if dtype is None else dtype)
    a = _device(a)
    return a if dtype is None or np.dtype(dtype) == a.dtype else maps.unary(maps.COPY, a, dtype=dtype)


def array(a, dtype=None, copy=True):
    """A new device array holding a's values (cast to dtype); with copy=False, asarray."""
    if not copy or isinstance(a, _NUMBERS):
        return asarray(a, dtype)
    a = _device(a)
    return maps.unary(maps.COPY, a, dtype=a.dtype if dtype is None else dtype)


def zeros(shape, dtype=np.float64):
    return arrays.full(_shape(shape), 0, dtype)


def ones(shape, dtype=np.float64):
    return arrays.full(_shape(shape), 1, dtype)


def zeros_like(a, dtype=None):
    return zeros(a.shape, a.dtype if dtype is None else dtype)


def copyto(dst, src):
    """Copy src (broadcast to dst's shape) into dst, in place."""
    dst, src = _device(dst, "dst"), _device(src, "src")
    src = broadcast_to(src, dst.shape) if tuple(src.shape) != tuple(dst.shape) else src
    maps.unary(maps.COPY, src, out=dst)


# --- elementwise ----------------------------------------------------------------
def _binary(op, x1, x2, out=None):
    """NumPy's binary ufunc `op` with broadcasting and out=; x1 or x2 may be a Python number."""
    return maps.binary(op, _operand(x1, "x1"), _operand(x2, "x2"), out)


def _unary(op, x, out=None):
    return maps.unary(op, _device(x), out)


add, subtract, multiply, divide, power, maximum, minimum = (
    functools.partial(_binary, op) for op in (maps.ADD, maps.SUBTRACT, maps.MULTIPLY, maps.DIVIDE, maps.POWER,
                                              maps.MAXIMUM, maps.MINIMUM))
negative, exp, log, tanh, sqrt, abs, erf = (
    functools.partial(_unary, op) for op in (maps.NEGATIVE, maps.EXP, maps.LOG, maps.TANH, maps.SQRT, maps.ABS,
                                              maps.ERF))


# --- reductions -----------------------------------------------------------------
def sum(a, axis=None, keepdims=False):
    """np.sum: booleans and small ints add up as int64 (NumPy's rule: True + True is 2)."""
    a = _device(a)
    if a.dtype.kind in "bu" or (a.dtype.kind == "i" and a.dtype.itemsize < 8):
        a = maps.unary(maps.COPY, a, dtype=np.uint64 if a.dtype.kind == "u" else np.int64)
    return elementwise.reduce_axes(SUM, a, axis, keepdims)


def mean(a, axis=None, keepdims=False):
    a = _device(a)
    a = a if a.dtype.kind == "f" else maps.unary(maps.COPY, a, dtype=np.float64)
    axes = elementwise.normalize_axes(axis, len(a.shape), tuple(a.shape))
    count = math.prod(a.shape[d] for d in axes)
    return elementwise.reduce_axes(SUM, a, axes, keepdims, scale=1.0 / count if count else math.nan)


def max(a, axis=None, keepdims=False):
    return elementwise.reduce_axes(MAX, _device(a), axis, keepdims)


def argmax(a, axis=None):
    """Index of the first maximum along axis (an int), or in the flattened array (None): int64."""
    if axis is not None and not isinstance(axis, (int, np.integer)):
        raise TypeError(f"argmax takes one axis or None, got {axis!r}")
    return elementwise.reduce_axes(ARGMAX, _device(a), axis)


# --- shapes -----------------------------------------------------------------------
def reshape(a, shape):
    """A view of contiguous a with a new shape (one entry may be -1)."""
    a, shape = _device(a), _shape(shape)
    known = math.prod(n for n in shape if n != -1)
    if shape.count(-1) == 1 and known and a.size % known == 0:
        shape = tuple(a.size // known if n == -1 else n for n in shape)
    if math.prod(shape) != a.size or any(n < 0 for n in shape):
        raise ValueError(f"cannot reshape an array of shape {tuple(a.shape)} into shape {shape}")
    return a.reshape(shape)


def transpose(a, axes=None):
    """a with its axes permuted (reversed when axes is None), as a new contiguous array."""
    a = _device(a)
    ndim = len(a.shape)
    axes = tuple(range(ndim))[::-1] if axes is None else tuple(int(d) % builtins.max(ndim, 1) for d in axes)
    if sorted(axes) != list(range(ndim)):
        raise ValueError(f"axes {axes} are not a permutation of the {ndim} axes of shape {tuple(a.shape)}")
    if axes == tuple(range(ndim)):
        return maps.unary(maps.COPY, a)
    strides = arrays.strides_of(a.shape)
    return maps.gather(a, 0, tuple(a.shape[d] for d in axes), tuple(strides[d] for d in axes))


def swapaxes(a, axis1, axis2):
    axes = list(range(len(a.shape)))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(a, axes)


def broadcast_to(a, shape):
    """a repeated along new leading dims and its unit dims to `shape`, as a new contiguous array."""
    a, shape = _device(a), _shape(shape)
    if maps.broadcast_shape(a.shape, shape) != shape:
        raise ValueError(f"cannot broadcast an array of shape {tuple(a.shape)} to {shape}")
    return maps.gather(a, 0, shape, maps.broadcast_strides(a.shape, shape))


def matmul(a, b):
    """np.matmul for floating arrays: 1-D operands are vectors, leading (batch) dims broadcast."""
    a, b = _device(a, "x1"), _device(b, "x2")
    if a.dtype != b.dtype or a.dtype.kind != "f":
        raise TypeError(f"matmul on the device needs two float arrays of one dtype, got {a.dtype} and {b.dtype}")
    if len(a.shape) == 0 or len(b.shape) == 0:
        raise ValueError("matmul does not take 0-d arrays; use multiply")
    a2 = a.reshape((1,) + tuple(a.shape)) if len(a.shape) == 1 else a
    b2 = b.reshape(tuple(b.shape) + (1,)) if len(b.shape) == 1 else b
    (m, k), (k2, n) = a2.shape[-2:], b2.shape[-2:]
    if k != k2:
        raise ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} do not align ({k} != {k2})")
    batch = maps.broadcast_shape(a2.shape[:-2], b2.shape[:-2])
    count = math.prod(batch)

    def batched(x, rows, cols):
        """x read as count matrices: (array, elements between consecutive matrices)."""
        if math.prod(x.shape[:-2]) == 1:
            return x, 0
        if tuple(x.shape[:-2]) != batch:
            x = broadcast_to(x, batch + (rows, cols))
        return x, rows * cols

    (a_data, a_step), (b_data, b_step) = batched(a2, m, k), batched(b2, k, n)
    out = arrays.full(batch + (m, n), 0, a.dtype) if k == 0 else arrays.empty(batch + (m, n), a.dtype)
    if out.size and k:
        gemm.matmul(a_data, b_data, out, m, n, k, (a_step, 0, 0, k, 1), (b_step, 0, 0, n, 1), (m * n, 0, 0, n, 1),
                    batches=count)
    shape = batch + ((m,) if len(a.shape) > 1 else ()) + ((n,) if len(b.shape) > 1 else ())
    return out.reshape(shape)


# --- fused ops (every device namespace has these) ----------------------------------
def relu_grad(grad, out):
    """grad where out = relu(x) is positive, else 0: ReLU's input gradient."""
    return elementwise.relu_grad_input(_device(grad, "grad"), _device(out, "out"))


def _along_rows(kernel, axis, *arrays_):
    """Run a kernel over (rows, classes) arrays on arrays whose `axis` holds the classes."""
    shape = tuple(arrays_[0].shape)
    axis = int(axis) % len(shape)
    last = axis == len(shape) - 1
    order = tuple(d for d in range(len(shape)) if d != axis) + (axis,)
    moved = [a if last else transpose(a, order) for a in arrays_]
    rows = [a.reshape((a.size // shape[axis], shape[axis])) for a in moved]
    result = kernel(*rows).reshape(tuple(moved[0].shape))
    return result if last else transpose(result, np.argsort(order))


def log_softmax(a, axis=-1):
    return _along_rows(elementwise.log_softmax, axis, _device(a))


def softmax(a, axis=-1):
    return _along_rows(elementwise.softmax, axis, _device(a))


def log_softmax_grad(grad, out, axis=-1):
    """Input gradient of log_softmax given its result `out`: grad - softmax * sum(grad)."""
    return _along_rows(elementwise.log_softmax_grad_input, axis, _device(grad, "grad"), _device(out, "out"))


def softmax_grad(grad, out, axis=-1):
    """Input gradient of softmax given its result `out`: out * (grad - sum(grad * out))."""
    return _along_rows(elementwise.softmax_grad_input, axis, _device(grad, "grad"), _device(out, "out"))


def cross_entropy(logits, target, reduction="mean"):
    """-log softmax(logits)[target] per row of logits (N, C), reduced by 'mean', 'sum' or 'none'.

    A label outside 0..C-1 makes the loss NaN (checking it would need the labels on the host).
    """
    return elementwise.cross_entropy(_device(logits, "logits"), _device(target, "target"), reduction)


def cross_entropy_grad(logits, target, grad, reduction="mean"):
    """Gradient of cross_entropy with respect to the logits, given the loss's gradient `grad`."""
    return elementwise.cross_entropy_grad_input(_device(logits, "logits"), _device(target, "target"),
                                                _device(grad, "grad"), reduction)


sgd_update = elementwise.sgd_update
adam_update = elementwise.adam_update


def _basic_view(shape, index):
    """(offset, shape, strides), in elements, of a[index] for contiguous a of `shape` and a basic index."""
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, np.integer, slice, type(None), type(Ellipsis))):
            raise NotImplementedError(f"device arrays take basic indexes only (ints, slices, None, ...), got {p!r}; "
                                      "index on the host for integer or boolean arrays")
    real = [p for p in parts if p is not None and p is not Ellipsis]
    ellipses = [p for p in parts if p is Ellipsis]
    if len(real) > len(shape) or len(ellipses) > 1:
        raise IndexError(f"too many indices for an array of shape {tuple(shape)}: {index!r}")
    fill = (slice(None),) * (len(shape) - len(real))
    if ellipses:
        at = parts.index(Ellipsis)
        parts = parts[:at] + fill + parts[at + 1:]
    else:
        parts = parts + fill
    strides = arrays.strides_of(shape)
    offset, view_shape, view_strides, dim = 0, [], [], 0
    for p in parts:
        if p is None:
            view_shape.append(1)
            view_strides.append(0)
            continue
        size, stride = shape[dim], strides[dim]
        if isinstance(p, slice):
            start, stop, step = p.indices(size)
            length = len(range(start, stop, step))
            offset += start * stride if length else 0
            view_shape.append(length)
            view_strides.append(step * stride)
        else:
            if not -size <= p < size:
                raise IndexError(f"index {p} is out of bounds for axis {dim} with size {size}")
            offset += (int(p) % size) * stride
        dim += 1
    return offset, tuple(view_shape), tuple(view_strides)


def getitem(a, index):
    """a[index] for a basic index, as a new contiguous array."""
    a = _device(a)
    offset, shape, strides = _basic_view(tuple(a.shape), index)
    return maps.gather(a, offset, shape, strides)


def setitem(a, index, value):
    """a[index] = value, in place, for a basic index; value a device array or number broadcast to a[index]'s shape."""
    a = _device(a)
    offset, shape, strides = _basic_view(tuple(a.shape), index)
    value = asarray(value, a.dtype) if isinstance(value, _NUMBERS) else asarray(_device(value, "value"), a.dtype)
    maps.scatter(value if tuple(value.shape) == shape else broadcast_to(value, shape), a, offset, strides)

