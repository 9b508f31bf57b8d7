"""Convolution layers (deep-learning cross-correlation) in 1-3 dims, their gradients and transposes.

PyTorch's conventions: x (N, C, *spatial), weight (K, C // groups, *kernel),
result (N, K, *spatial_out). padding is an int, a tuple, 'same' (stride 1) or
'valid'. algorithm is 'auto' or a name from ops.select.CONV_ALGORITHMS
('reference' is the NumPy oracle).

The gradients are themselves convolutions: grad_input is the transposed
convolution of grad_out with the weight, grad_weight the correlation of the
input with grad_out.
"""
import numpy as np

from . import select, shapes


def checked(x_name, x, w_name, w, bias=None):
    """The two operands (and bias) checked (ops.shapes.check_array) and of one dtype and device: (x, w, bias, device)."""
    x = shapes.check_array(x, x_name)
    w = shapes.check_array(w, w_name)
    if bias is not None:
        bias = shapes.check_array(bias, "bias")
    dtype, device = shapes.check_same_kind(**{x_name: x, w_name: w, "bias": bias})
    return x, w, bias, device


def _conv(nd, x, weight, bias, stride, padding, dilation, groups, algorithm):
    x, weight, bias, device = checked("input", x, "weight", weight, bias)
    geom = shapes.conv_geometry(x.shape, weight.shape, nd, stride, padding, dilation, groups)
    if bias is not None and tuple(bias.shape) != (geom.out_channels,):
        raise ValueError(f"bias must have shape ({geom.out_channels},), got {tuple(bias.shape)}")
    return select.conv_algorithm(geom, device, algorithm).forward(x, weight, bias, geom)


def _grad_input(nd, grad_out, weight, input_shape, stride, padding, dilation, groups, algorithm):
    grad_out, weight, _, device = checked("grad_out", grad_out, "weight", weight)
    geom = shapes.conv_geometry(input_shape, weight.shape, nd, stride, padding, dilation, groups)
    shapes.check_conv_grad_shape(grad_out, geom)
    return select.conv_algorithm(geom, device, algorithm).grad_input(grad_out, weight, geom)


def _grad_weight(nd, x, grad_out, weight_shape, stride, padding, dilation, groups, algorithm):
    x, grad_out, _, device = checked("input", x, "grad_out", grad_out)
    geom = shapes.conv_geometry(x.shape, weight_shape, nd, stride, padding, dilation, groups)
    shapes.check_conv_grad_shape(grad_out, geom)
    return select.conv_algorithm(geom, device, algorithm).grad_weight(x, grad_out, geom)


def _resized(a, shape, device):
    """`a` cut or zero-extended at the end of each dim to `shape`: a transposed conv's input seen on the grid
    of its conv's outputs, which is longer where output_padding >= stride."""
    if tuple(a.shape) == tuple(shape):
        return a
    common = tuple(slice(0, min(m, n)) for m, n in zip(a.shape, shape))
    if device == "cuda":
        from .cuda import xp
        out = xp.zeros(shape, a.dtype)
        xp.setitem(out, common, xp.getitem(a, common))
        return out
    out = np.zeros(shape, a.dtype)
    out[common] = a[common]
    return out


def _conv_transpose(nd, x, weight, bias, stride, padding, output_padding, groups, dilation, algorithm):
    x, weight, bias, device = checked("input", x, "weight", weight, bias)
    geom = shapes.conv_transpose_geometry(x.shape, weight.shape, nd, stride, padding, output_padding, groups, dilation)
    if bias is not None and tuple(bias.shape) != (geom.in_channels,):
        raise ValueError(f"bias must have shape ({geom.in_channels},), got {tuple(bias.shape)}")
    out = select.conv_algorithm(geom, device, algorithm).grad_input(_resized(x, geom.output_shape, device), weight, geom)
    if bias is not None and device == "cuda":
        from .cuda import elementwise
        return elementwise.bias_add(out, bias, out=out)
    if bias is not None:
        out += bias.reshape((1, -1) + (1,) * nd)
    return out


def _conv_transpose_grad_input(nd, grad_out, weight, input_shape, stride, padding, output_padding, groups, dilation,
                               algorithm):
    grad_out, weight, _, device = checked("grad_out", grad_out, "weight", weight)
    geom = shapes.conv_transpose_geometry(input_shape, weight.shape, nd, stride, padding, output_padding, groups,
                                          dilation)
    if tuple(grad_out.shape) != geom.input_shape:
        raise ValueError(f"grad_out has shape {tuple(grad_out.shape)}, the transposed conv produces {geom.input_shape}")
    grad = select.conv_algorithm(geom, device, algorithm).forward(grad_out, weight, None, geom)
    return _resized(grad, tuple(input_shape), device)


def _conv_transpose_grad_weight(nd, x, grad_out, weight_shape, stride, padding, output_padding, groups, dilation,
                                algorithm):
    x, grad_out, _, device = checked("input", x, "grad_out", grad_out)
    geom = shapes.conv_transpose_geometry(x.shape, weight_shape, nd, stride, padding, output_padding, groups, dilation)
    if tuple(grad_out.shape) != geom.input_shape:
        raise ValueError(f"grad_out has shape {tuple(grad_out.shape)}, the transposed conv produces {geom.input_shape}")
    return select.conv_algorithm(geom, device, algorithm).grad_weight(grad_out, _resized(x, geom.output_shape, device),
                                                                      geom)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, algorithm="auto"):
    """x (N, C, L), weight (K, C // groups, k), bias (K,) or None -> (N, K, L_out)."""
    return _conv(1, x, weight, bias, stride, padding, dilation, groups, algorithm)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, algorithm="auto"):
    """x (N, C, H, W), weight (K, C // groups, kh, kw), bias (K,) or None -> (N, K, H_out, W_out)."""
    return _conv(2, x, weight, bias, stride, padding, dilation, groups, algorithm)


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, algorithm="auto"):
    """x (N, C, D, H, W), weight (K, C // groups, kd, kh, kw), bias (K,) or None -> (N, K, D_out, H_out, W_out)."""
    return _conv(3, x, weight, bias, stride, padding, dilation, groups, algorithm)


def conv1d_grad_input(grad_out, weight, input_shape, stride=1, padding=0, dilation=1, groups=1, algorithm="auto"):
    """Gradient of conv1d with respect to its input: grad_out (N, K, L_out) -> (N, C, L) = input_shape."""
    return _grad_input(1, grad_out, weight, input_shape, stride, padding, dilation, groups, algorithm)


def conv2d_grad_input(grad_out, weight, input_shape, stride=1, padding=0, dilation=1, groups=1, algorithm="auto"):
    """Gradient of conv2d with respect to its input: grad_out (N, K, H_out, W_out) -> input_shape."""
    return _grad_input(2, grad_out, weight, input_shape, stride, padding, dilation, groups, algorithm)


def conv3d_grad_input(grad_out, weight, input_shape, stride=1, padding=0, dilation=1, groups=1, algorithm="auto"):
    """Gradient of conv3d with respect to its input: grad_out (N, K, D_out, H_out, W_out) -> input_shape."""
    return _grad_input(3, grad_out, weight, input_shape, stride, padding, dilation, groups, algorithm)


def conv1d_grad_weight(x, grad_out, weight_shape, stride=1, padding=0, dilation=1, groups=1, algorithm="auto"):
    """Gradient of conv1d with respect to its weight: x (N, C, L), grad_out (N, K, L_out) -> weight_shape."""
    return _grad_weight(1, x, grad_out, weight_shape, stride, padding, dilation, groups, algorithm)


def conv2d_grad_weight(x, grad_out, weight_shape, stride=1, padding=0, dilation=1, groups=1, algorithm="auto"):
    """Gradient of conv2d with respect to its weight: x (N, C, H, W), grad_out (N, K, H_out, W_out) -> weight_shape."""
    return _grad_weight(2, x, grad_out, weight_shape, stride, padding, dilation, groups, algorithm)


def conv3d_grad_weight(x, grad_out, weight_shape, stride=1, padding=0, dilation=1, groups=1, algorithm="auto"):
    """Gradient of conv3d with respect to its weight: x (N, C, D, H, W), grad_out (N, K, ...) -> weight_shape."""
    return _grad_weight(3, x, grad_out, weight_shape, stride, padding, dilation, groups, algorithm)


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, algorithm="auto"):
    """Transposed conv (PyTorch's argument order): x (N, C_in, L), weight (C_in, C_out // groups, k) -> (N, C_out, L_out).

    Its gradients: conv_transpose1d_grad_input and conv_transpose1d_grad_weight (where output_padding < stride,
    conv1d(grad_out, weight, ...) and conv1d_grad_weight(grad_out, x, ...)).
    """
    return _conv_transpose(1, x, weight, bias, stride, padding, output_padding, groups, dilation, algorithm)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, algorithm="auto"):
    """Transposed conv: x (N, C_in, H, W), weight (C_in, C_out // groups, kh, kw) -> (N, C_out, H_out, W_out).

    H_out = (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1.
    Its gradients: conv_transpose2d_grad_input and conv_transpose2d_grad_weight.
    """
    return _conv_transpose(2, x, weight, bias, stride, padding, output_padding, groups, dilation, algorithm)


def conv_transpose3d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, algorithm="auto"):
    """Transposed conv: x (N, C_in, D, H, W), weight (C_in, C_out // groups, kd, kh, kw) -> (N, C_out, ...)."""
    return _conv_transpose(3, x, weight, bias, stride, padding, output_padding, groups, dilation, algorithm)


def conv_transpose1d_grad_input(grad_out, weight, input_shape, stride=1, padding=0, output_padding=0, groups=1,
                                dilation=1, algorithm="auto"):
    """Gradient of conv_transpose1d with respect to its input: grad_out (N, C_out, L_out) -> input_shape (N, C_in, L)."""
    return _conv_transpose_grad_input(1, grad_out, weight, input_shape, stride, padding, output_padding, groups,
                                      dilation, algorithm)


def conv_transpose2d_grad_input(grad_out, weight, input_shape, stride=1, padding=0, output_padding=0, groups=1,
                                dilation=1, algorithm="auto"):
    """Gradient of conv_transpose2d with respect to its input: grad_out (N, C_out, H_out, W_out) -> input_shape."""
    return _conv_transpose_grad_input(2, grad_out, weight, input_shape, stride, padding, output_padding, groups,
                                      dilation, algorithm)


def conv_transpose3d_grad_input(grad_out, weight, input_shape, stride=1, padding=0, output_padding=0, groups=1,
                                dilation=1, algorithm="auto"):
    """Gradient of conv_transpose3d with respect to its input: grad_out (N, C_out, D_out, H_out, W_out) -> input_shape."""
    return _conv_transpose_grad_input(3, grad_out, weight, input_shape, stride, padding, output_padding, groups,
                                      dilation, algorithm)


def conv_transpose1d_grad_weight(x, grad_out, weight_shape, stride=1, padding=0, output_padding=0, groups=1,
                                 dilation=1, algorithm="auto"):
    """Gradient of conv_transpose1d with respect to its weight: x (N, C_in, L), grad_out (N, C_out, L_out) ->
    weight_shape (C_in, C_out // groups, k)."""
    return _conv_transpose_grad_weight(1, x, grad_out, weight_shape, stride, padding, output_padding, groups,
                                       dilation, algorithm)


def conv_transpose2d_grad_weight(x, grad_out, weight_shape, stride=1, padding=0, output_padding=0, groups=1,
                                 dilation=1, algorithm="auto"):
    """Gradient of conv_transpose2d with respect to its weight: x (N, C_in, H, W), grad_out (N, C_out, ...) ->
    weight_shape (C_in, C_out // groups, kh, kw)."""
    return _conv_transpose_grad_weight(2, x, grad_out, weight_shape, stride, padding, output_padding, groups,
                                       dilation, algorithm)


def conv_transpose3d_grad_weight(x, grad_out, weight_shape, stride=1, padding=0, output_padding=0, groups=1,
                                 dilation=1, algorithm="auto"):
    """Gradient of conv_transpose3d with respect to its weight: x (N, C_in, D, H, W), grad_out (N, C_out, ...) ->
    weight_shape (C_in, C_out // groups, kd, kh, kw)."""
    return _conv_transpose_grad_weight(3, x, grad_out, weight_shape, stride, padding, output_padding, groups,
                                       dilation, algorithm)
