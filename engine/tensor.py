"""Tensor: an array on a device, with an optional gradient and the graph node that produced it.

Tensor(array) wraps without copying (the internal constructor); E.tensor(data)
copies and picks PyTorch's default dtypes. Floating tensors are float32 or
float64; integer and bool tensors carry labels and masks and never require a
gradient. Gradients add up in .grad until zeroed, as in PyTorch.

The array is a NumPy array (device 'cpu') or a Numba CUDA device array
('cuda'); an op on tensors of different devices is a ValueError. Data crosses
between host and device only at E.tensor, .to(), .numpy() and .item().
"""
import numpy as np

from . import buffers, graph
from . import tensor_ops as T
from .device import CPU, device_of, get_device

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _check_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in FLOAT_DTYPES and dtype.kind not in "iub":
        raise TypeError(f"dtype {dtype} is not supported: tensors are float32, float64, integer or bool")
    return dtype


class Tensor:
    __slots__ = ("data", "requires_grad", "grad", "_node", "__weakref__")
    __array_ufunc__ = None  # `ndarray + Tensor` defers to Tensor.__radd__

    def __init__(self, data, requires_grad=False):
        self.data = np.asarray(data) if isinstance(data, (np.generic, float, int)) else data
        self.grad = None
        self._node = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_()

    # --- what it is -------------------------------------------------------
    @property
    def shape(self):
        return tuple(self.data.shape)

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def device(self):
        return device_of(self.data).name

    @property
    def is_leaf(self):
        return self._node is None

    def numel(self):
        return int(self.data.size)

    def __len__(self):
        return self.data.shape[0]

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.numpy(), separator=", ", threshold=20, edgeitems=2)
        return f"tensor({body}, dtype={self.dtype}, device={self.device!r}{grad})"

    # --- conversions ------------------------------------------------------
    def numpy(self):
        """The values as a NumPy array (shared with the tensor on the CPU, a copy from another device)."""
        return device_of(self.data).to_host(self.data)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor of one element, this one has shape {self.shape}")
        return self.numpy().reshape(()).item()

    def detach(self):
        """The same array, cut from the graph."""
        return Tensor(self.data)

    def to(self, target):
        """A copy on device 'cpu' / 'cuda', or cast to a float dtype (differentiable); self if nothing changes."""
        if isinstance(target, str):
            source, destination = device_of(self.data), get_device(target)
            if source is destination:
                return self
            moved = Tensor(destination.from_host(source.to_host(self.data)))
            moved.requires_grad = self.requires_grad  # a copy across devices starts a new leaf
            return moved
        dtype = _check_dtype(target)
        return self if dtype == self.dtype else apply(T.Cast(dtype), self)

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.dtype not in FLOAT_DTYPES:
            raise TypeError(f"only float32/float64 tensors can require gradients, this one is {self.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    # --- gradients --------------------------------------------------------
    def backward(self, gradient=None, retain_graph=False):
        """Add d(self)/d(leaf) . gradient into every leaf's .grad. gradient defaults to 1 for a scalar."""
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad (made under no_grad, or from "
                               "inputs none of which requires grad)")
        xp = device_of(self.data).xp
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward() without a gradient needs a scalar, this tensor has shape {self.shape}")
            gradient = xp.ones(self.data.shape, self.dtype)
        else:
            gradient = gradient.data if isinstance(gradient, Tensor) else xp.asarray(gradient, dtype=self.dtype)
            if tuple(gradient.shape) != self.shape:
                raise ValueError(f"gradient has shape {tuple(gradient.shape)}, the tensor has {self.shape}")
        if self._node is None:
            self._accumulate_grad(gradient)
        else:
            buffers.run(graph.backward, self, gradient, retain_graph)

    def _accumulate_grad(self, grad):
        if self.grad is None:
            # a private copy: backward may hand the same array to several leaves
            self.grad = Tensor(device_of(grad).xp.array(grad, dtype=self.dtype, copy=True))
        else:
            device_of(grad).xp.add(self.grad.data, grad, out=self.grad.data)

    # --- operators --------------------------------------------------------
    def _operand(self, other):
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (int, float, bool)) and self.dtype in FLOAT_DTYPES:
            return Tensor(device_of(self.data).xp.asarray(other, dtype=self.dtype))
        return Tensor(device_of(self.data).xp.asarray(other))

    def __add__(self, other):
        return apply(T.Add(), self, self._operand(other))

    def __radd__(self, other):
        return apply(T.Add(), self._operand(other), self)

    def __sub__(self, other):
        return apply(T.Sub(), self, self._operand(other))

    def __rsub__(self, other):
        return apply(T.Sub(), self._operand(other), self)

    def __mul__(self, other):
        return apply(T.Mul(), self, self._operand(other))

    def __rmul__(self, other):
        return apply(T.Mul(), self._operand(other), self)

    def __truediv__(self, other):
        return apply(T.Div(), self, self._operand(other))

    def __rtruediv__(self, other):
        return apply(T.Div(), self._operand(other), self)

    def __neg__(self):
        return apply(T.Neg(), self)

    def __pow__(self, exponent):
        if not isinstance(exponent, (int, float)):
            raise TypeError(f"only a Python number exponent is supported, got {type(exponent).__name__}")
        return apply(T.Pow(exponent), self)

    def __rpow__(self, base):
        if not isinstance(base, (int, float)):
            raise TypeError(f"only a Python number base is supported, got {type(base).__name__}")
        if base <= 0:
            raise ValueError(f"base ** tensor needs a positive base, got {base}")
        return (self * float(np.log(base))).exp()

    def __matmul__(self, other):
        return apply(T.MatMul(), self, self._operand(other))

    def __rmatmul__(self, other):
        return apply(T.MatMul(), self._operand(other), self)

    # --- comparisons: bool tensors, no gradient (PyTorch's `(pred == labels).sum()`) ----------
    __hash__ = object.__hash__  # tensors stay usable as dict keys (an optimizer's state) despite __eq__

    def _equal(self, other):
        other = self._operand(other)
        _check_one_device(T.ZeroPower(), (self, other))
        xp = device_of(self.data).xp
        difference = xp.abs(xp.subtract(xp.asarray(self.data, np.float64), xp.asarray(other.data, np.float64)))
        return xp.power(0.0, difference)  # 1 where equal (0 ** 0), else 0: works on every device's namespace

    def __eq__(self, other):
        return Tensor(device_of(self.data).xp.asarray(self._equal(other), dtype=np.bool_))

    def __ne__(self, other):
        xp = device_of(self.data).xp
        return Tensor(xp.asarray(xp.subtract(1.0, self._equal(other)), dtype=np.bool_))

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    def __getitem__(self, index):
        if isinstance(index, Tensor):
            index = index.data
        return apply(T.GetItem(index), self)

    # --- reductions and shapes (PyTorch's names: dim, keepdim) -------------
    def sum(self, dim=None, keepdim=False):
        return apply(T.Sum(dim, keepdim), self)

    def mean(self, dim=None, keepdim=False):
        return apply(T.Mean(dim, keepdim), self)

    def max(self, dim=None, keepdim=False):
        """The maximum (dim None), or (values, indices) over one dim as torch.max(x, dim) gives."""
        if dim is None:
            return apply(T.Max(None, keepdim), self)
        return MaxResult(apply(T.Max(dim, keepdim), self), self.argmax(dim, keepdim))

    def amax(self, dim=None, keepdim=False):
        """Maxima over dim (an int, a tuple, or None for all)."""
        return apply(T.Max(dim, keepdim), self)

    def argmax(self, dim=None, keepdim=False):
        """Indices of the maxima (int64, not differentiable)."""
        index = device_of(self.data).xp.argmax(self.data, axis=dim)
        if keepdim:
            kept = tuple(1 for _ in self.shape) if dim is None else tuple(
                1 if i == T._axes(dim, self.ndim)[0] else n for i, n in enumerate(self.shape))
            index = device_of(self.data).xp.reshape(index, kept)
        return Tensor(index)

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def squeeze(self, dim=None):
        """Drop size-1 dims (all of them, or those in dim, an int or tuple; others are left)."""
        dims = T._axes(dim, self.ndim)
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in dims and n == 1)))

    def unsqueeze(self, dim):
        """Insert a size-1 dim at `dim` (negative counts from the end of the result)."""
        if not -self.ndim - 1 <= dim <= self.ndim:
            raise ValueError(f"unsqueeze dim {dim} is out of range for a {self.ndim}-D tensor")
        dim = dim % (self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def reshape(self, *shape):
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return apply(T.Reshape(shape), self)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        start, end = T._axes((start_dim, end_dim), max(self.ndim, 1))
        return self.reshape(self.shape[:start] + (-1,) + self.shape[end + 1:]) if self.ndim else self.reshape(1)

    def permute(self, *dims):
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        if sorted(T._axes(dims, self.ndim)) != list(range(self.ndim)) or len(dims) != self.ndim:
            raise ValueError(f"permute needs a permutation of the {self.ndim} dims, got {dims}")
        return apply(T.Permute(tuple(d % self.ndim for d in dims)), self)

    def transpose(self, dim0, dim1):
        dims = list(range(self.ndim))
        a, b = T._axes(dim0, self.ndim)[0], T._axes(dim1, self.ndim)[0]
        dims[a], dims[b] = dims[b], dims[a]
        return apply(T.Permute(tuple(dims)), self)

    @property
    def T(self):
        return apply(T.Permute(tuple(range(self.ndim))[::-1]), self)

    # --- elementwise functions -------------------------------------------
    def relu(self):
        return apply(T.ReLU(), self)

    def sigmoid(self):
        return apply(T.Sigmoid(), self)

    def tanh(self):
        return apply(T.Tanh(), self)

    def exp(self):
        return apply(T.Exp(), self)

    def sqrt(self):
        return apply(T.Sqrt(), self)

    def abs(self):
        return apply(T.Abs(), self)

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clamp needs at least one of min and max")
        return apply(T.Clamp(min, max), self)

    clip = clamp

    def log(self):
        return apply(T.Log(), self)

    def softmax(self, dim=-1):
        return apply(T.Softmax(dim), self)

    def log_softmax(self, dim=-1):
        return apply(T.LogSoftmax(dim), self)


class MaxResult(tuple):
    """(values, indices) of Tensor.max(dim), as torch.return_types.max."""

    def __new__(cls, values, indices):
        return super().__new__(cls, (values, indices))

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])


def _check_one_device(fn, inputs):
    device = device_of(inputs[0].data)
    for t in inputs[1:]:
        if device_of(t.data) is not device:
            devices = ", ".join(device_of(t.data).name for t in inputs)
            raise ValueError(f"{type(fn).__name__} got tensors on different devices ({devices}); "
                             f"move them to one with .to()")


def apply(fn, *inputs):
    """Run fn.forward on the input tensors' arrays (all on one device); record fn as the result's graph node
    if a gradient is wanted."""
    if len(inputs) > 1:
        _check_one_device(fn, inputs)
    out = Tensor(buffers.run(fn.forward, *[t.data for t in inputs]))
    state = graph._state
    if state.grad_enabled and any(t.requires_grad for t in inputs):
        fn.inputs = inputs
        fn.needs_input_grad = tuple(t.requires_grad for t in inputs)
        out.requires_grad = True
        out._node = fn
    if state.recorder is not None:
        state.recorder(fn, inputs, out)
    return out


def cat(tensors, dim=0):
    """Concatenate tensors of one dtype and device along dim (all other dims equal)."""
    tensors = list(tensors)
    if not tensors or not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError("cat takes a non-empty sequence of Tensors")
    return apply(T.Cat(dim), *tensors)


def stack(tensors, dim=0):
    """Join tensors of one shape along a new dim."""
    tensors = list(tensors)
    if not tensors or not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError("stack takes a non-empty sequence of Tensors")
    if len({t.shape for t in tensors}) != 1:
        raise ValueError(f"stack needs tensors of one shape, got {[t.shape for t in tensors]}")
    return cat([t.unsqueeze(dim) for t in tensors], dim if dim >= 0 else dim + tensors[0].ndim + 1)


def tensor(data, dtype=None, device="cpu", requires_grad=False):
    """A new tensor holding a copy of `data` (array, nested lists, number or Tensor).

    dtype defaults to float32 for Python floats, int64 for Python ints, and the
    array's own dtype for float32/float64/integer/bool arrays.
    """
    if isinstance(data, Tensor):
        data = data.data
    target = get_device(device)
    try:
        source = device_of(data)
    except TypeError:  # Python numbers and (nested) lists
        data, source = np.array(data), CPU
        if dtype is None and data.dtype.kind in "fiu":
            dtype = np.float32 if data.dtype.kind == "f" else np.int64
    dtype = _check_dtype(data.dtype if dtype is None else dtype)
    if source is target:
        return Tensor(target.xp.array(data, dtype=dtype, copy=True), requires_grad)
    return Tensor(target.from_host(np.array(source.to_host(data), dtype=dtype)), requires_grad)
