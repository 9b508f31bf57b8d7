"""The elementwise ops and reductions of a training step, on device arrays, so a whole step stays on the GPU.

bias_add, relu and its gradient, softmax / log-softmax over the classes of
(N, classes) logits and their gradients, cross-entropy with integer labels and
its gradient, reductions over axes (sum, max, argmax), and in-place SGD
(momentum, dampening, Nesterov, weight decay) and Adam updates with PyTorch's
formulas. Elementwise kernels run one thread per element (bias_add and relu
are broadcast maps, ops.cuda.maps), row ops one thread per row, reductions one
row of threads per output element.
"""
import math

import numpy as np
from numba import cuda, int64

from . import arrays, maps
from .arrays import REDUCE_THREADS
from .indexing import ARGMAX, SUM, combine, row_reduce, strided_offset

REDUCTIONS = ("mean", "sum", "none")


def bias_add(x, bias, out=None):
    """x (N, C, *S) + bias (C,) broadcast over N and S; out may be x itself (in place)."""
    if len(x.shape) < 2 or tuple(bias.shape) != (x.shape[1],):
        raise ValueError(f"bias of shape {tuple(bias.shape)} does not match the channels of x {tuple(x.shape)}")
    return maps.binary(maps.ADD, x, bias.reshape((x.shape[1],) + (1,) * (len(x.shape) - 2)), out)


def relu(x, out=None):
    """max(x, 0); NaN passes through, as in PyTorch."""
    return maps.binary(maps.MAXIMUM, x, 0, out)


@cuda.jit(cache=True)
def _relu_grad(grad_out, x, grad_x):
    i = cuda.grid(1)
    if i < x.size:
        grad_x[i] = grad_out[i] if x[i] > 0 else 0


def relu_grad_input(grad_out, x):
    """Gradient of relu at x: grad_out where x > 0, else 0."""
    grad_x = arrays.empty(x.shape, x.dtype)
    _relu_grad[arrays.grid(x.size)](arrays.flat(grad_out), arrays.flat(x), arrays.flat(grad_x))
    return grad_x


@cuda.jit(device=True)
def _log_sum_exp(x, r):
    top = x[r, 0]
    for j in range(1, x.shape[1]):
        top = max(top, x[r, j])
    total = cuda.local.array(1, x.dtype)
    total[0] = 0
    for j in range(x.shape[1]):
        total[0] += math.exp(x[r, j] - top)
    return top + math.log(total[0])


@cuda.jit(cache=True)
def _softmax(x, out, log):
    r = cuda.grid(1)
    if r < x.shape[0]:
        lse = _log_sum_exp(x, r)
        for j in range(x.shape[1]):
            out[r, j] = x[r, j] - lse if log else math.exp(x[r, j] - lse)


def _rows(name, x):
    if len(x.shape) != 2:
        raise ValueError(f"{name} works on (N, classes) arrays, got shape {tuple(x.shape)}")


def softmax(x):
    """Softmax over the classes (last axis) of x (N, classes)."""
    _rows("softmax", x)
    out = arrays.empty(x.shape, x.dtype)
    _softmax[arrays.grid(x.shape[0])](x, out, False)
    return out


def log_softmax(x):
    """Log-softmax over the classes (last axis) of x (N, classes), computed as x - logsumexp(x)."""
    _rows("log_softmax", x)
    out = arrays.empty(x.shape, x.dtype)
    _softmax[arrays.grid(x.shape[0])](x, out, True)
    return out


@cuda.jit(cache=True)
def _softmax_grad(grad_out, out, grad_x, log):
    # log: out = log_softmax, dx = g - softmax * sum(g); else out = softmax, dx = out * (g - sum(g * out))
    r = cuda.grid(1)
    if r >= out.shape[0]:
        return
    total = cuda.local.array(1, out.dtype)
    total[0] = 0
    for j in range(out.shape[1]):
        total[0] += grad_out[r, j] if log else grad_out[r, j] * out[r, j]
    for j in range(out.shape[1]):
        if log:
            grad_x[r, j] = grad_out[r, j] - math.exp(out[r, j]) * total[0]
        else:
            grad_x[r, j] = out[r, j] * (grad_out[r, j] - total[0])


def softmax_grad_input(grad_out, out):
    """Gradient of softmax given its result `out` (N, classes)."""
    grad_x = arrays.empty(out.shape, out.dtype)
    _softmax_grad[arrays.grid(out.shape[0])](grad_out, out, grad_x, False)
    return grad_x


def log_softmax_grad_input(grad_out, out):
    """Gradient of log_softmax given its result `out` (N, classes)."""
    grad_x = arrays.empty(out.shape, out.dtype)
    _softmax_grad[arrays.grid(out.shape[0])](grad_out, out, grad_x, True)
    return grad_x


@cuda.jit(cache=True)
def _cross_entropy_rows(logits, labels, losses):
    r = cuda.grid(1)
    if r < logits.shape[0]:
        label = labels[r]
        if 0 <= label < logits.shape[1]:
            losses[r] = _log_sum_exp(logits, r) - logits[r, label]
        else:
            losses[r] = math.nan     # a label outside 0..classes-1 poisons the loss rather than reading garbage


def _check_labels(logits, labels, reduction):
    _rows("cross_entropy", logits)
    if tuple(labels.shape) != (logits.shape[0],) or np.dtype(labels.dtype).kind not in "iu":
        raise ValueError(f"labels must be integers of shape ({logits.shape[0]},), got {labels.dtype} {tuple(labels.shape)}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def cross_entropy(logits, labels, reduction="mean"):
    """-log softmax(logits)[label] of each row: logits (N, classes), labels (N,) integers.

    reduction 'mean' (over the batch, PyTorch's default) or 'sum' -> shape (); 'none' -> (N,).
    A label outside 0..classes-1 makes its row's loss NaN.
    """
    _check_labels(logits, labels, reduction)
    losses = arrays.empty((logits.shape[0],), logits.dtype)
    _cross_entropy_rows[arrays.grid(logits.shape[0])](logits, labels, losses)
    if reduction == "none":
        return losses
    return reduce_axes(SUM, losses, 0, scale=1.0 / logits.shape[0] if reduction == "mean" else 1.0)


@cuda.jit(cache=True)
def _cross_entropy_grad(logits, labels, grad_out, grad_x, scale):
    # grad_out holds one value (a reduced loss) or one per row ('none')
    r = cuda.grid(1)
    if r >= logits.shape[0]:
        return
    lse = _log_sum_exp(logits, r)
    g = grad_out[r % grad_out.size] * scale
    for j in range(logits.shape[1]):
        hit = 1 if j == labels[r] else 0
        grad_x[r, j] = (math.exp(logits[r, j] - lse) - hit) * g


def cross_entropy_grad_input(logits, labels, grad_out=None, reduction="mean"):
    """Gradient of cross_entropy with respect to the logits: (softmax - one_hot(labels)) * grad_out (/ N for 'mean').

    grad_out: the gradient of the loss, a device array of its shape (() or (N,)), or None for 1.
    """
    _check_labels(logits, labels, reduction)
    grad_out = arrays.full((1,), 1.0, logits.dtype) if grad_out is None else arrays.flat(grad_out)
    if grad_out.size not in (1, logits.shape[0]):
        raise ValueError(f"grad_out has {grad_out.size} elements; the loss has {1 if reduction != 'none' else logits.shape[0]}")
    grad_x = arrays.empty(logits.shape, logits.dtype)
    scale = 1.0 / logits.shape[0] if reduction == "mean" else 1.0
    _cross_entropy_grad[arrays.grid(logits.shape[0])](logits, labels, grad_out, grad_x, scale)
    return grad_x


@cuda.jit(cache=True)
def _reduce(op, x, out, indices, kept_shape, kept_strides, reduced_shape, reduced_strides, count, scale):
    # one row of threads per output element; out gets SUM (times scale) or MAX values, indices ARGMAX positions
    o = cuda.blockIdx.x * cuda.blockDim.y + cuda.threadIdx.y
    size = max(out.size, indices.size)
    base = strided_offset(min(o, size - 1), kept_shape, kept_strides)
    acc = cuda.local.array(1, x.dtype)
    acc[0] = 0
    acc_index = -1
    for r in range(cuda.threadIdx.x, count, cuda.blockDim.x):
        acc[0], acc_index = combine(op, acc[0], acc_index, x[base + strided_offset(r, reduced_shape, reduced_strides)], r)
    values = cuda.shared.array(REDUCE_THREADS, x.dtype)
    positions = cuda.shared.array(REDUCE_THREADS, int64)
    total, total_index = row_reduce(op, values, positions, acc[0], acc_index)
    if cuda.threadIdx.x == 0 and o < size:
        if out.size > 0:
            out[o] = total * scale
        if indices.size > 0:
            indices[o] = total_index


def normalize_axes(axes, ndim, shape=None):
    """None / an int / a sequence of ints -> a sorted tuple of distinct non-negative axes, or a ValueError."""
    axes = tuple(range(ndim)) if axes is None else (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    if any(not -max(ndim, 1) <= a < max(ndim, 1) for a in axes) or len({a % max(ndim, 1) for a in axes}) != len(axes):
        raise ValueError(f"axes {axes} are not distinct axes of an array of shape {shape}")
    return tuple(sorted(int(a) % max(ndim, 1) for a in axes if ndim))


def reduce_axes(op, x, axes=None, keepdims=False, scale=1.0):
    """SUM (times scale), MAX or ARGMAX of contiguous x over `axes` (None: all, negative allowed), as np.sum,
    np.max and np.argmax; ARGMAX gives int64 positions in C order over the reduced axes (the first maximum)."""
    shape = tuple(x.shape)
    axes = normalize_axes(axes, len(shape), shape)
    if len(shape) > arrays.MAX_RANK:
        raise ValueError(f"reductions handle up to {arrays.MAX_RANK} dims, got shape {shape}")
    if op != SUM and x.size == 0:
        raise ValueError(f"max / argmax of an empty array of shape {shape}")
    strides = arrays.strides_of(shape)
    kept = [d for d in range(len(shape)) if d not in axes]
    out_shape = tuple(1 if d in axes else shape[d] for d in range(len(shape))) if keepdims else tuple(shape[d] for d in kept)
    count = 1
    for d in axes:
        count *= shape[d]
    if count == 0:     # a sum over nothing
        return arrays.full(out_shape, 0, x.dtype)
    result = arrays.empty(out_shape, np.int64 if op == ARGMAX else x.dtype)
    if result.size == 0:
        return result
    values = arrays.empty((0,), x.dtype) if op == ARGMAX else result
    indices = result if op == ARGMAX else arrays.empty((0,), np.int64)
    threads = arrays.reduction_block(count, result.size)
    _reduce[arrays.blocks(result.size, threads[1]), threads](
        op, arrays.flat(x), arrays.flat(values), arrays.flat(indices),
        *arrays.rank5([shape[d] for d in kept], [strides[d] for d in kept]),
        *arrays.rank5([shape[d] for d in axes], [strides[d] for d in axes]), count, float(scale))
    return result


def sum_axes(x, axes=None, keepdims=False):
    """Sum of x over `axes` (an int, a tuple of ints, negative allowed, or None for all), like np.sum."""
    return reduce_axes(SUM, x, axes, keepdims)


@cuda.jit(cache=True)
def _sgd(param, grad, velocity, lr, momentum, dampening, weight_decay, nesterov, first_step):
    i = cuda.grid(1)
    if i >= param.size:
        return
    step = grad[i] + weight_decay * param[i]
    if momentum != 0:
        v = step if first_step else momentum * velocity[i] + (1 - dampening) * step
        velocity[i] = v
        step = step + momentum * v if nesterov else v
    param[i] -= lr * step


def sgd_update(param, grad, lr, velocity=None, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
               first_step=False):
    """One torch.optim.SGD step in place on param (and velocity, needed when momentum != 0).

    first_step: the momentum buffer is set to the step instead of decayed (PyTorch's first iteration).
    """
    if momentum != 0 and velocity is None:
        raise ValueError(f"momentum={momentum} needs a velocity buffer shaped like param {tuple(param.shape)}")
    velocity = arrays.empty((0,), param.dtype) if velocity is None else arrays.flat(velocity)
    _sgd[arrays.grid(param.size)](arrays.flat(param), arrays.flat(grad), velocity, float(lr),
                                                    float(momentum), float(dampening), float(weight_decay),
                                                    bool(nesterov), bool(first_step))


@cuda.jit(cache=True)
def _adam(param, grad, m, v, step_size, beta1, beta2, eps, weight_decay, bias_correction2_sqrt):
    i = cuda.grid(1)
    if i >= param.size:
        return
    g = grad[i] + weight_decay * param[i]
    m[i] = beta1 * m[i] + (1 - beta1) * g
    v[i] = beta2 * v[i] + (1 - beta2) * g * g
    param[i] -= step_size * m[i] / (math.sqrt(v[i]) / bias_correction2_sqrt + eps)


def adam_update(param, grad, m, v, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """One torch.optim.Adam step in place on param and its moment buffers m, v; step counts from 1."""
    if step < 1:
        raise ValueError(f"Adam's step counts from 1, got {step}")
    step_size = lr / (1 - beta1 ** step)
    _adam[arrays.grid(param.size)](arrays.flat(param), arrays.flat(grad), arrays.flat(m),
                                                     arrays.flat(v), float(step_size), float(beta1), float(beta2),
                                                     float(eps), float(weight_decay), math.sqrt(1 - beta2 ** step))
