"""Pooling in 1-3 dims (max, average) and anti-aliased blur-pool, with their gradients.

PyTorch's conventions: x (N, C, *spatial); stride defaults to kernel_size;
padding (at most half the kernel) counts as -inf for max and as zeros for
average; ceil_mode keeps a last partial window that starts inside the input.
Max-pool indices are flat positions in each (unpadded) input plane, int64.
"""
import numpy as np

from . import select, shapes


def _backend(x, name):
    x = shapes.check_array(x, name)
    return x, select.pool_backend(shapes.device_of(x))


def _max_pool(nd, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, backend = _backend(x, "input")
    geom = shapes.pool_geometry(x.shape, nd, kernel_size, stride, padding, dilation, ceil_mode)
    out, indices = backend.max_pool(x, geom)
    return (out, indices) if return_indices else out


def _checked_indices(indices, device):
    """Max-pool indices of an integer dtype whose values fit int64 (the kernels' type)."""
    if device == "cpu":
        indices = np.asarray(indices)
    if shapes.device_of(indices) != device:
        raise ValueError(f"indices are on {shapes.device_of(indices)}, grad_out on {device}")
    kind = np.dtype(indices.dtype).kind
    if kind not in "iu":
        raise TypeError(f"indices must be integers (int64, as max_pool returns them), got dtype {indices.dtype}")
    if kind == "u" and device == "cpu" and indices.size and indices.max() > np.iinfo(np.int64).max:
        raise ValueError(f"indices hold {indices.max()}, past any input plane")
    return indices


def _max_pool_grad(nd, grad_out, indices, input_shape, kernel_size, stride, padding, dilation, ceil_mode):
    grad_out, backend = _backend(grad_out, "grad_out")
    indices = _checked_indices(indices, shapes.device_of(grad_out))
    geom = shapes.pool_geometry(input_shape, nd, kernel_size, stride, padding, dilation, ceil_mode)
    if tuple(grad_out.shape) != geom.output_shape or tuple(indices.shape) != geom.output_shape:
        raise ValueError(f"grad_out {tuple(grad_out.shape)} and indices {tuple(indices.shape)} must have the pooled shape {geom.output_shape}")
    return backend.max_pool_grad_input(grad_out, indices, geom)


def _avg_pool(nd, x, kernel_size, stride, padding, ceil_mode, count_include_pad):
    x, backend = _backend(x, "input")
    geom = shapes.pool_geometry(x.shape, nd, kernel_size, stride, padding, 1, ceil_mode)
    return backend.avg_pool(x, geom, count_include_pad)


def _avg_pool_grad(nd, grad_out, input_shape, kernel_size, stride, padding, ceil_mode, count_include_pad):
    grad_out, backend = _backend(grad_out, "grad_out")
    geom = shapes.pool_geometry(input_shape, nd, kernel_size, stride, padding, 1, ceil_mode)
    if tuple(grad_out.shape) != geom.output_shape:
        raise ValueError(f"grad_out has shape {tuple(grad_out.shape)}, the pooling produces {geom.output_shape}")
    return backend.avg_pool_grad_input(grad_out, geom, count_include_pad)


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """x (N, C, L) -> (N, C, L_out), and the int64 indices if return_indices."""
    return _max_pool(1, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """x (N, C, H, W) -> (N, C, H_out, W_out), and the int64 indices if return_indices."""
    return _max_pool(2, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """x (N, C, D, H, W) -> (N, C, D_out, H_out, W_out), and the int64 indices if return_indices."""
    return _max_pool(3, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d_grad_input(grad_out, indices, input_shape, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Scatter grad_out (N, C, L_out) back to the positions in `indices`: -> input_shape."""
    return _max_pool_grad(1, grad_out, indices, input_shape, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d_grad_input(grad_out, indices, input_shape, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Scatter grad_out (N, C, H_out, W_out) back to the positions in `indices`: -> input_shape."""
    return _max_pool_grad(2, grad_out, indices, input_shape, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool3d_grad_input(grad_out, indices, input_shape, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Scatter grad_out (N, C, D_out, H_out, W_out) back to the positions in `indices`: -> input_shape."""
    return _max_pool_grad(3, grad_out, indices, input_shape, kernel_size, stride, padding, dilation, ceil_mode)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """x (N, C, L) -> (N, C, L_out): window means (padding counted in the divisor if count_include_pad)."""
    return _avg_pool(1, x, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """x (N, C, H, W) -> (N, C, H_out, W_out): window means."""
    return _avg_pool(2, x, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """x (N, C, D, H, W) -> (N, C, D_out, H_out, W_out): window means."""
    return _avg_pool(3, x, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool1d_grad_input(grad_out, input_shape, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Gradient of avg_pool1d: grad_out (N, C, L_out) -> input_shape."""
    return _avg_pool_grad(1, grad_out, input_shape, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool2d_grad_input(grad_out, input_shape, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Gradient of avg_pool2d: grad_out (N, C, H_out, W_out) -> input_shape."""
    return _avg_pool_grad(2, grad_out, input_shape, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool3d_grad_input(grad_out, input_shape, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Gradient of avg_pool3d: grad_out (N, C, D_out, H_out, W_out) -> input_shape."""
    return _avg_pool_grad(3, grad_out, input_shape, kernel_size, stride, padding, ceil_mode, count_include_pad)


def _blur_check(shape, nd, filt_size, stride, name="input"):
    if len(shape) != nd + 2:
        raise ValueError(f"blur_pool{nd}d {name} must be {nd + 2}-D, got shape {tuple(shape)}")
    shapes.as_int(filt_size, "filt_size", 1)
    shapes.as_tuple(stride, nd, "stride", 1)


def blur_pool1d(x, filt_size=3, stride=2):
    """Anti-aliased downsampling (Zhang 2019): reflect-pad, binomial blur of filt_size (1-7), subsample by stride.

    x (N, C, L) -> (N, C, (L - 1) // stride + 1).
    """
    x, backend = _backend(x, "input")
    _blur_check(x.shape, 1, filt_size, stride)
    return backend.blur_pool(x, filt_size, stride)


def blur_pool2d(x, filt_size=3, stride=2):
    """Anti-aliased downsampling (Zhang 2019): reflect-pad, binomial blur of filt_size (1-7), subsample by stride.

    x (N, C, H, W) -> (N, C, (H - 1) // stride + 1, (W - 1) // stride + 1).
    """
    x, backend = _backend(x, "input")
    _blur_check(x.shape, 2, filt_size, stride)
    return backend.blur_pool(x, filt_size, stride)


def blur_pool1d_grad_input(grad_out, input_shape, filt_size=3, stride=2):
    """Gradient of blur_pool1d: grad_out (N, C, L_out) -> input_shape."""
    grad_out, backend = _backend(grad_out, "grad_out")
    input_shape = shapes.as_shape(input_shape, "input_shape")
    _blur_check(input_shape, 1, filt_size, stride, "input_shape")
    return backend.blur_pool_grad_input(grad_out, input_shape, filt_size, stride)


def blur_pool2d_grad_input(grad_out, input_shape, filt_size=3, stride=2):
    """Gradient of blur_pool2d: grad_out (N, C, H_out, W_out) -> input_shape."""
    grad_out, backend = _backend(grad_out, "grad_out")
    input_shape = shapes.as_shape(input_shape, "input_shape")
    _blur_check(input_shape, 2, filt_size, stride, "input_shape")
    return backend.blur_pool_grad_input(grad_out, input_shape, filt_size, stride)
