"""Elementwise maps with NumPy's broadcasting, and strided copies, on device arrays: one thread per output element.

unary:   out = f(a) for contiguous a and out of a's shape; out may have another dtype (COPY into it is a cast)
binary:  out = f(a, b), a and b broadcast to out's shape as NumPy does (a stretched dim is read with stride 0);
         either operand may be a Python number, which takes the other's dtype (NumPy 2's rule)
gather:  the strided view (base, shape, strides) of a flat array copied out contiguously: transposes,
         broadcast_to and basic indexing are all views of this kind
scatter: the adjoint of gather, writing a contiguous array into a strided view of another (setitem)

Arrays have up to arrays.MAX_RANK dims. Results are new contiguous arrays unless `out` is given; out may be an
operand itself (in place), since each thread reads its elements before writing its own.
"""
import math

import numpy as np
from numba import cuda

from . import arrays
from .indexing import strided_offset

# unary ops
NEGATIVE, EXP, LOG, TANH, SQRT, ABS, COPY, ERF = range(8)
# binary ops
ADD, SUBTRACT, MULTIPLY, DIVIDE, POWER, MAXIMUM, MINIMUM = range(7)


@cuda.jit(device=True)
def _unary_op(op, v):
    if op == NEGATIVE:
        return -v
    if op == EXP:
        return math.exp(v)
    if op == LOG:
        return math.log(v)
    if op == TANH:
        return math.tanh(v)
    if op == SQRT:
        return math.sqrt(v)
    if op == ABS:
        return abs(v)
    if op == ERF:
        return math.erf(v)
    return v


@cuda.jit(cache=True)
def _unary(op, a, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = _unary_op(op, a[i])


@cuda.jit(device=True)
def _binary_op(op, x, y):
    if op == ADD:
        return x + y
    if op == SUBTRACT:
        return x - y
    if op == MULTIPLY:
        return x * y
    if op == DIVIDE:
        return x / y
    if op == POWER:
        return x ** y
    if op == MAXIMUM:    # NaN wins, as np.maximum
        return x if x > y or x != x else y
    return x if x < y or x != x else y


@cuda.jit(cache=True)
def _binary(op, a, b, out, shape, a_strides, b_strides):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = _binary_op(op, a[strided_offset(i, shape, a_strides)], b[strided_offset(i, shape, b_strides)])


@cuda.jit(cache=True)
def _gather(a, out, base, shape, strides):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a[base + strided_offset(i, shape, strides)]


@cuda.jit(cache=True)
def _scatter(value, out, base, shape, strides):
    i = cuda.grid(1)
    if i < value.size:
        out[base + strided_offset(i, shape, strides)] = value[i]


def _output(out, shape, dtype):
    if out is None:
        return arrays.empty(shape, dtype)
    if tuple(out.shape) != tuple(shape) or not out.is_c_contiguous():
        raise ValueError(f"out must be a contiguous array of shape {tuple(shape)}, got {tuple(out.shape)}")
    return out


def unary(op, a, out=None, dtype=None):
    """f(a) elementwise, f one of NEGATIVE, EXP, LOG, TANH, SQRT, ABS, ERF, COPY; into out or a new array of dtype."""
    out = _output(out, a.shape, a.dtype if dtype is None else dtype)
    if out.size:
        _unary[arrays.grid(out.size)](op, arrays.flat(a), arrays.flat(out))
    return out


def result_dtype(a, b):
    """NumPy 2's result dtype of a binary op on arrays and Python numbers (numbers are 'weak': they adapt)."""
    kinds = [x for x in (a, b) if not isinstance(x, (int, float, bool))]
    if len(kinds) == 2:
        return np.result_type(a.dtype, b.dtype)
    dtype, number = np.dtype(kinds[0].dtype), b if kinds[0] is a else a
    if isinstance(number, float) and dtype.kind not in "fc":
        return np.dtype(np.float64)
    return dtype


def broadcast_shape(*shapes):
    """NumPy's broadcast of shapes, or a ValueError naming them."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"shapes {' and '.join(str(tuple(s)) for s in shapes)} do not broadcast together") from None


def broadcast_strides(shape, target):
    """Strides (in elements) that read a contiguous array of `shape` as if broadcast to `target`: 0 where stretched."""
    shape = (1,) * (len(target) - len(shape)) + tuple(shape)
    return tuple(0 if n == 1 and t != 1 else s for n, t, s in zip(shape, target, arrays.strides_of(shape)))


def _operand(x, dtype):
    """A Python number as a 0-d device array of dtype (so it broadcasts as NumPy's scalars: a 0-d operand
    stays 0-d); arrays as they are."""
    return arrays.full((), x, dtype) if isinstance(x, (int, float, bool)) else x


def binary(op, a, b, out=None):
    """f(a, b) elementwise with broadcasting, f one of ADD, SUBTRACT, MULTIPLY, DIVIDE, POWER, MAXIMUM, MINIMUM."""
    dtype = result_dtype(a, b)
    a, b = _operand(a, dtype), _operand(b, dtype)
    shape = broadcast_shape(a.shape, b.shape)
    out = _output(out, shape, dtype)
    if out.size:
        full_shape, a_strides = arrays.rank5(shape, broadcast_strides(a.shape, shape))
        _, b_strides = arrays.rank5(shape, broadcast_strides(b.shape, shape))
        _binary[arrays.grid(out.size)](op, arrays.flat(a), arrays.flat(b), arrays.flat(out), full_shape,
                                       a_strides, b_strides)
    return out


def gather(a, base, shape, strides):
    """A new contiguous array of `shape`: element j of it is flat(a)[base + sum(index_j * strides)]."""
    out = arrays.empty(shape, a.dtype)
    if out.size:
        _gather[arrays.grid(out.size)](arrays.flat(a), arrays.flat(out), int(base), *arrays.rank5(shape, strides))
    return out


def scatter(value, out, base, strides):
    """Write contiguous `value` into the strided view (base, value.shape, strides) of contiguous `out`, in place.

    The view must not reach one element twice (basic indexing never does)."""
    if value.size:
        _scatter[arrays.grid(value.size)](arrays.flat(value), arrays.flat(out), int(base),
                                          *arrays.rank5(value.shape, strides))
    return out
