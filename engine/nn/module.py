"""Module: a tree of layers holding Parameters and buffers; Sequential chains modules.

As in PyTorch, assigning a Parameter, a Module or (through register_buffer) a
buffer Tensor to an attribute registers it, giving parameters(),
named_parameters(), state_dict() and load_state_dict() their dotted names.
"""
import collections

import numpy as np

from ..device import device_of, get_device
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module trains: requires a gradient unless told otherwise."""
    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad)


# what load_state_dict(strict=False) left out, as PyTorch's _IncompatibleKeys
LoadResult = collections.namedtuple("LoadResult", ["missing_keys", "unexpected_keys"])


class Module:
    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *inputs, **kwargs):
        return self.forward(*inputs, **kwargs)

    # --- registration -----------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"call Module.__init__() in {type(self).__name__}.__init__ before assigning {name!r}")
        for registry in (self._parameters, self._modules):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self._buffers:
            if not isinstance(value, Tensor):
                raise TypeError(f"buffer {name!r} must be a Tensor, got {type(value).__name__}")
            self._buffers[name] = value
        object.__setattr__(self, name, value)  # plain attribute too: fast lookup in forward

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name, tensor):
        """A Tensor that is state but not trained (BatchNorm's running statistics): saved in state_dict."""
        if not isinstance(tensor, Tensor):
            raise TypeError(f"buffer {name!r} must be a Tensor, got {type(tensor).__name__}")
        self._buffers[name] = tensor
        object.__setattr__(self, name, tensor)

    # --- traversal --------------------------------------------------------
    def named_modules(self, prefix=""):
        """(dotted name, module) for this module and every descendant, each once."""
        seen, stack = set(), [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items()]
            stack.extend(reversed(children))

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_children(self):
        return iter(self._modules.items())

    def children(self):
        return iter(self._modules.values())

    def _named_members(self, registry):
        seen = set()
        for module_name, module in self.named_modules():
            for name, member in getattr(module, registry).items():
                if id(member) not in seen:  # a tensor shared between layers is listed once
                    seen.add(id(member))
                    yield (f"{module_name}.{name}" if module_name else name), member

    def named_parameters(self):
        return self._named_members("_parameters")

    def parameters(self):
        return (p for _, p in self.named_parameters())

    def named_buffers(self):
        return self._named_members("_buffers")

    def buffers(self):
        return (b for _, b in self.named_buffers())

    def _named_state(self):
        """Parameters then buffers, with their dotted names: what state_dict holds."""
        return list(self.named_parameters()) + list(self.named_buffers())

    # --- modes and gradients -----------------------------------------------
    def train(self, mode=True):
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def to(self, target):
        """Move every parameter and buffer to device 'cpu' / 'cuda', or cast them to a float dtype, in place."""
        device = get_device(target) if isinstance(target, str) else None
        for _, t in self._named_state():
            source = device_of(t.data)
            if device is None:
                t.data = source.xp.asarray(t.data, dtype=target)
            elif device is not source:
                t.data = device.from_host(source.to_host(t.data))
            t.grad = None
        return self

    # --- state ------------------------------------------------------------
    def state_dict(self):
        """{dotted name: NumPy copy} of every parameter and buffer."""
        return {name: np.array(t.numpy(), copy=True) for name, t in self._named_state()}

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays (or Tensors) into the parameters and buffers of the same names, in place, all or none.

        strict: every name must match both ways (KeyError); with strict=False the names in common are loaded.
        Shapes must match (ValueError) and values be numeric (TypeError); values are cast to each tensor's
        dtype. Every value is checked and converted before any tensor is written, so a failed load leaves the
        module as it was. Returns (missing_keys, unexpected_keys), as PyTorch does.
        """
        own = dict(self._named_state())
        missing = sorted(set(own) - set(state_dict))
        unexpected = sorted(set(state_dict) - set(own), key=repr)
        if strict and (missing or unexpected):
            raise KeyError(f"state_dict does not match the module: missing {missing}, unexpected {unexpected}")
        staged, wrong_shapes = [], []
        for name, target in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            value = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
            if value.dtype.kind not in "fiub":
                raise TypeError(f"{name}: state_dict holds dtype {value.dtype}, not a numeric array")
            if tuple(value.shape) != target.shape:
                wrong_shapes.append(f"{name}: state_dict has shape {tuple(value.shape)}, the module has {target.shape}")
                continue
            device = device_of(target.data)
            staged.append((device, target, device.from_host(value.astype(target.dtype))))
        if wrong_shapes:
            raise ValueError("; ".join(wrong_shapes))
        for device, target, value in staged:
            device.xp.copyto(target.data, value)
        return LoadResult(missing, unexpected)

    # --- printing ---------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class Sequential(Module):
    """Applies its modules in order; indexable and iterable, named '0', '1', ..."""

    def __init__(self, *modules):
        super().__init__()
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential takes Modules, argument {i} is {type(module).__name__}")
            setattr(self, str(i), module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index):
        modules = list(self._modules.values())
        return Sequential(*modules[index]) if isinstance(index, slice) else modules[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
