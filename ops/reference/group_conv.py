"""Plain NumPy p4 group convolution, straight from its definition.

out[n, k, r, i, j] = sum over c, s, u, v of x_padded[n, c, s, i * stride + u * dilation, j * stride + v * dilation]
                     * weight[k, c, (s - r) % 4, T^r(u, v)],
where T(u, v) = (v, kernel - 1 - u) is where a filter turned once by 90 degrees
(counter-clockwise) reads its original; a lifting layer's input and weight have
no rotation axis (one that does not move). Shapes as in ops.group_conv.
"""
import numpy as np

from .. import shapes

ROTATIONS = 4


def _source(u, v, r, size):
    """The tap of the unturned filter that the filter turned r times holds at (u, v)."""
    for _ in range(r):
        u, v = v, size - 1 - u
    return u, v


def p4_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """x (N, C, H, W) with weight (K, C, k, k), or x (N, C, 4, H, W) with weight (K, C, 4, k, k) -> (N, K, 4, H_out, W_out)."""
    lifting = x.ndim == 4
    if lifting:
        x, weight = x[:, :, None], weight[:, :, None]
    n, c, turns_in = x.shape[:3]
    k, size = weight.shape[0], weight.shape[-1]
    geom = shapes.conv_geometry((n, c) + x.shape[3:], (k, c) + weight.shape[3:], 2, stride, padding, dilation)
    xp = np.pad(x, ((0, 0),) * 3 + geom.padding)
    (sh, sw), (dh, dw), (oh, ow) = geom.stride, geom.dilation, geom.out_spatial
    out = np.zeros((n, k, ROTATIONS, oh, ow), x.dtype)
    for r in range(ROTATIONS):
        for s in range(turns_in):
            source_turn = 0 if lifting else (s - r) % ROTATIONS
            for u in range(size):
                for v in range(size):
                    window = xp[:, :, s, u * dh:u * dh + (oh - 1) * sh + 1:sh, v * dw:v * dw + (ow - 1) * sw + 1:sw]
                    tap = weight[(slice(None), slice(None), source_turn) + _source(u, v, r, size)]
                    out[:, :, r] += np.einsum("nchw,kc->nkhw", window, tap)
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1, 1)
    return out
