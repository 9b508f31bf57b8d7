"""The CPU device's array namespace: NumPy's functions, and the fused ops every device namespace provides.

The engine computes on a tensor's array through its device's namespace `xp`:
this module on the CPU, ops.cuda.xp on the GPU. The NumPy functions below are
NumPy's own (matmul: ops.cpu.matmul's); the fused ones compose NumPy and exist
because the CUDA namespace runs each of them as one kernel (same names,
arguments and results there).
"""
import operator

import numpy as np
from numpy import (  # noqa: F401
    abs,
    add,
    argmax,
    array,
    asarray,
    broadcast_to,
    copyto,
    divide,
    exp,
    log,
    max,
    maximum,
    mean,
    minimum,
    multiply,
    negative,
    ones,
    power,
    reshape,
    sqrt,
    subtract,
    sum,
    swapaxes,
    tanh,
    transpose,
    zeros,
    zeros_like,
)
from scipy.special import erf  # noqa: F401

from .matmul import matmul  # noqa: F401

getitem = operator.getitem
setitem = operator.setitem


def owns(a):
    """True for a NumPy array: the CPU device's arrays."""
    return isinstance(a, np.ndarray)


def relu_grad(grad, out):
    """grad where out = relu(x) is positive, else 0: ReLU's input gradient."""
    return grad * (out > 0)


def log_softmax(a, axis=-1):
    """Stable log-softmax: a - max - log(sum(exp(a - max)))."""
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(a, axis=-1):
    return np.exp(log_softmax(a, axis))


def log_softmax_grad(grad, out, axis=-1):
    """Input gradient of log_softmax given its result `out`: grad - softmax * sum(grad)."""
    return grad - np.exp(out) * grad.sum(axis=axis, keepdims=True)


def softmax_grad(grad, out, axis=-1):
    """Input gradient of softmax given its result `out`: out * (grad - sum(grad * out))."""
    return out * (grad - (grad * out).sum(axis=axis, keepdims=True))


def _check_labels(logits, target):
    low, high = int(target.min()), int(target.max())
    if low < 0 or high >= logits.shape[1]:
        raise ValueError(f"labels must lie in [0, {logits.shape[1]}), got values from {low} to {high}")


def cross_entropy(logits, target, reduction="mean"):
    """-log softmax(logits)[target] per row of logits (N, C), reduced by 'mean', 'sum' or 'none'."""
    _check_labels(logits, target)
    losses = -log_softmax(logits, 1)[np.arange(len(target)), target]
    if reduction == "none":
        return losses
    total = losses.sum()
    return np.asarray(total / len(target) if reduction == "mean" else total, logits.dtype)


def cross_entropy_grad(logits, target, grad, reduction="mean"):
    """Gradient of cross_entropy with respect to the logits: (softmax - one_hot(target)) * grad (/ N for 'mean')."""
    g = softmax(logits, 1)
    g[np.arange(len(target)), target] -= 1
    if reduction == "none":
        return g * grad[:, None]
    return g * (grad / len(target) if reduction == "mean" else grad)


def sgd_update(param, grad, lr, velocity=None, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
               first_step=False):
    """One torch.optim.SGD step in place on param (and velocity, needed when momentum != 0).

    first_step: the momentum buffer is set to the step instead of decayed (PyTorch's first iteration).
    """
    if weight_decay:
        grad = grad + weight_decay * param
    if momentum:
        if first_step:
            velocity[...] = grad
        else:
            velocity *= momentum
            velocity += (1 - dampening) * grad
        grad = grad + momentum * velocity if nesterov else velocity
    param -= lr * grad


def adam_update(param, grad, m, v, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """One torch.optim.Adam step in place on param and its moment buffers m, v; step counts from 1."""
    if weight_decay:
        grad = grad + weight_decay * param
    m *= beta1
    m += (1 - beta1) * grad
    v *= beta2
    v += (1 - beta2) * grad * grad
    denom = np.sqrt(v / (1 - beta2 ** step))
    denom += eps
    param -= (lr / (1 - beta1 ** step)) * (m / denom)
