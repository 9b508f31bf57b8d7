"""Pooling layers: max, average, adaptive (average, max) and anti-aliased blur pooling in 1-3 dims."""
from .. import functional as F
from .module import Module


class _MaxPool(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.ceil_mode = dilation, ceil_mode

    def forward(self, x):
        return self.function(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AvgPool(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x):
        return self.function(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _BlurPool(Module):
    """Zhang's anti-aliased downsampling: a binomial blur of filt_size, then subsampling by stride.

    max_pool=True first takes the max over 2-wide windows at stride 1 (his MaxBlurPool,
    the drop-in replacement for a stride-2 max-pool).
    """

    def __init__(self, filt_size=3, stride=2, max_pool=False):
        super().__init__()
        self.filt_size, self.stride, self.max_pool = filt_size, stride, max_pool

    def forward(self, x):
        if self.max_pool:
            x = self.max_function(x, 2, 1)
        return self.function(x, self.filt_size, self.stride)

    def extra_repr(self):
        return f"filt_size={self.filt_size}, stride={self.stride}, max_pool={self.max_pool}"


class MaxPool1d(_MaxPool):
    function = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPool):
    function = staticmethod(F.max_pool2d)


class MaxPool3d(_MaxPool):
    function = staticmethod(F.max_pool3d)


class AvgPool1d(_AvgPool):
    function = staticmethod(F.avg_pool1d)


class AvgPool2d(_AvgPool):
    function = staticmethod(F.avg_pool2d)


class AvgPool3d(_AvgPool):
    function = staticmethod(F.avg_pool3d)


class BlurPool1d(_BlurPool):
    function = staticmethod(F.blur_pool1d)
    max_function = staticmethod(F.max_pool1d)


class BlurPool2d(_BlurPool):
    function = staticmethod(F.blur_pool2d)
    max_function = staticmethod(F.max_pool2d)


class _AdaptivePool(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return self.function(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class _AdaptiveMaxPool(_AdaptivePool):
    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, x):
        return self.function(x, self.output_size, self.return_indices)


class AdaptiveAvgPool1d(_AdaptivePool):
    function = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptivePool):
    function = staticmethod(F.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptivePool):
    function = staticmethod(F.adaptive_avg_pool3d)


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    function = staticmethod(F.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    function = staticmethod(F.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPool):
    function = staticmethod(F.adaptive_max_pool3d)
