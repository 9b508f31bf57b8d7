"""The shapes of /work/shared/bench-shapes.md, by name, so every benchmark and every day speaks of the same work.

Names become the `shape` parameter on the dashboard; all data is float32.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class ConvCase:
    """A conv layer: input (N, C, *spatial), weight (K, C // groups, *kernel)."""
    input_shape: tuple
    weight_shape: tuple
    stride: int = 1
    padding: int = 0
    groups: int = 1

    @property
    def nd(self):
        return len(self.input_shape) - 2


def _conv2d(n, c, hw, k, kernel, stride, pad, groups=1):
    return ConvCase((n, c, hw, hw), (k, c // groups, kernel, kernel), stride, pad, groups)


CONV = {
    "lenet1": _conv2d(64, 1, 28, 6, 5, 1, 2),
    "lenet2": _conv2d(64, 6, 14, 16, 5, 1, 0),
    "cifar1": _conv2d(32, 3, 32, 32, 3, 1, 1),
    "cifar2": _conv2d(32, 32, 32, 64, 3, 1, 1),
    "down": _conv2d(16, 32, 32, 32, 3, 2, 1),
    "res3x3": _conv2d(8, 64, 56, 64, 3, 1, 1),
    "pw1x1": _conv2d(8, 64, 56, 128, 1, 1, 0),
    "dw3x3": _conv2d(8, 64, 56, 64, 3, 1, 1, groups=64),
    "big7": _conv2d(8, 3, 224, 64, 7, 2, 3),
    "k15": _conv2d(4, 8, 128, 8, 15, 1, 7),
    "mnist1d": ConvCase((64, 1, 40), (32, 1, 5), 1, 2),
    "vol3d": ConvCase((2, 4, 32, 32, 32), (8, 4, 3, 3, 3), 1, 1),
}


@dataclass(frozen=True)
class PoolCase:
    """A pooling layer over (N, C, H, W): kind is 'max', 'avg' or 'blur' (blur: kernel is filt_size)."""
    kind: str
    kernel: int
    stride: int
    padding: int = 0


POOL_INPUT = (64, 32, 28, 28)
POOL = {
    "max2x2": PoolCase("max", 2, 2),
    "avg2x2": PoolCase("avg", 2, 2),
    "max3x3pad1": PoolCase("max", 3, 2, 1),
    "blur3": PoolCase("blur", 3, 2),
}


@dataclass(frozen=True)
class SignalCase:
    """scipy.signal's home ground: in1 of signal_shape, in2 of kernel_shape, one mode."""
    signal_shape: tuple
    kernel_shape: tuple
    mode: str


SIGNAL = {
    **{f"img512_k{k}": SignalCase((512, 512), (k, k), "same") for k in (3, 7, 15, 31)},
    **{f"sig1M_k{k}": SignalCase((1_000_000,), (k,), "full") for k in (11, 101, 1001)},
    "vol64_k5": SignalCase((64, 64, 64), (5, 5, 5), "same"),
}

# LeNet-5 on MNIST-sized batches: one training step = forward, backward, SGD update.
LENET_BATCH = (64, 1, 28, 28)
LENET_CLASSES = 10


def lenet5(nn):
    """LeNet-5 built from an nn namespace: engine.nn or torch.nn, which share these names."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, LENET_CLASSES))
