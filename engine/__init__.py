"""convref's graph executor and user API: autograd Tensors over the ops in `ops`.

    import engine as E
    x = E.tensor(images, requires_grad=True)
    loss = E.functional.cross_entropy(E.functional.conv2d(x, w, b).flatten(1) @ v, labels)
    loss.backward(); x.grad.numpy()
"""
from . import functional
from .graph import is_grad_enabled, no_grad
from .random import manual_seed
from .tensor import Tensor, tensor

__all__ = ["Tensor", "tensor", "no_grad", "is_grad_enabled", "manual_seed", "functional"]
