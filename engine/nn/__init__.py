"""Layers as Modules, PyTorch's names and arguments."""
from .. import functional  # noqa: F401  (engine.nn.functional, as torch.nn.functional)
from . import init, utils
from .containers import ModuleDict, ModuleList
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .group_conv import P4Conv2d
from .layers import GELU, Dropout, Flatten, Identity, LeakyReLU, Linear, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Tanh
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss
from .module import Module, Parameter, Sequential
from .norm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from .pool import (
                   AdaptiveAvgPool1d,
                   AdaptiveAvgPool2d,
                   AdaptiveAvgPool3d,
                   AdaptiveMaxPool1d,
                   AdaptiveMaxPool2d,
                   AdaptiveMaxPool3d,
                   AvgPool1d,
                   AvgPool2d,
                   AvgPool3d,
                   BlurPool1d,
                   BlurPool2d,
                   MaxPool1d,
                   MaxPool2d,
                   MaxPool3d,
)
from .upsample import Upsample

__all__ = ["functional", "init", "utils", "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Identity", "Conv1d", "Conv2d",
           "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Linear", "Flatten", "ReLU", "ReLU6",
           "LeakyReLU", "GELU", "SiLU", "Sigmoid", "Tanh", "Softmax", "Dropout", "BatchNorm1d", "BatchNorm2d",
           "BatchNorm3d", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "BlurPool1d",
           "BlurPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
           "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "Upsample", "CrossEntropyLoss", "MSELoss", "L1Loss", "BCEWithLogitsLoss", "P4Conv2d"]
