"""Loss modules: PyTorch's names and arguments over engine.functional's losses."""
from .. import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        F._check_reduction(reduction)
        self.reduction = reduction


class CrossEntropyLoss(_Loss):
    """logits (N, C), labels (N,) -> loss; weight (C,), ignore_index and label_smoothing as in PyTorch."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        self.weight, self.ignore_index, self.label_smoothing = weight, ignore_index, label_smoothing

    def forward(self, logits, target):
        return F.cross_entropy(logits, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)


class MSELoss(_Loss):
    def forward(self, x, target):
        return F.mse_loss(x, target, self.reduction)


class L1Loss(_Loss):
    def forward(self, x, target):
        return F.l1_loss(x, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid and binary cross-entropy in one stable step; weight and pos_weight broadcast against the input."""

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, logits, target):
        return F.binary_cross_entropy_with_logits(logits, target, self.weight, self.reduction, self.pos_weight)
