"""convref's graph executor and user API: autograd Tensors over the ops in `ops`, nn layers, optimizers, data.

    import engine as E
    model = E.nn.Sequential(E.nn.Conv2d(1, 6, 5, padding=2), E.nn.ReLU(), E.nn.MaxPool2d(2), ...)
    loss = E.functional.cross_entropy(model(x), labels)
    opt.zero_grad(); loss.backward(); opt.step()
"""
from . import buffers, data, functional, nn, optim
from .checkpoint import load_checkpoint, save_checkpoint
from .graph import is_grad_enabled, no_grad
from .random import manual_seed
from .serialize import load, save
from .tensor import Tensor, cat, stack, tensor
from .trace import Compiled, compile

__all__ = ["Tensor", "tensor", "cat", "stack", "no_grad", "is_grad_enabled", "manual_seed", "save", "load", "save_checkpoint", "load_checkpoint", "compile", "Compiled",
           "functional", "nn", "optim", "data", "buffers"]
