"""Plain NumPy versions of every op: slow, obviously right, the oracle for every test.

signal: correlate / convolve / fftconvolve with SciPy's signatures.
conv:   forward / grad_input / grad_weight over an ops.shapes.ConvGeometry.
pool:   max / avg / blur pooling and their gradients over a PoolGeometry.
"""
from . import conv, pool
from .signal import convolve, correlate, fftconvolve

__all__ = ["conv", "pool", "correlate", "convolve", "fftconvolve"]
