"""Tensor math as graph Functions: arithmetic with broadcasting, matmul, reductions, shapes, activations.

Each class holds its forward and backward side by side and works on the
arrays of one device (methods and the device's `xp` namespace, so a
NumPy-compatible device library can stand in for numpy). Gradients of
broadcast operands are summed back to the operand's shape.
"""
import numpy as np

from .device import device_of
from .graph import Function


def unbroadcast(grad, shape, dtype):
    """Sum `grad` over the axes that broadcasting added or stretched, so it has `shape` and `dtype`."""
    if grad.shape != shape:
        extra = grad.ndim - len(shape)
        stretched = tuple(extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
        grad = grad.sum(axis=tuple(range(extra)) + stretched, keepdims=True).reshape(shape)
    return grad if grad.dtype == dtype else grad.astype(dtype)


def _axes(axis, ndim):
    """Normalise None / int / sequence of ints to a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"dim {a} is out of range for a {ndim}-D tensor")
    return tuple(sorted(int(a) % max(ndim, 1) for a in axes))


class _Binary(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return self.compute(a, b)

    def backward(self, grad):
        ga, gb = self.grads(grad, self.a, self.b)
        need_a, need_b = self.needs_input_grad
        return (unbroadcast(ga, self.a.shape, self.a.dtype) if need_a else None,
                unbroadcast(gb, self.b.shape, self.b.dtype) if need_b else None)


class Add(_Binary):
    compute = staticmethod(lambda a, b: a + b)
    grads = staticmethod(lambda g, a, b: (g, g))


class Sub(_Binary):
    compute = staticmethod(lambda a, b: a - b)
    grads = staticmethod(lambda g, a, b: (g, -g))


class Mul(_Binary):
    compute = staticmethod(lambda a, b: a * b)
    grads = staticmethod(lambda g, a, b: (g * b, g * a))


class Div(_Binary):
    compute = staticmethod(lambda a, b: a / b)
    grads = staticmethod(lambda g, a, b: (g / b, -g * a / (b * b)))


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, grad):
        return (-grad,)


class Pow(Function):
    """a ** exponent for a constant (Python number) exponent."""

    def __init__(self, exponent):
        self.exponent = exponent

    def forward(self, a):
        self.a = a
        return a ** self.exponent

    def backward(self, grad):
        return (grad * (self.exponent * self.a ** (self.exponent - 1)),)


class MatMul(Function):
    """NumPy's matmul: 1-D operands are vectors, leading dims of >2-D operands broadcast."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, grad):
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g = grad[..., None] if b.ndim == 1 else grad  # restore the dims matmul dropped: b's first
        g = g[..., None, :] if a.ndim == 1 else g
        need_a, need_b = self.needs_input_grad
        ga = unbroadcast(g @ b2.swapaxes(-1, -2), a2.shape, a.dtype).reshape(a.shape) if need_a else None
        gb = unbroadcast(a2.swapaxes(-1, -2) @ g, b2.shape, b.dtype).reshape(b.shape) if need_b else None
        return ga, gb


class Sum(Function):
    def __init__(self, dim=None, keepdim=False):
        self.dim, self.keepdim = dim, keepdim

    def forward(self, a):
        self.shape, self.axes = a.shape, _axes(self.dim, a.ndim)
        return a.sum(axis=self.axes, keepdims=self.keepdim)

    def _spread(self, grad):
        if not self.keepdim:
            grad = grad.reshape(tuple(1 if i in self.axes else n for i, n in enumerate(self.shape)))
        return device_of(grad).xp.broadcast_to(grad, self.shape)

    def backward(self, grad):
        return (self._spread(grad),)


class Mean(Sum):
    def forward(self, a):
        total = super().forward(a)
        self.count = int(np.prod([self.shape[i] for i in self.axes]))
        return (total / self.count).astype(a.dtype, copy=False)

    def backward(self, grad):
        return (self._spread(grad / self.count),)


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        self.in_shape = a.shape
        return a.reshape(self.shape)

    def backward(self, grad):
        return (grad.reshape(self.in_shape),)


class Permute(Function):
    def __init__(self, dims):
        self.dims = dims

    def forward(self, a):
        return a.transpose(self.dims)

    def backward(self, grad):
        return (grad.transpose(np.argsort(self.dims)),)


class GetItem(Function):
    """a[index] for basic (slices, ints, None, Ellipsis) and advanced (integer/boolean arrays) indexing."""

    def __init__(self, index):
        self.index = index
        parts = index if isinstance(index, tuple) else (index,)
        self.advanced = any(not isinstance(p, (int, np.integer, slice, type(None), type(Ellipsis))) for p in parts)

    def forward(self, a):
        self.shape, self.dtype = a.shape, a.dtype
        return a[self.index]

    def backward(self, grad):
        xp = device_of(grad).xp
        full = xp.zeros(self.shape, self.dtype)
        if self.advanced:
            xp.add.at(full, self.index, grad)  # repeated indices add up
        else:
            full[self.index] = grad
        return (full,)


class Cast(Function):
    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, a):
        self.in_dtype = a.dtype
        return a.astype(self.dtype)

    def backward(self, grad):
        return (grad.astype(self.in_dtype),)


class ReLU(Function):
    def forward(self, a):
        self.out = device_of(a).xp.maximum(a, 0)
        return self.out

    def backward(self, grad):
        return (grad * (self.out > 0),)


class Sigmoid(Function):
    def forward(self, a):
        xp = device_of(a).xp
        # exp of a non-positive number only: no overflow for large |a|
        e = xp.exp(-xp.abs(a))
        self.out = xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)
        return self.out

    def backward(self, grad):
        return (grad * self.out * (1 - self.out),)


class Tanh(Function):
    def forward(self, a):
        self.out = device_of(a).xp.tanh(a)
        return self.out

    def backward(self, grad):
        return (grad * (1 - self.out * self.out),)


class Exp(Function):
    def forward(self, a):
        self.out = device_of(a).xp.exp(a)
        return self.out

    def backward(self, grad):
        return (grad * self.out,)


class Log(Function):
    def forward(self, a):
        self.a = a
        return device_of(a).xp.log(a)

    def backward(self, grad):
        return (grad / self.a,)


def log_softmax_array(a, dim):
    """Stable log-softmax of an array along dim: a - max - log(sum(exp(a - max)))."""
    xp = device_of(a).xp
    shifted = a - a.max(axis=dim, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))


class LogSoftmax(Function):
    def __init__(self, dim):
        self.dim = dim

    def forward(self, a):
        self.out = log_softmax_array(a, self.dim)
        return self.out

    def backward(self, grad):
        xp = device_of(grad).xp
        return (grad - xp.exp(self.out) * grad.sum(axis=self.dim, keepdims=True),)


class Softmax(Function):
    def __init__(self, dim):
        self.dim = dim

    def forward(self, a):
        self.out = device_of(a).xp.exp(log_softmax_array(a, self.dim))
        return self.out

    def backward(self, grad):
        return (self.out * (grad - (grad * self.out).sum(axis=self.dim, keepdims=True)),)
