"""Plain NumPy N-D convolution layers (deep-learning cross-correlation) and their gradients.

One loop over kernel offsets; each step reads a strided window of the padded
input and contracts the channels of one group with einsum. The gradients are
the same loop transposed. Shapes: x (N, C, *S), w (K, C // groups, *k),
out (N, K, *S_out); geom is an ops.shapes.ConvGeometry.
"""
import numpy as np


def _windows(geom, offset):
    """Slices of the padded input read by kernel element `offset` for every output position."""
    return tuple(slice(o * d, o * d + (n - 1) * s + 1, s)
                 for o, d, s, n in zip(offset, geom.dilation, geom.stride, geom.out_spatial))


def _padded_shape(geom):
    return tuple(size + lo + hi for size, (lo, hi) in zip(geom.in_spatial, geom.padding))


def _grouped(a, geom, channels):
    """(N, channels, *S) -> (N, groups, channels // groups, *S)."""
    return a.reshape((a.shape[0], geom.groups, channels // geom.groups) + a.shape[2:])


def forward(x, w, bias, geom):
    xp = np.pad(x, ((0, 0), (0, 0)) + geom.padding)
    xg = _grouped(xp, geom, geom.in_channels)
    wg = w.reshape((geom.groups, geom.out_channels // geom.groups) + w.shape[1:])
    out = np.zeros((geom.batch, geom.groups, geom.out_channels // geom.groups) + geom.out_spatial, x.dtype)
    for offset in np.ndindex(*geom.kernel):
        patch = xg[(Ellipsis,) + _windows(geom, offset)]
        out += np.einsum("ngc...,gkc->ngk...", patch, wg[(Ellipsis,) + offset])
    out = out.reshape(geom.output_shape)
    if bias is not None:
        out += bias.reshape((1, -1) + (1,) * geom.nd)
    return out


def grad_input(grad_out, w, geom):
    gg = _grouped(grad_out, geom, geom.out_channels)
    wg = w.reshape((geom.groups, geom.out_channels // geom.groups) + w.shape[1:])
    gxp = np.zeros((geom.batch, geom.groups, geom.in_channels // geom.groups) + _padded_shape(geom), grad_out.dtype)
    for offset in np.ndindex(*geom.kernel):
        gxp[(Ellipsis,) + _windows(geom, offset)] += np.einsum("ngk...,gkc->ngc...", gg, wg[(Ellipsis,) + offset])
    gxp = gxp.reshape((geom.batch, geom.in_channels) + _padded_shape(geom))
    crop = tuple(slice(lo, lo + size) for size, (lo, _) in zip(geom.in_spatial, geom.padding))
    return np.ascontiguousarray(gxp[(Ellipsis,) + crop])


def grad_weight(x, grad_out, geom):
    xg = _grouped(np.pad(x, ((0, 0), (0, 0)) + geom.padding), geom, geom.in_channels)
    gg = _grouped(grad_out, geom, geom.out_channels)
    gg = gg.reshape(gg.shape[:3] + (-1,))
    gw = np.zeros((geom.groups, geom.out_channels // geom.groups, geom.in_channels // geom.groups) + geom.kernel, x.dtype)
    for offset in np.ndindex(*geom.kernel):
        patch = xg[(Ellipsis,) + _windows(geom, offset)]
        gw[(Ellipsis,) + offset] = np.einsum("ngcs,ngks->gkc", patch.reshape(gg.shape[:2] + (-1, gg.shape[3])), gg)
    return gw.reshape(geom.weight_shape)
