"""Parameter initialisation (in place), PyTorch's defaults, seedable through `generator` or E.manual_seed."""
import math

from ..device import device_of
from ..random import generator_or_default


def fan_in(shape):
    """Inputs feeding one output: shape[1] times the kernel volume (PyTorch's rule, for Linear, Conv and ConvTranspose)."""
    if len(shape) < 2:
        raise ValueError(f"fan_in needs a weight of at least 2 dims, got shape {tuple(shape)}")
    return shape[1] * math.prod(shape[2:])


def uniform_(tensor, low, high, generator=None):
    """Fill with U(low, high) drawn from the generator (float64 draws, cast to the tensor's dtype)."""
    values = generator_or_default(generator).uniform(low, high, tensor.shape).astype(tensor.dtype)
    device = device_of(tensor.data)
    device.xp.copyto(tensor.data, device.from_host(values))
    return tensor


def kaiming_uniform_(tensor, a=0.0, generator=None):
    """He et al.'s uniform init for leaky-ReLU slope a: bound = sqrt(2 / (1 + a^2)) * sqrt(3 / fan_in)."""
    bound = math.sqrt(2.0 / (1 + a * a)) * math.sqrt(3.0 / fan_in(tensor.shape))
    return uniform_(tensor, -bound, bound, generator)


def default_(weight, bias, generator=None):
    """PyTorch's default for Linear and conv layers: kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in)), bias alike."""
    kaiming_uniform_(weight, math.sqrt(5.0), generator)
    if bias is not None:
        bound = 1.0 / math.sqrt(fan_in(weight.shape))
        uniform_(bias, -bound, bound, generator)
