"""Layers as Modules, PyTorch's names and arguments."""
from . import init
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .group_conv import P4Conv2d
from .layers import Dropout, Flatten, Linear, ReLU, Sigmoid, Tanh
from .module import Module, Parameter, Sequential
from .norm import BatchNorm1d, BatchNorm2d
from .pool import AvgPool1d, AvgPool2d, AvgPool3d, BlurPool1d, BlurPool2d, MaxPool1d, MaxPool2d, MaxPool3d

__all__ = ["init", "Module", "Parameter", "Sequential", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d",
           "ConvTranspose2d", "ConvTranspose3d", "Linear", "Flatten", "ReLU", "Sigmoid", "Tanh", "Dropout",
           "BatchNorm1d", "BatchNorm2d", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d",
           "AvgPool3d", "BlurPool1d", "BlurPool2d", "P4Conv2d"]
