"""Tensor math as graph Functions: arithmetic with broadcasting, matmul, reductions, shapes, activations.

Each class holds its forward and backward side by side and computes through
the namespace `xp` of its arrays' device (engine.device), so one code path
serves host and device arrays. Gradients of broadcast operands are summed back
to the operand's shape.
"""
import numpy as np

from .device import device_of
from .graph import Function


def unbroadcast(xp, grad, shape, dtype):
    """Sum `grad` over the axes that broadcasting added or stretched, so it has `shape` and `dtype`."""
    if tuple(grad.shape) != tuple(shape):
        extra = grad.ndim - len(shape)
        stretched = tuple(extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
        grad = xp.reshape(xp.sum(grad, axis=tuple(range(extra)) + stretched, keepdims=True), shape)
    return xp.asarray(grad, dtype=dtype)


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
        return self.compute(device_of(a).xp, a, b)

    def backward(self, grad):
        xp = device_of(grad).xp
        ga, gb = self.grads(xp, grad, self.a, self.b)
        need_a, need_b = self.needs_input_grad
        return (unbroadcast(xp, ga, self.a.shape, self.a.dtype) if need_a else None,
                unbroadcast(xp, gb, self.b.shape, self.b.dtype) if need_b else None)


class Add(_Binary):
    compute = staticmethod(lambda xp, a, b: xp.add(a, b))
    grads = staticmethod(lambda xp, g, a, b: (g, g))


class Sub(_Binary):
    compute = staticmethod(lambda xp, a, b: xp.subtract(a, b))
    grads = staticmethod(lambda xp, g, a, b: (g, xp.negative(g)))


class Mul(_Binary):
    compute = staticmethod(lambda xp, a, b: xp.multiply(a, b))
    grads = staticmethod(lambda xp, g, a, b: (xp.multiply(g, b), xp.multiply(g, a)))


class Div(_Binary):
    compute = staticmethod(lambda xp, a, b: xp.divide(a, b))
    grads = staticmethod(lambda xp, g, a, b: (xp.divide(g, b), xp.negative(xp.divide(xp.multiply(g, a), xp.multiply(b, b)))))


class Neg(Function):
    def forward(self, a):
        return device_of(a).xp.negative(a)

    def backward(self, grad):
        return (device_of(grad).xp.negative(grad),)


class Pow(Function):
    """a ** exponent for a constant (Python number) exponent."""

    def __init__(self, exponent):
        self.exponent = exponent

    def forward(self, a):
        self.a = a
        return device_of(a).xp.power(a, self.exponent)

    def backward(self, grad):
        xp = device_of(grad).xp
        return (xp.multiply(grad, xp.multiply(xp.power(self.a, self.exponent - 1), self.exponent)),)


class MatMul(Function):
    """NumPy's matmul: 1-D operands are vectors, leading dims of >2-D operands broadcast."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return device_of(a).xp.matmul(a, b)

    def backward(self, grad):
        xp = device_of(grad).xp
        a, b = self.a, self.b
        a2 = xp.reshape(a, (1,) + a.shape) if a.ndim == 1 else a
        b2 = xp.reshape(b, b.shape + (1,)) if b.ndim == 1 else b
        g = xp.reshape(grad, grad.shape + (1,)) if b.ndim == 1 else grad  # restore the dims matmul dropped: b's first
        g = xp.reshape(g, g.shape[:-1] + (1,) + g.shape[-1:]) if a.ndim == 1 else g
        need_a, need_b = self.needs_input_grad
        ga = xp.reshape(unbroadcast(xp, xp.matmul(g, xp.swapaxes(b2, -1, -2)), a2.shape, a.dtype), a.shape) \
            if need_a else None
        gb = xp.reshape(unbroadcast(xp, xp.matmul(xp.swapaxes(a2, -1, -2), g), b2.shape, b.dtype), b.shape) \
            if need_b else None
        return ga, gb


class Sum(Function):
    def __init__(self, dim=None, keepdim=False):
        self.dim, self.keepdim = dim, keepdim

    def forward(self, a):
        self.shape, self.axes = a.shape, _axes(self.dim, a.ndim)
        return device_of(a).xp.sum(a, axis=self.axes, keepdims=self.keepdim)

    def _spread(self, xp, grad):
        if not self.keepdim:
            grad = xp.reshape(grad, tuple(1 if i in self.axes else n for i, n in enumerate(self.shape)))
        return xp.broadcast_to(grad, self.shape)

    def backward(self, grad):
        return (self._spread(device_of(grad).xp, grad),)


class Mean(Sum):
    def forward(self, a):
        total = super().forward(a)
        self.count = int(np.prod([self.shape[i] for i in self.axes]))
        return device_of(a).xp.asarray(device_of(a).xp.divide(total, self.count), dtype=a.dtype)

    def backward(self, grad):
        xp = device_of(grad).xp
        return (self._spread(xp, xp.divide(grad, self.count)),)


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        self.in_shape = a.shape
        return device_of(a).xp.reshape(a, self.shape)

    def backward(self, grad):
        return (device_of(grad).xp.reshape(grad, self.in_shape),)


class Permute(Function):
    def __init__(self, dims):
        self.dims = dims

    def forward(self, a):
        return device_of(a).xp.transpose(a, self.dims)

    def backward(self, grad):
        return (device_of(grad).xp.transpose(grad, tuple(int(d) for d in np.argsort(self.dims))),)


class GetItem(Function):
    """a[index] for basic (slices, ints, None, Ellipsis) and, on the CPU, advanced (integer/boolean arrays) indexing."""

    def __init__(self, index):
        self.index = index
        parts = index if isinstance(index, tuple) else (index,)
        self.advanced = any(not isinstance(p, (int, np.integer, slice, type(None), type(Ellipsis))) for p in parts)

    def forward(self, a):
        self.shape, self.dtype = a.shape, a.dtype
        return device_of(a).xp.getitem(a, self.index)

    def backward(self, grad):
        xp = device_of(grad).xp
        full = xp.zeros(self.shape, self.dtype)
        if self.advanced:
            xp.add.at(full, self.index, grad)  # repeated indices add up
        else:
            xp.setitem(full, self.index, grad)
        return (full,)


class Cast(Function):
    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, a):
        self.in_dtype = a.dtype
        return device_of(a).xp.asarray(a, dtype=self.dtype)

    def backward(self, grad):
        return (device_of(grad).xp.asarray(grad, dtype=self.in_dtype),)


class ReLU(Function):
    def forward(self, a):
        self.out = device_of(a).xp.maximum(a, 0)
        return self.out

    def backward(self, grad):
        return (device_of(grad).xp.relu_grad(grad, self.out),)


class Sigmoid(Function):
    def forward(self, a):
        xp = device_of(a).xp
        # exp(min(a, 0)) / (1 + exp(-|a|)): only exponents <= 0, so no overflow for large |a|
        self.out = xp.divide(xp.exp(xp.minimum(a, 0)), xp.add(xp.exp(xp.negative(xp.abs(a))), 1))
        return self.out

    def backward(self, grad):
        xp = device_of(grad).xp
        return (xp.multiply(xp.multiply(grad, self.out), xp.subtract(1, self.out)),)


class Tanh(Function):
    def forward(self, a):
        self.out = device_of(a).xp.tanh(a)
        return self.out

    def backward(self, grad):
        xp = device_of(grad).xp
        return (xp.multiply(grad, xp.subtract(1, xp.multiply(self.out, self.out))),)


class Exp(Function):
    def forward(self, a):
        self.out = device_of(a).xp.exp(a)
        return self.out

    def backward(self, grad):
        return (device_of(grad).xp.multiply(grad, self.out),)


class Log(Function):
    def forward(self, a):
        self.a = a
        return device_of(a).xp.log(a)

    def backward(self, grad):
        return (device_of(grad).xp.divide(grad, self.a),)


class Softmax(Function):
    """softmax(a, dim), or what `name` says (log_softmax): the backward needs only the output, through the
    device's `name`_grad."""
    name = "softmax"

    def __init__(self, dim):
        self.dim = dim

    def forward(self, a):
        self.out = getattr(device_of(a).xp, self.name)(a, self.dim)
        return self.out

    def backward(self, grad):
        return (getattr(device_of(grad).xp, f"{self.name}_grad")(grad, self.out, self.dim),)


class LogSoftmax(Softmax):
    name = "log_softmax"


class Sqrt(Function):
    def forward(self, a):
        self.out = device_of(a).xp.sqrt(a)
        return self.out

    def backward(self, grad):
        xp = device_of(grad).xp
        return (xp.divide(grad, xp.multiply(self.out, 2)),)


class Abs(Function):
    """|a|; the gradient at 0 is 0 (PyTorch's sign(0) = 0)."""

    def forward(self, a):
        self.a = a
        return device_of(a).xp.abs(a)

    def backward(self, grad):
        xp = device_of(grad).xp
        return (xp.subtract(xp.relu_grad(grad, self.a), xp.relu_grad(grad, xp.negative(self.a))),)


class Clamp(Function):
    """min(max(a, low), high), either bound None; the gradient passes strictly inside the bounds."""

    def __init__(self, low, high):
        self.low, self.high = low, high

    def forward(self, a):
        xp = device_of(a).xp
        self.a = a
        out = a if self.low is None else xp.maximum(a, self.low)
        return out if self.high is None else xp.minimum(out, self.high)

    def backward(self, grad):
        xp = device_of(grad).xp
        if self.low is not None:
            grad = xp.relu_grad(grad, xp.subtract(self.a, self.low))
        if self.high is not None:
            grad = xp.relu_grad(grad, xp.subtract(self.high, self.a))
        return (grad,)


class LeakyReLU(Function):
    def __init__(self, negative_slope):
        self.negative_slope = negative_slope

    def forward(self, a):
        xp = device_of(a).xp
        self.a = a
        return xp.add(xp.maximum(a, 0), xp.multiply(xp.minimum(a, 0), self.negative_slope))

    def backward(self, grad):
        xp = device_of(grad).xp
        positive = xp.relu_grad(grad, self.a)
        return (xp.add(positive, xp.multiply(xp.subtract(grad, positive), self.negative_slope)),)


class Erf(Function):
    def forward(self, a):
        self.a = a
        return device_of(a).xp.erf(a)

    def backward(self, grad):
        xp = device_of(grad).xp
        return (xp.multiply(grad, xp.multiply(xp.exp(xp.negative(xp.multiply(self.a, self.a))), 2 / np.sqrt(np.pi))),)


def _equal_mask(xp, a, b):
    """1 where a == b, else 0, in a's dtype: 0 ** |a - b| (0 ** 0 = 1), built from the functions every device has."""
    return xp.power(0.0, xp.abs(xp.subtract(a, b)))


class ZeroPower(Function):
    """0 ** a for a >= 0: 1 where a == 0, else 0. A mask (of labels, say), not differentiable."""

    def forward(self, a):
        return device_of(a).xp.power(0.0, a)

    def backward(self, grad):
        return (None,)


class Max(Function):
    """Maxima over `dim` (all dims when None); the gradient is shared equally by the elements equal to the
    maximum (torch.amax's rule; for distinct values it is the arg-max's, as torch.max(dim) gives)."""

    def __init__(self, dim=None, keepdim=False):
        self.dim, self.keepdim = dim, keepdim

    def forward(self, a):
        xp = device_of(a).xp
        self.a, self.axes = a, _axes(self.dim, a.ndim)
        self.kept = xp.max(a, axis=self.axes, keepdims=True)
        return self.kept if self.keepdim else xp.reshape(self.kept, tuple(n for i, n in enumerate(a.shape)
                                                                           if i not in self.axes))

    def backward(self, grad):
        xp = device_of(grad).xp
        mask = _equal_mask(xp, self.a, self.kept)
        ties = xp.sum(mask, axis=self.axes, keepdims=True)
        share = xp.divide(xp.reshape(grad, self.kept.shape), ties)
        return (xp.multiply(mask, share),)


class Cat(Function):
    """Concatenation along `dim`; each input's gradient is its slice of the output's."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, *arrays):
        xp = device_of(arrays[0]).xp
        first = arrays[0]
        dim = _axes(self.dim, first.ndim)[0]
        for i, a in enumerate(arrays):
            if a.ndim != first.ndim or any(n != m for d, (n, m) in enumerate(zip(a.shape, first.shape)) if d != dim):
                raise ValueError(f"cat along dim {self.dim}: tensor {i} has shape {tuple(a.shape)}, tensor 0 "
                                 f"{tuple(first.shape)}; all dims but {dim} must match")
            if a.dtype != first.dtype:
                raise TypeError(f"cat: tensor {i} is {a.dtype}, tensor 0 is {first.dtype}")
        sizes = [a.shape[dim] for a in arrays]
        shape = first.shape[:dim] + (sum(sizes),) + first.shape[dim + 1:]
        out = xp.zeros(shape, first.dtype)
        starts = np.cumsum([0] + sizes)
        self.slices = [(slice(None),) * dim + (slice(int(lo), int(hi)),) for lo, hi in zip(starts[:-1], starts[1:])]
        for a, where in zip(arrays, self.slices):
            xp.setitem(out, where, a)
        return out

    def backward(self, grad):
        xp = device_of(grad).xp
        return tuple(xp.getitem(grad, where) if need else None for where, need in zip(self.slices, self.needs_input_grad))
