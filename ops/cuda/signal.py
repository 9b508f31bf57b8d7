"""ops.correlate / convolve on the device, SciPy's conventions, through the direct convolution kernel.

convolve(in1, in2) is the correlation of in1 with in2 flipped; 'full', 'same'
and 'valid' differ only in how much the correlation pads in1, so each mode is
one direct.forward call over a single-channel geometry with (possibly
asymmetric) padding, and no cropping afterwards.
"""
from .. import shapes
from . import arrays, direct


def correlation_geometry(shape1, shape2, mode):
    """The ConvGeometry of correlating in1 with a shape2 kernel so that the result is SciPy's `mode` output."""
    out = shapes.signal_output_shape(shape1, shape2, mode)
    full = shapes.signal_output_shape(shape1, shape2, "full")
    padding = []
    for a, b, o, f in zip(shape1, shape2, out, full):
        lead = b - 1 - (f - o) // 2
        padding.append((lead, o - a + b - 1 - lead))
    ones = (1,) * len(shape1)
    return shapes.ConvGeometry(1, 1, 1, 1, tuple(shape1), tuple(shape2), ones, tuple(padding), ones, out)


def convolve(in1, in2, mode="full"):
    """True convolution of device arrays in1, in2 (1-3-D, same dtype), like scipy.signal.convolve."""
    if mode == "valid" and any(b > a for a, b in zip(in1.shape, in2.shape)):
        in1, in2 = in2, in1      # convolution commutes; 'valid' slides the smaller input, as in SciPy
    shape1, shape2 = tuple(in1.shape), tuple(in2.shape)
    geom = correlation_geometry(shape1, shape2, mode)
    out = direct.forward(in1.reshape((1, 1) + shape1), arrays.flip(in2).reshape((1, 1) + shape2), None, geom)
    return out.reshape(geom.out_spatial)
