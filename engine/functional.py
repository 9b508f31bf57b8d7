"""Differentiable neural-network ops on Tensors: every op of `ops`, linear, normalisation, dropout, losses.

Arguments follow `ops` (and so PyTorch): conv2d(x, weight, bias=None, stride=1,
padding=0, dilation=1, groups=1). Each op's backward calls the matching
gradient function of `ops`, which picks the fastest algorithm it has.
"""
import numpy as np

import ops

from . import tensor_ops as T
from .device import device_of
from .graph import Function
from .random import generator_or_default
from .tensor import Tensor, apply

_CONV = {nd: (getattr(ops, f"conv{nd}d"), getattr(ops, f"conv{nd}d_grad_input"),
              getattr(ops, f"conv{nd}d_grad_weight")) for nd in (1, 2, 3)}
_CONV_TRANSPOSE = {nd: (getattr(ops, f"conv_transpose{nd}d"), getattr(ops, f"conv_transpose{nd}d_grad_input"),
                        getattr(ops, f"conv_transpose{nd}d_grad_weight")) for nd in (1, 2, 3)}
_POOL = {nd: {kind + suffix: getattr(ops, f"{kind}{nd}d{suffix}") for kind in ("max_pool", "avg_pool")
              for suffix in ("", "_grad_input")} for nd in (1, 2, 3)}
_BLUR = {nd: (getattr(ops, f"blur_pool{nd}d"), getattr(ops, f"blur_pool{nd}d_grad_input")) for nd in (1, 2)}


def _channel_sum(grad):
    """Sum over every axis but the channel axis 1: the gradient of a per-channel bias."""
    xp = device_of(grad).xp
    # summing the contiguous inner axis first is about twice as fast on the CPU as one reduction over (0, 2, ...)
    return xp.sum(xp.sum(xp.reshape(grad, (grad.shape[0], grad.shape[1], -1)), axis=2), axis=0)


def _with_bias(x, weight, bias):
    return (x, weight) if bias is None else (x, weight, bias)


# --- convolutions ---------------------------------------------------------
class Conv(Function):
    """convNd(x, weight[, bias]); input grad: convNd_grad_input, weight grad: convNd_grad_weight."""
    passes = _CONV  # nd -> (forward, input gradient, weight gradient)

    def __init__(self, nd, stride, padding, dilation, groups):
        self.nd = nd
        self.args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)

    def forward(self, x, weight, bias=None):
        self.x, self.weight = x, weight
        return self.passes[self.nd][0](x, weight, bias, **self.args)

    def backward(self, grad):
        _, grad_input, grad_weight = self.passes[self.nd]
        need = self.needs_input_grad
        return (grad_input(grad, self.weight, self.x.shape, **self.args) if need[0] else None,
                grad_weight(self.x, grad, self.weight.shape, **self.args) if need[1] else None,
                _channel_sum(grad) if len(need) > 2 and need[2] else None)


class ConvTranspose(Conv):
    """conv_transposeNd(x, weight[, bias]): the input gradient of a conv, so its own gradients are that conv
    (input grad) and that conv's weight gradient with the roles of input and output swapped."""
    passes = _CONV_TRANSPOSE

    def __init__(self, nd, stride, padding, output_padding, groups, dilation):
        self.nd = nd
        self.args = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                         dilation=dilation)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """x (N, C, L), weight (K, C // groups, k), bias (K,) -> (N, K, L_out)."""
    return apply(Conv(1, stride, padding, dilation, groups), *_with_bias(x, weight, bias))


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """x (N, C, H, W), weight (K, C // groups, kh, kw), bias (K,) -> (N, K, H_out, W_out)."""
    return apply(Conv(2, stride, padding, dilation, groups), *_with_bias(x, weight, bias))


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """x (N, C, D, H, W), weight (K, C // groups, kd, kh, kw), bias (K,) -> (N, K, D_out, H_out, W_out)."""
    return apply(Conv(3, stride, padding, dilation, groups), *_with_bias(x, weight, bias))


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """x (N, C_in, L), weight (C_in, C_out // groups, k) -> (N, C_out, L_out)."""
    return apply(ConvTranspose(1, stride, padding, output_padding, groups, dilation), *_with_bias(x, weight, bias))


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """x (N, C_in, H, W), weight (C_in, C_out // groups, kh, kw) -> (N, C_out, H_out, W_out)."""
    return apply(ConvTranspose(2, stride, padding, output_padding, groups, dilation), *_with_bias(x, weight, bias))


def conv_transpose3d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """x (N, C_in, D, H, W), weight (C_in, C_out // groups, kd, kh, kw) -> (N, C_out, D_out, H_out, W_out)."""
    return apply(ConvTranspose(3, stride, padding, output_padding, groups, dilation), *_with_bias(x, weight, bias))


class P4Conv(Function):
    """ops.p4_conv2d(x, weight[, bias]): lifting or group layer; gradients from ops.p4_conv2d_grad_input / _grad_weight."""

    def __init__(self, stride, padding, dilation):
        self.args = dict(stride=stride, padding=padding, dilation=dilation)

    def forward(self, x, weight, bias=None):
        self.x, self.weight = x, weight
        return ops.p4_conv2d(x, weight, bias, **self.args)

    def backward(self, grad):
        need = self.needs_input_grad
        return (ops.p4_conv2d_grad_input(grad, self.weight, self.x.shape, **self.args) if need[0] else None,
                ops.p4_conv2d_grad_weight(self.x, grad, self.weight.shape, **self.args) if need[1] else None,
                _channel_sum(grad) if len(need) > 2 and need[2] else None)


def p4_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """p4 group convolution (CPU): x (N, C, H, W) with weight (K, C, k, k) lifts, x (N, C, 4, H, W) with
    weight (K, C, 4, k, k) is a group layer; bias (K,) -> (N, K, 4, H_out, W_out). See ops.group_conv."""
    return apply(P4Conv(stride, padding, dilation), *_with_bias(x, weight, bias))


# --- pooling --------------------------------------------------------------
class MaxPool(Function):
    """Window maxima; the gradient goes to the arg-max of each window (ops' indices)."""

    def __init__(self, nd, kernel_size, stride, padding, dilation, ceil_mode):
        self.nd = nd
        self.args = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)

    def forward(self, x):
        self.input_shape = x.shape
        out, self.indices = _POOL[self.nd]["max_pool"](x, return_indices=True, **self.args)
        return out

    def backward(self, grad):
        return (_POOL[self.nd]["max_pool_grad_input"](grad, self.indices, self.input_shape, **self.args),)


class AvgPool(Function):
    def __init__(self, nd, kernel_size, stride, padding, ceil_mode, count_include_pad):
        self.nd = nd
        self.args = dict(kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=ceil_mode,
                         count_include_pad=count_include_pad)

    def forward(self, x):
        self.input_shape = x.shape
        return _POOL[self.nd]["avg_pool"](x, **self.args)

    def backward(self, grad):
        return (_POOL[self.nd]["avg_pool_grad_input"](grad, self.input_shape, **self.args),)


class BlurPool(Function):
    def __init__(self, nd, filt_size, stride):
        self.nd, self.filt_size, self.stride = nd, filt_size, stride

    def forward(self, x):
        self.input_shape = x.shape
        return _BLUR[self.nd][0](x, self.filt_size, self.stride)

    def backward(self, grad):
        return (_BLUR[self.nd][1](grad, self.input_shape, self.filt_size, self.stride),)


def _max_pool(nd, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    fn = MaxPool(nd, kernel_size, stride, padding, dilation, ceil_mode)
    out = apply(fn, x)
    return (out, Tensor(fn.indices)) if return_indices else out


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """x (N, C, L) -> (N, C, L_out), and the int64 indices (not differentiable) if return_indices."""
    return _max_pool(1, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """x (N, C, H, W) -> (N, C, H_out, W_out), and the int64 indices if return_indices."""
    return _max_pool(2, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """x (N, C, D, H, W) -> (N, C, D_out, H_out, W_out), and the int64 indices if return_indices."""
    return _max_pool(3, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """x (N, C, L) -> (N, C, L_out): window means."""
    return apply(AvgPool(1, kernel_size, stride, padding, ceil_mode, count_include_pad), x)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """x (N, C, H, W) -> (N, C, H_out, W_out): window means."""
    return apply(AvgPool(2, kernel_size, stride, padding, ceil_mode, count_include_pad), x)


def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """x (N, C, D, H, W) -> (N, C, D_out, H_out, W_out): window means."""
    return apply(AvgPool(3, kernel_size, stride, padding, ceil_mode, count_include_pad), x)


def blur_pool1d(x, filt_size=3, stride=2):
    """Anti-aliased downsampling (Zhang 2019): x (N, C, L) -> (N, C, (L - 1) // stride + 1)."""
    return apply(BlurPool(1, filt_size, stride), x)


def blur_pool2d(x, filt_size=3, stride=2):
    """Anti-aliased downsampling (Zhang 2019): x (N, C, H, W) -> (N, C, (H - 1) // stride + 1, (W - 1) // stride + 1)."""
    return apply(BlurPool(2, filt_size, stride), x)


# --- padding, interpolation, adaptive pooling (ops.resample's kernels) ------------
class Pad(Function):
    def __init__(self, pads, mode, value):
        self.pads, self.mode, self.value = pads, mode, value

    def forward(self, x):
        self.input_shape = x.shape
        return ops.pad(x, self.pads, self.mode, self.value)

    def backward(self, grad):
        return (ops.pad_grad_input(grad, self.input_shape, self.pads, self.mode),)


def pad(x, pad, mode="constant", value=0.0):
    """torch.nn.functional.pad: pad (last dim's before, after, then the dim before it's, ...) over the spatial
    dims of x (N, C, *spatial), 1-3 of them; mode constant (value), reflect, replicate or circular."""
    return apply(Pad(ops.resample.pad_widths(pad, x.ndim), mode, value), x)


class Interpolate(Function):
    def __init__(self, size, scale_factor, mode, align_corners):
        self.args = dict(size=size, scale_factor=scale_factor, mode=mode, align_corners=align_corners)

    def forward(self, x):
        self.input_shape = x.shape
        return ops.interpolate(x, **self.args)

    def backward(self, grad):
        return (ops.interpolate_grad_input(grad, self.input_shape, **self.args),)


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """x (N, C, *spatial) resized to `size` or by `scale_factor`: mode nearest, linear (1-D), bilinear (2-D),
    trilinear (3-D), PyTorch's pixel rules (align_corners as in PyTorch, False when None)."""
    return apply(Interpolate(size, scale_factor, mode, align_corners), x)


class AdaptiveAvgPool(Function):
    def __init__(self, nd, output_size):
        self.nd, self.output_size = nd, output_size

    def forward(self, x):
        self.input_shape = x.shape
        return ops.resample.adaptive_avg_pool(x, self.nd, self.output_size)

    def backward(self, grad):
        return (ops.adaptive_avg_pool_grad_input(grad, self.input_shape, self.nd),)


class AdaptiveMaxPool(Function):
    def __init__(self, nd, output_size):
        self.nd, self.output_size = nd, output_size

    def forward(self, x):
        self.input_shape = x.shape
        out, self.indices = ops.resample.adaptive_max_pool(x, self.nd, self.output_size)
        return out

    def backward(self, grad):
        return (ops.adaptive_max_pool_grad_input(grad, self.indices, self.input_shape, self.nd),)


def _adaptive_max_pool(nd, x, output_size, return_indices):
    fn = AdaptiveMaxPool(nd, output_size)
    out = apply(fn, x)
    return (out, Tensor(fn.indices)) if return_indices else out


def adaptive_avg_pool1d(x, output_size):
    """x (N, C, L) -> (N, C, output_size): means over PyTorch's adaptive windows."""
    return apply(AdaptiveAvgPool(1, output_size), x)


def adaptive_avg_pool2d(x, output_size):
    """x (N, C, H, W) -> (N, C, *output_size); output_size 1 is global average pooling."""
    return apply(AdaptiveAvgPool(2, output_size), x)


def adaptive_avg_pool3d(x, output_size):
    """x (N, C, D, H, W) -> (N, C, *output_size)."""
    return apply(AdaptiveAvgPool(3, output_size), x)


def adaptive_max_pool1d(x, output_size, return_indices=False):
    """x (N, C, L) -> (N, C, output_size), and the int64 indices if return_indices."""
    return _adaptive_max_pool(1, x, output_size, return_indices)


def adaptive_max_pool2d(x, output_size, return_indices=False):
    """x (N, C, H, W) -> (N, C, *output_size), and the int64 indices if return_indices."""
    return _adaptive_max_pool(2, x, output_size, return_indices)


def adaptive_max_pool3d(x, output_size, return_indices=False):
    """x (N, C, D, H, W) -> (N, C, *output_size), and the int64 indices if return_indices."""
    return _adaptive_max_pool(3, x, output_size, return_indices)


# --- signal processing (SciPy's conventions) -------------------------------
class Correlate(Function):
    """ops.correlate / ops.convolve (true convolution when flip); gradients from ops.correlate_grad / convolve_grad."""

    def __init__(self, mode, method, flip):
        self.mode, self.method = mode, method
        self.op, self.op_grad = (ops.convolve, ops.convolve_grad) if flip else (ops.correlate, ops.correlate_grad)

    def forward(self, in1, in2):
        self.in1, self.in2 = in1, in2
        return self.op(in1, in2, self.mode, self.method)

    def backward(self, grad):
        g1, g2 = self.op_grad(grad, self.in1, self.in2, self.mode, self.method)
        xp = device_of(grad).xp
        return xp.asarray(g1, dtype=self.in1.dtype), xp.asarray(g2, dtype=self.in2.dtype)


def correlate(in1, in2, mode="full", method="auto"):
    """Cross-correlation of two 1-3-D tensors, like scipy.signal.correlate; differentiable in both."""
    return apply(Correlate(mode, method, flip=False), in1, in2)


def convolve(in1, in2, mode="full", method="auto"):
    """Convolution of two 1-3-D tensors, like scipy.signal.convolve; differentiable in both."""
    return apply(Correlate(mode, method, flip=True), in1, in2)


def fftconvolve(in1, in2, mode="full"):
    """Convolution through the FFT, like scipy.signal.fftconvolve."""
    return convolve(in1, in2, mode, method="fft")


# --- dense layers, normalisation, dropout ----------------------------------
class Linear(Function):
    """x (..., in) @ weight (out, in).T + bias (out,): one fused op."""

    def forward(self, x, weight, bias=None):
        self.x, self.weight = x, weight
        xp = device_of(x).xp
        out = xp.matmul(x, xp.transpose(weight))
        if bias is not None:
            xp.add(out, bias, out=out)
        return out

    def backward(self, grad):
        xp = device_of(grad).xp
        need = self.needs_input_grad
        out_features, in_features = self.weight.shape
        rows = xp.reshape(grad, (-1, out_features))
        return (xp.matmul(grad, self.weight) if need[0] else None,
                xp.matmul(xp.transpose(rows), xp.reshape(self.x, (-1, in_features))) if need[1] else None,
                xp.sum(rows, axis=0) if len(need) > 2 and need[2] else None)


def linear(x, weight, bias=None):
    """x (..., in_features), weight (out_features, in_features), bias (out_features,) -> (..., out_features)."""
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input has {x.shape[-1]} features, weight {tuple(weight.shape)} expects {weight.shape[1]}")
    return apply(Linear(), *_with_bias(x, weight, bias))


class BatchNorm(Function):
    """Normalise each channel (axis 1) by batch statistics (training) or running ones, then scale and shift.

    In training the running mean / unbiased variance (arrays, updated in place)
    move towards the batch's by `momentum`, as in PyTorch.
    """

    def __init__(self, running_mean, running_var, training, momentum, eps):
        self.running_mean, self.running_var = running_mean, running_var
        self.batch_stats = training or running_mean is None
        self.update_running = training and running_mean is not None
        self.momentum, self.eps = momentum, eps

    def forward(self, x, weight=None, bias=None):
        xp = device_of(x).xp
        axes = (0,) + tuple(range(2, x.ndim))
        channel = (1, -1) + (1,) * (x.ndim - 2)
        self.axes, self.channel, self.count = axes, channel, x.size // x.shape[1]
        if self.batch_stats:
            if self.count < 2:
                raise ValueError(f"batch norm in training needs more than one value per channel, got input shape {x.shape}")
            mean = xp.mean(x, axis=axes)
            centered = xp.subtract(x, xp.reshape(mean, channel))
            var = xp.mean(xp.multiply(centered, centered), axis=axes)
            if self.update_running:  # in place; the running variance is the unbiased one
                m, unbiased = self.momentum, self.count / (self.count - 1)
                for running, batch in ((self.running_mean, mean), (self.running_var, xp.multiply(var, unbiased))):
                    xp.multiply(running, 1 - m, out=running)
                    xp.add(running, xp.multiply(batch, m), out=running)
        else:
            mean, var = self.running_mean, self.running_var
            centered = xp.subtract(x, xp.reshape(mean, channel))
        self.invstd = xp.asarray(xp.divide(1, xp.sqrt(xp.add(var, self.eps))), dtype=x.dtype)
        self.xhat = xp.multiply(centered, xp.reshape(self.invstd, channel))
        self.weight = weight
        out = self.xhat if weight is None else xp.multiply(self.xhat, xp.reshape(weight, channel))
        return out if bias is None else xp.add(out, xp.reshape(bias, channel))

    def backward(self, grad):
        xp = device_of(grad).xp
        c = self.channel
        grad_sum = xp.sum(grad, axis=self.axes)
        grad_xhat_sum = xp.sum(xp.multiply(grad, self.xhat), axis=self.axes)
        scale = self.invstd if self.weight is None else xp.multiply(self.invstd, self.weight)
        gx = None
        if self.needs_input_grad[0]:
            gx = xp.multiply(grad, xp.reshape(scale, c))
            if self.batch_stats:  # the batch statistics depend on x too
                through_stats = xp.add(xp.reshape(grad_sum, c), xp.multiply(self.xhat, xp.reshape(grad_xhat_sum, c)))
                xp.subtract(gx, xp.divide(xp.multiply(xp.reshape(scale, c), through_stats), self.count), out=gx)
        need = self.needs_input_grad
        return (gx, grad_xhat_sum if len(need) > 1 and need[1] else None,
                grad_sum if len(need) > 2 and need[2] else None)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """x (N, C, *spatial); running_mean/var: (C,) Tensors or arrays (updated in place in training) or None."""
    if weight is None and bias is not None:
        raise ValueError("batch_norm with a bias needs a weight (pass ones)")
    running = [r.data if isinstance(r, Tensor) else r for r in (running_mean, running_var)]
    inputs = (x,) if weight is None else (x, weight) if bias is None else (x, weight, bias)
    return apply(BatchNorm(running[0], running[1], training, momentum, eps), *inputs)


class Dropout(Function):
    def __init__(self, p, generator):
        self.p, self.generator = p, generator

    def forward(self, x):
        keep = self.generator.random(x.shape) >= self.p
        # drawn on the host from the engine's generator (one sequence on every device), then copied over
        self.mask = device_of(x).from_host((keep / (1 - self.p)).astype(x.dtype))
        return device_of(x).xp.multiply(x, self.mask)

    def backward(self, grad):
        return (device_of(grad).xp.multiply(grad, self.mask),)


def dropout(x, p=0.5, training=True, generator=None):
    """Zero each element with probability p and scale the rest by 1 / (1 - p); identity unless training."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p!r}")
    if not training or p == 0:
        return x
    return apply(Dropout(p, generator_or_default(generator)), x)


# --- losses ---------------------------------------------------------------
_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


class CrossEntropy(Function):
    """-log softmax(logits)[target], through one stable log-softmax; gradient softmax - one_hot."""

    def __init__(self, reduction):
        self.reduction = reduction

    def forward(self, logits, target):
        if target.dtype.kind not in "iu":
            raise TypeError(f"cross_entropy labels must be integers, got {target.dtype}")
        self.logits, self.target = logits, target
        return device_of(logits).xp.cross_entropy(logits, target, self.reduction)

    def backward(self, grad):
        return device_of(grad).xp.cross_entropy_grad(self.logits, self.target, grad, self.reduction), None


def cross_entropy(logits, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """logits (N, C) (any real numbers), target (N,) integer class labels in [0, C) -> loss, PyTorch's rules:

    weight (C,) scales each class's loss (and 'mean' divides by the summed weights of the targets);
    a target equal to ignore_index adds nothing; label_smoothing eps mixes the one-hot target with
    the uniform eps / C. A label outside [0, C) (other than ignore_index) is a ValueError on the CPU
    and makes the loss NaN on the GPU (checking it there would cost a copy to the host at every step).
    """
    if isinstance(weight, str):  # cross_entropy(logits, target, "sum"): the reduction passed by position
        weight, reduction = None, weight
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
    target = target if isinstance(target, Tensor) else Tensor(device_of(logits.data).xp.asarray(target))
    if logits.ndim != 2 or target.shape != logits.shape[:1]:
        raise ValueError(f"cross_entropy needs logits (N, C) and labels (N,), got {logits.shape} and {target.shape}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy labels must be integers, got {target.dtype}")
    if weight is not None and not isinstance(weight, Tensor):
        weight = Tensor(device_of(logits.data).xp.asarray(weight, logits.dtype))
    if weight is not None and weight.shape != logits.shape[1:]:
        raise ValueError(f"cross_entropy weight must have shape ({logits.shape[1]},), got {weight.shape}")
    classes = logits.shape[1]
    on_cpu = device_of(logits.data).name == "cpu"
    # The fused kernel cannot ignore labels. The choice depends on the arguments, and on the CPU also on whether
    # a label outside [0, C) equals ignore_index (else the kernel refuses that label: an error, never a wrong loss).
    ignored = 0 <= ignore_index < classes or (on_cpu and bool((target.data == ignore_index).any()))
    if weight is None and label_smoothing == 0 and not ignored:
        return apply(CrossEntropy(reduction), logits, target)
    if on_cpu:
        kept = target.data[target.data != ignore_index]
        if kept.size and (kept.min() < 0 or kept.max() >= classes):
            raise ValueError(f"labels must lie in [0, {classes}) or equal ignore_index={ignore_index}, "
                             f"got values from {kept.min()} to {kept.max()}")
    # composed from graph ops (so E.compile replays it): a one-hot row per target, all zeros where ignored
    arange = Tensor(device_of(logits.data).from_host(np.arange(classes, dtype=logits.dtype)))
    labels = target.to(logits.dtype)
    one_hot = apply(T.ZeroPower(), (labels.unsqueeze(1) - arange).abs())
    if 0 <= ignore_index < classes:  # else no class matches it and its rows are zero already
        one_hot = one_hot * (1 - apply(T.ZeroPower(), (labels - ignore_index).abs())).unsqueeze(1)
    per_class = one_hot if weight is None else one_hot * weight
    log_probs = logits.log_softmax(dim=1)
    losses = -(per_class * log_probs).sum(dim=1) * (1 - label_smoothing)
    if label_smoothing:
        class_weight = 1.0 if weight is None else weight
        smooth = -(log_probs * class_weight).sum(dim=1) * one_hot.sum(dim=1)  # one_hot.sum: 0 where ignored
        losses = losses + smooth * (label_smoothing / classes)
    if reduction == "none":
        return losses
    return losses.sum() / per_class.sum() if reduction == "mean" else losses.sum()


class MSE(Function):
    def __init__(self, reduction):
        self.reduction = reduction

    def forward(self, a, b):
        xp = device_of(a).xp
        self.diff = xp.subtract(a, b)
        squared = xp.multiply(self.diff, self.diff)
        if self.reduction == "none":
            return squared
        total = xp.sum(squared)
        return xp.asarray(xp.divide(total, squared.size) if self.reduction == "mean" else total, dtype=a.dtype)

    def backward(self, grad):
        xp = device_of(grad).xp
        g = xp.multiply(self.diff, xp.multiply(grad, 2 / self.diff.size if self.reduction == "mean" else 2))
        return g, xp.negative(g)


def mse_loss(x, target, reduction="mean"):
    """Mean (or sum, or elementwise) squared difference of two tensors of one shape."""
    _check_reduction(reduction)
    target = target if isinstance(target, Tensor) else Tensor(device_of(x.data).xp.asarray(target, x.dtype))
    if x.shape != target.shape:
        raise ValueError(f"mse_loss needs equal shapes, got {x.shape} and {target.shape}")
    return apply(MSE(reduction), x, target)


def _reduce(losses, reduction):
    return losses if reduction == "none" else losses.mean() if reduction == "mean" else losses.sum()


def _as_target(x, target, name):
    target = target if isinstance(target, Tensor) else Tensor(device_of(x.data).xp.asarray(target, x.dtype))
    if x.shape != target.shape:
        raise ValueError(f"{name} needs equal shapes, got {x.shape} and {target.shape}")
    return target


def l1_loss(x, target, reduction="mean"):
    """Mean (or sum, or elementwise) absolute difference of two tensors of one shape."""
    _check_reduction(reduction)
    return _reduce((x - _as_target(x, target, "l1_loss")).abs(), reduction)


def binary_cross_entropy_with_logits(logits, target, weight=None, reduction="mean", pos_weight=None):
    """-[pos_weight * y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))] (times weight), for targets y in [0, 1].

    Computed as (1 - y) x + (1 + (pos_weight - 1) y) (log(1 + exp(-|x|)) + max(-x, 0)): no overflow for large |x|.
    """
    _check_reduction(reduction)
    y = _as_target(logits, target, "binary_cross_entropy_with_logits")
    log_term = (1 + (-logits.abs()).exp()).log() + (-logits).relu()
    losses = (1 - y) * logits + (log_term if pos_weight is None else (1 + (pos_weight - 1) * y) * log_term)
    return _reduce(losses if weight is None else losses * weight, reduction)


# --- activations (also Tensor methods) --------------------------------------
def relu(x, inplace=False):
    """max(x, 0). inplace is accepted for PyTorch's signature; the result is always a new tensor."""
    return x.relu()


def relu6(x, inplace=False):
    return x.clamp(0.0, 6.0)


def leaky_relu(x, negative_slope=0.01, inplace=False):
    return apply(T.LeakyReLU(negative_slope), x)


def gelu(x, approximate="none"):
    """x * Phi(x) with the normal CDF exact (erf), or its tanh approximation (approximate='tanh')."""
    if approximate == "tanh":
        return 0.5 * x * (1 + ((x + 0.044715 * x ** 3) * float(np.sqrt(2 / np.pi))).tanh())
    if approximate != "none":
        raise ValueError(f"gelu's approximate must be 'none' or 'tanh', got {approximate!r}")
    return 0.5 * x * (1 + apply(T.Erf(), x * float(1 / np.sqrt(2))))


def silu(x, inplace=False):
    """x * sigmoid(x) (swish)."""
    return x * x.sigmoid()


def sigmoid(x):
    return x.sigmoid()


def tanh(x):
    return x.tanh()


def softmax(x, dim=-1):
    return x.softmax(dim)


def log_softmax(x, dim=-1):
    return x.log_softmax(dim)


def flatten(x, start_dim=1, end_dim=-1):
    return x.flatten(start_dim, end_dim)
