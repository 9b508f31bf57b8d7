"""convref's kernels: correlation, convolution and pooling on NumPy arrays (CPU) or Numba CUDA arrays.

Every function validates its arguments (ops.shapes), then ops.select picks the
algorithm for the shape and device. ops.reference holds the plain NumPy oracle.
"""
from . import reference, shapes
from .conv import (
                   conv1d,
                   conv1d_grad_input,
                   conv1d_grad_weight,
                   conv2d,
                   conv2d_grad_input,
                   conv2d_grad_weight,
                   conv3d,
                   conv3d_grad_input,
                   conv3d_grad_weight,
                   conv_transpose1d,
                   conv_transpose1d_grad_input,
                   conv_transpose1d_grad_weight,
                   conv_transpose2d,
                   conv_transpose2d_grad_input,
                   conv_transpose2d_grad_weight,
                   conv_transpose3d,
                   conv_transpose3d_grad_input,
                   conv_transpose3d_grad_weight,
)
from .group_conv import p4_conv2d, p4_conv2d_grad_input, p4_conv2d_grad_weight
from .pool import (
                   avg_pool1d,
                   avg_pool1d_grad_input,
                   avg_pool2d,
                   avg_pool2d_grad_input,
                   avg_pool3d,
                   avg_pool3d_grad_input,
                   blur_pool1d,
                   blur_pool1d_grad_input,
                   blur_pool2d,
                   blur_pool2d_grad_input,
                   max_pool1d,
                   max_pool1d_grad_input,
                   max_pool2d,
                   max_pool2d_grad_input,
                   max_pool3d,
                   max_pool3d_grad_input,
)
from .resample import (
                   adaptive_avg_pool1d,
                   adaptive_avg_pool2d,
                   adaptive_avg_pool3d,
                   adaptive_avg_pool_grad_input,
                   adaptive_max_pool1d,
                   adaptive_max_pool2d,
                   adaptive_max_pool3d,
                   adaptive_max_pool_grad_input,
                   interpolate,
                   interpolate_grad_input,
                   pad,
                   pad_grad_input,
)
from .select import autotune
from .signal import (
                   choose_conv_method,
                   convolve,
                   convolve2d,
                   convolve_grad,
                   correlate,
                   correlate2d,
                   correlate_grad,
                   correlation_lags,
                   fftconvolve,
                   oaconvolve,
)
from .threads import get_num_threads, set_num_threads

__version__ = "0.1.0"
