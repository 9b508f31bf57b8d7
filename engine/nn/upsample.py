"""Upsample: F.interpolate as a layer, PyTorch's arguments."""
from .. import functional as F
from .module import Module


class Upsample(Module):
    """(N, C, *S) -> (N, C, *size) or (N, C, *floor(S * scale_factor)); mode nearest | linear | bilinear | trilinear."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None):
        super().__init__()
        self.size, self.scale_factor, self.mode, self.align_corners = size, scale_factor, mode, align_corners

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self):
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"
