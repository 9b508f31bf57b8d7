"""p4 group convolution (Cohen & Welling, Group Equivariant CNNs, 2016): equivariant to shifts and 90-degree turns.

A p4 feature map carries a rotation axis of size 4: (N, C, 4, H, W); map r of
channel c is the response to channel c's filter turned r times by 90 degrees
(counter-clockwise, np.rot90's sense on the last two axes).

- lifting layer (Z2 -> p4): x (N, C, H, W), weight (K, C, k, k) -> (N, K, 4, H_out, W_out),
  out[:, :, r] = conv2d(x, rot90(weight, r));
- group layer (p4 -> p4): x (N, C, 4, H, W), weight (K, C, 4, k, k) -> (N, K, 4, H_out, W_out),
  out[:, :, r] = conv2d(x as (N, 4C, H, W), rot90(roll(weight, r, axis=2), r) as (K, 4C, k, k)):
  turning the filter also moves it along the input's rotation axis.

Both run as one ops.conv2d over the filter bank expanded to its four turns
(K -> 4K output channels, ordered (K, 4)); the gradients are conv2d's, the
weight gradient summed back through the inverse turns. For a square input,
stride 1 (or any stride dividing H + 2 * padding - dilation * (k - 1)) and the
same padding on every side, turning the input turns every output map and
shifts the rotation axis by one, exactly:
    p4_conv2d(rot90(x)) == rot90(roll(p4_conv2d(x), 1, axis=2)).
"""
import numpy as np

from . import conv

ROTATIONS = 4


def check_p4_shapes(input_shape, weight_shape):
    """Raise ValueError unless input and weight are (N, C, H, W) and (K, C, k, k) (lifting layer)
    or (N, C, 4, H, W) and (K, C, 4, k, k) (group layer)."""
    input_shape, weight_shape = tuple(input_shape), tuple(weight_shape)
    if len(input_shape) == 4:
        kind, expected = "lifting", 4
    elif len(input_shape) == 5 and input_shape[2] == ROTATIONS:
        kind, expected = "group", 5
    else:
        raise ValueError(f"p4_conv2d input must be (N, C, H, W) or (N, C, 4, H, W), got shape {input_shape}")
    if len(weight_shape) != expected or (kind == "group" and weight_shape[2] != ROTATIONS):
        layout = "(K, C, k, k)" if kind == "lifting" else "(K, C, 4, k, k)"
        raise ValueError(f"p4_conv2d weight for a {kind} layer (input {input_shape}) must be {layout}, "
                         f"got shape {weight_shape}")
    if weight_shape[-1] != weight_shape[-2]:
        raise ValueError(f"p4_conv2d weight must have a square kernel (turning it must keep its shape), "
                         f"got shape {weight_shape}")
    if weight_shape[1] != input_shape[1]:
        raise ValueError(f"weight expects {weight_shape[1]} input channels, input has {input_shape[1]} "
                         f"(weight shape {weight_shape}, input shape {input_shape})")


def _planar(shape):
    """The (N, C [x 4], H, W) shape a p4 array has as an ordinary conv2d operand."""
    shape = tuple(shape)
    return shape if len(shape) == 4 else (shape[0], shape[1] * shape[2]) + shape[3:]


def expand_weight(weight):
    """The conv2d filter bank of a p4 layer: (K, C, k, k) -> (4K, C, k, k), (K, C, 4, k, k) -> (4K, 4C, k, k);
    output channel 4 * k + r holds filter k turned r times (and, for a group layer, rolled r along its rotation axis)."""
    if weight.ndim == 4:
        turns = [np.rot90(weight, r, axes=(-2, -1)) for r in range(ROTATIONS)]
    else:
        turns = [np.rot90(np.roll(weight, r, axis=2), r, axes=(-2, -1)) for r in range(ROTATIONS)]
    return np.ascontiguousarray(np.stack(turns, axis=1).reshape(_planar((weight.shape[0] * ROTATIONS,) + weight.shape[1:])))


def fold_weight_grad(grad_expanded, weight_shape):
    """The adjoint of expand_weight: the gradient of the expanded bank summed back onto weight_shape."""
    k = weight_shape[0]
    grad = grad_expanded.reshape((k, ROTATIONS) + tuple(weight_shape[1:]))
    if len(weight_shape) == 4:
        total = sum(np.rot90(grad[:, r], -r, axes=(-2, -1)) for r in range(ROTATIONS))
    else:
        total = sum(np.roll(np.rot90(grad[:, r], -r, axes=(-2, -1)), -r, axis=2) for r in range(ROTATIONS))
    return np.ascontiguousarray(total)


def _checked(x_name, x, w_name, w, bias=None):
    x, w, bias, device = conv.checked(x_name, x, w_name, w, bias)
    if device != "cpu":
        raise NotImplementedError("p4_conv2d runs on the CPU only (NumPy arrays); got CUDA device arrays")
    return x, w, bias


def _check_p4_grad(grad_out):
    if grad_out.ndim != 5 or grad_out.shape[2] != ROTATIONS:
        raise ValueError(f"grad_out must be (N, K, 4, H_out, W_out), got shape {tuple(grad_out.shape)}")


def _p4_shape(planar_shape):
    """(N, 4K, H, W) -> (N, K, 4, H, W)."""
    n, channels = planar_shape[:2]
    return (n, channels // ROTATIONS, ROTATIONS) + tuple(planar_shape[2:])


def p4_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, algorithm="auto"):
    """p4 group convolution, lifting or group layer by x's shape (see the module docstring).

    x (N, C, H, W) and weight (K, C, k, k), or x (N, C, 4, H, W) and weight (K, C, 4, k, k);
    bias (K,), shared by the four turns, or None -> (N, K, 4, H_out, W_out).
    stride, padding, dilation and algorithm as in ops.conv2d.
    """
    x, weight, bias = _checked("input", x, "weight", weight, bias)
    check_p4_shapes(x.shape, weight.shape)
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    planar_bias = None if bias is None else np.repeat(bias, ROTATIONS)
    out = conv.conv2d(x.reshape(_planar(x.shape)), expand_weight(weight), planar_bias, stride, padding, dilation,
                      algorithm=algorithm)
    return out.reshape(_p4_shape(out.shape))


def p4_conv2d_grad_input(grad_out, weight, input_shape, stride=1, padding=0, dilation=1, algorithm="auto"):
    """Gradient of p4_conv2d with respect to its input: grad_out (N, K, 4, H_out, W_out) -> input_shape."""
    grad_out, weight, _ = _checked("grad_out", grad_out, "weight", weight)
    check_p4_shapes(input_shape, weight.shape)
    _check_p4_grad(grad_out)
    grad = conv.conv2d_grad_input(grad_out.reshape(_planar(grad_out.shape)), expand_weight(weight),
                                  _planar(input_shape), stride, padding, dilation, algorithm=algorithm)
    return grad.reshape(tuple(input_shape))


def p4_conv2d_grad_weight(x, grad_out, weight_shape, stride=1, padding=0, dilation=1, algorithm="auto"):
    """Gradient of p4_conv2d with respect to its weight: x and grad_out (N, K, 4, H_out, W_out) -> weight_shape."""
    x, grad_out, _ = _checked("input", x, "grad_out", grad_out)
    check_p4_shapes(x.shape, weight_shape)
    _check_p4_grad(grad_out)
    expanded_shape = _planar((weight_shape[0] * ROTATIONS,) + tuple(weight_shape[1:]))
    grad = conv.conv2d_grad_weight(x.reshape(_planar(x.shape)), grad_out.reshape(_planar(grad_out.shape)),
                                   expanded_shape, stride, padding, dilation, algorithm=algorithm)
    return fold_weight_grad(grad, tuple(weight_shape))
