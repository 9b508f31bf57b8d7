"""What several CPU conv algorithms make of their operands: zero-padded, flattened input planes (split into
stride phases where asked), the flat offsets of the kernel taps into them, and the flipped, transposed
weights of the transposed geometry (ops.shapes.ConvGeometry.transposed).
"""
import numpy as np

from .. import threads
from .._native import padding


def planes(x):
    """(N, C, *S) -> (N * C, D, H, W), 1-D and 2-D planes as D = H = 1 or D = 1."""
    return x.reshape((x.shape[0] * x.shape[1],) + (1,) * (5 - x.ndim) + x.shape[2:])


def padded_planes(x, lows, phases, volume):
    """(N, C, *S) -> (N, C, volume): each plane zero-padded with the input at `lows`, split into the stride
    phases (sd, sh, Dq, Hq, Wr) (see ops.cpu.implicit; (1, 1, D, H, W) pads only), flattened, zeros to the end."""
    padded = np.empty(x.shape[:2] + (volume,), x.dtype)
    padding.pad_planes(planes(x), padded.reshape(-1, volume), lows, phases, threads.get_num_threads())
    return padded


class FlatTaps:
    """The input of one conv geometry zero-padded once per (image, channel), as far as its last window
    reaches, and flattened to a volume V = Dp * Hp * Wp (1-D and 2-D as 3-D with D = H = 1): kernel tap t
    reads at offsets[t] from the start of its window.

    With stride 1 in every dim, a kernel sliding along the flat volume reads up to `slack` elements past its
    end (the (kw - 1) * dw columns after the last row): they are kept as zeros, in `volume`.
    """

    def __init__(self, geom):
        fill = 3 - geom.nd
        self.kernel = (1,) * fill + geom.kernel
        self.stride = (1,) * fill + geom.stride
        self.dilation = (1,) * fill + geom.dilation
        pads = ((0, 0),) * fill + geom.padding
        self.out = (1,) * fill + geom.out_spatial
        # pad after as far as the last window reaches (at least the requested padding, for the crop)
        self.pads = tuple((lo, max(hi, (o - 1) * s + d * (k - 1) + 1 - size - lo))
                          for (lo, hi), o, s, d, k, size in
                          zip(pads, self.out, self.stride, self.dilation, self.kernel, (1,) * fill + geom.in_spatial))
        self.padded = tuple(size + lo + hi for size, (lo, hi) in zip((1,) * fill + geom.in_spatial, self.pads))
        self.lows = tuple(lo for lo, _ in self.pads)
        _, hp, wp = self.padded
        taps = np.indices(self.kernel).reshape(3, -1)
        dz, dy, dx = self.dilation
        self.offsets = ((taps[0] * dz * hp + taps[1] * dy) * wp + taps[2] * dx).astype(np.int64)
        self.wide = all(s == 1 for s in self.stride)
        self.slack = (self.kernel[2] - 1) * dx if self.wide else 0
        self.volume = self.padded[0] * hp * wp + self.slack

    def pad_input(self, x):
        """(N, C, *S) -> (N, C, volume): zero-padded, flattened, followed by the slack."""
        return padded_planes(x, self.lows, (1, 1) + self.padded, self.volume)

    def crop_input(self, xp, shape):
        """(N, C, volume) -> (N, C, *S): the inverse of pad_input."""
        five = xp[:, :, :self.volume - self.slack].reshape(xp.shape[:2] + self.padded)
        inside = five[(Ellipsis,) + tuple(slice(lo, p - hi) for (lo, hi), p in zip(self.pads, self.padded))]
        return np.ascontiguousarray(inside).reshape(shape)


def transposed_weights(w, geom):
    """w (K, C // groups, *k) flipped in space, its channel axes swapped within each group: (C, K // groups, *k),
    the weights of the transposed geometry (ConvGeometry.transposed)."""
    groups, kg, cg = geom.groups, geom.out_channels // geom.groups, geom.in_channels // geom.groups
    flipped = np.flip(w, axis=tuple(range(2, 2 + geom.nd))).reshape((groups, kg, cg) + geom.kernel)
    return np.ascontiguousarray(flipped.swapaxes(1, 2)).reshape((geom.in_channels, kg) + geom.kernel)


def transposed_forward(forward, grad_out, w, geom):
    """The input gradient of a stride-1 conv as forward(grad_out cropped, transposed_weights(w), None, transposed
    geometry) (ConvGeometry.transposed): (N, K, *S_out) -> (N, C, *S)."""
    crop, transposed = geom.transposed()
    g = np.ascontiguousarray(grad_out[(Ellipsis,) + crop])
    return forward(g, transposed_weights(w, geom), None, transposed)
