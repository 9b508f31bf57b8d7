"""Convolution layers: Conv1d/2d/3d and ConvTranspose1d/2d/3d, PyTorch's arguments and default init."""
import numpy as np

from ops.shapes import as_tuple, normalise_padding

from .. import functional as F
from . import init
from .module import Module, Parameter


class _ConvNd(Module):
    nd = 0
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, output_padding=0, dtype=np.float32, generator=None):
        super().__init__()
        if not isinstance(groups, int) or groups < 1:
            raise ValueError(f"groups must be a positive int, got {groups!r}")
        for name, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(channels, int) or channels < 1 or channels % groups:
                raise ValueError(f"{name} must be a positive multiple of groups={groups}, got {channels!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = as_tuple(kernel_size, self.nd, "kernel_size", 1)
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.output_padding = output_padding
        shape = (in_channels, out_channels // groups) if self.transposed else (out_channels, in_channels // groups)
        self.weight = Parameter(np.empty(shape + self.kernel_size, dtype))
        self.bias = Parameter(np.empty(out_channels, dtype)) if bias else None
        init.default_(self.weight, self.bias, generator)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}" + (f", groups={self.groups}" if self.groups != 1 else "")
                + ("" if self.bias is not None else ", bias=False"))


PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _Conv(_ConvNd):
    """padding: an int, a tuple, 'valid' or 'same' (stride 1; any kernel and dilation, the odd extra on the
    right as in PyTorch). padding_mode other than 'zeros' pads the input with F.pad first, then convolves
    without padding."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=np.float32, generator=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         dtype=dtype, generator=generator)
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        self.padding_mode = padding_mode
        if padding_mode != "zeros":
            pairs = normalise_padding(padding, self.kernel_size, as_tuple(dilation, self.nd, "dilation", 1),
                                       as_tuple(stride, self.nd, "stride", 1), self.nd)
            self._flat_pad = tuple(p for pair in reversed(pairs) for p in pair)  # F.pad's order: last dim first

    def forward(self, x):
        if self.padding_mode == "zeros":
            return self.function(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        x = F.pad(x, self._flat_pad, self.padding_mode)
        return self.function(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class _ConvTranspose(_ConvNd):
    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, dtype=np.float32, generator=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         output_padding, dtype, generator)

    def forward(self, x):
        return self.function(x, self.weight, self.bias, self.stride, self.padding, self.output_padding, self.groups,
                             self.dilation)


class Conv1d(_Conv):
    """(N, C_in, L) -> (N, C_out, L_out); weight (C_out, C_in // groups, k)."""
    nd = 1
    function = staticmethod(F.conv1d)


class Conv2d(_Conv):
    """(N, C_in, H, W) -> (N, C_out, H_out, W_out); weight (C_out, C_in // groups, kh, kw)."""
    nd = 2
    function = staticmethod(F.conv2d)


class Conv3d(_Conv):
    """(N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out); weight (C_out, C_in // groups, kd, kh, kw)."""
    nd = 3
    function = staticmethod(F.conv3d)


class ConvTranspose1d(_ConvTranspose):
    """(N, C_in, L) -> (N, C_out, L_out); weight (C_in, C_out // groups, k)."""
    nd = 1
    function = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """(N, C_in, H, W) -> (N, C_out, H_out, W_out); weight (C_in, C_out // groups, kh, kw)."""
    nd = 2
    function = staticmethod(F.conv_transpose2d)


class ConvTranspose3d(_ConvTranspose):
    """(N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out); weight (C_in, C_out // groups, kd, kh, kw)."""
    nd = 3
    function = staticmethod(F.conv_transpose3d)
