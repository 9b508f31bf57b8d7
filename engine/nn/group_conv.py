"""P4Conv2d: the p4 group convolution as a layer (ops.group_conv), PyTorch's default init."""
import numpy as np

from ops.group_conv import ROTATIONS

from .. import functional as F
from . import init
from .module import Module, Parameter


class P4Conv2d(Module):
    """Convolution equivariant to shifts and 90-degree turns (Cohen & Welling 2016).

    lifting=True (the first layer): (N, C_in, H, W) -> (N, C_out, 4, H_out, W_out), weight (C_out, C_in, k, k);
    lifting=False: (N, C_in, 4, H, W) -> (N, C_out, 4, H_out, W_out), weight (C_out, C_in, 4, k, k).
    The bias (C_out,) is shared by the four turns. Square kernels only.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True,
                 lifting=False, dtype=np.float32, generator=None):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("kernel_size", kernel_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.in_channels, self.out_channels, self.kernel_size, self.lifting = in_channels, out_channels, kernel_size, lifting
        self.stride, self.padding, self.dilation = stride, padding, dilation
        turns = () if lifting else (ROTATIONS,)
        self.weight = Parameter(np.empty((out_channels, in_channels) + turns + (kernel_size, kernel_size), dtype))
        self.bias = Parameter(np.empty(out_channels, dtype)) if bias else None
        init.default_(self.weight, self.bias, generator)

    def forward(self, x):
        return F.p4_conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}" + (", lifting=True" if self.lifting else "")
                + ("" if self.bias is not None else ", bias=False"))
