"""Plain NumPy versions of every op: slow, obviously right, the oracle for every test.

signal: correlate / convolve / fftconvolve with SciPy's signatures.
conv:   forward / grad_input / grad_weight over an ops.shapes.ConvGeometry.
pool:   max / avg / blur pooling and their gradients over a PoolGeometry.
group_conv: the p4 group convolution from its definition.
"""
from . import conv, group_conv, pool
from .signal import convolve, correlate, fftconvolve

__all__ = ["conv", "group_conv", "pool", "correlate", "convolve", "fftconvolve"]
