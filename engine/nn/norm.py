"""Batch normalisation over the channel axis, with running statistics for evaluation."""
import numpy as np

from .. import functional as F
from ..tensor import Tensor
from .module import Module, Parameter


class _BatchNorm(Module):
    ndims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, dtype=np.float32):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype)) if affine else None
        self.track_running_stats = track_running_stats
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype)))

    def forward(self, x):
        if x.ndim not in self.ndims or x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}) needs input of {' or '.join(map(str, self.ndims))} "
                             f"dims with {self.num_features} channels at axis 1, got shape {x.shape}")
        running = (self.running_mean, self.running_var) if self.track_running_stats else (None, None)
        return F.batch_norm(x, *running, self.weight, self.bias, self.training, self.momentum, self.eps)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.weight is not None}"


class BatchNorm1d(_BatchNorm):
    """(N, C) or (N, C, L)."""
    ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """(N, C, H, W)."""
    ndims = (4,)


class BatchNorm3d(_BatchNorm):
    """(N, C, D, H, W)."""
    ndims = (5,)
