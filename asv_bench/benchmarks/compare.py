"""The same work done by SciPy (always) and PyTorch on the CPU (when installed), under the same
shape names as conv.py, pool.py, correlate.py, fft.py and training.py, so the dashboard shows
their line beside ours. PyTorch is never a dependency: without it these benchmarks are skipped.
"""
import numpy as np
import scipy.signal

from ops import shapes as op_shapes
from ops.shapes import blur_filter

from .backends import best_seconds, random
from .shapes import CONV, LENET_BATCH, LENET_CLASSES, POOL, POOL_INPUT, SIGNAL, lenet5


class SciPySignal:
    """scipy.signal's correlate and convolve (method 'auto'), fftconvolve and oaconvolve."""
    params = [list(SIGNAL), ["correlate", "convolve", "fftconvolve", "oaconvolve"]]
    param_names = ["shape", "function"]
    timeout = 300

    def setup(self, shape, function):
        case = SIGNAL[shape]
        self.in1, self.in2 = random(case.signal_shape, 1), random(case.kernel_shape, 2)
        self.function, self.mode = getattr(scipy.signal, function), case.mode

    def time_scipy(self, shape, function):
        self.function(self.in1, self.in2, self.mode)


def _torch():
    try:
        import torch
    except ImportError:
        raise NotImplementedError("PyTorch is not installed") from None
    return torch


def _leaf(torch, array):
    return torch.from_numpy(array).requires_grad_()


class TorchConv:
    """torch.nn.functional.convNd: forward, and forward + the input and weight gradients."""
    params = [list(CONV)]
    param_names = ["shape"]
    timeout = 300

    def setup(self, shape):
        torch = self.torch = _torch()
        case = CONV[shape]
        self.geom = op_shapes.conv_geometry(case.input_shape, case.weight_shape, case.nd, case.stride,
                                            case.padding, 1, case.groups)
        self.x, self.w = _leaf(torch, random(case.input_shape, 1)), _leaf(torch, random(case.weight_shape, 2))
        self.bias = torch.from_numpy(random(case.weight_shape[:1], 3))
        self.grad_out = torch.from_numpy(random(self.geom.output_shape, 4))
        conv = getattr(torch.nn.functional, f"conv{case.nd}d")
        self.conv = lambda: conv(self.x, self.w, self.bias, case.stride, case.padding, 1, case.groups)
        self.run_forward_backward()  # first calls pick and load oneDNN kernels: keep them untimed

    def run_forward(self):
        with self.torch.no_grad():
            self.conv()

    def run_forward_backward(self):
        self.torch.autograd.grad(self.conv(), (self.x, self.w), self.grad_out)

    def time_forward(self, shape):
        self.run_forward()

    def time_forward_backward(self, shape):
        self.run_forward_backward()

    def track_gflops_forward(self, shape):
        return self.geom.flops / best_seconds(self.run_forward) / 1e9
    track_gflops_forward.unit = "GFLOP/s"

    def track_gflops_forward_backward(self, shape):
        return 3 * self.geom.flops / best_seconds(self.run_forward_backward) / 1e9
    track_gflops_forward_backward.unit = "GFLOP/s"


class TorchPool:
    """torch's max/avg pooling; blur-pool as reflect padding + a depthwise binomial conv (Zhang 2019)."""
    params = [list(POOL)]
    param_names = ["shape"]

    def setup(self, shape):
        torch = self.torch = _torch()
        case, F = POOL[shape], torch.nn.functional
        self.x = _leaf(torch, random(POOL_INPUT, 1))
        if case.kind == "max":
            self.pool = lambda: F.max_pool2d(self.x, case.kernel, case.stride, case.padding)
        elif case.kind == "avg":
            self.pool = lambda: F.avg_pool2d(self.x, case.kernel, case.stride, case.padding)
        else:
            channels = POOL_INPUT[1]
            filt = torch.from_numpy(np.ascontiguousarray(
                np.broadcast_to(blur_filter(case.kernel, 2, np.float32), (channels, 1, case.kernel, case.kernel))))
            pads = ((case.kernel - 1) // 2, case.kernel // 2) * 2
            self.pool = lambda: F.conv2d(F.pad(self.x, pads, mode="reflect"), filt, stride=case.stride, groups=channels)
        self.run_forward_backward()

    def run_forward_backward(self):
        out = self.pool()
        self.torch.autograd.grad(out, self.x, out.detach())

    def time_forward(self, shape):
        with self.torch.no_grad():
            self.pool()

    def time_forward_backward(self, shape):
        self.run_forward_backward()


class TorchLeNet5Step:
    """The training step of training.LeNet5Step in PyTorch."""

    def setup(self):
        torch = _torch()
        torch.manual_seed(0)
        self.model = lenet5(torch.nn)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.images = torch.from_numpy(random(LENET_BATCH))
        self.labels = torch.from_numpy(np.random.default_rng(0).integers(0, LENET_CLASSES, LENET_BATCH[0]))
        self.cross_entropy = torch.nn.functional.cross_entropy
        self.run_step()

    def run_step(self):
        self.optimizer.zero_grad()
        self.cross_entropy(self.model(self.images), self.labels).backward()
        self.optimizer.step()

    def time_step(self):
        self.run_step()

    def track_steps_per_second(self):
        return 1 / best_seconds(self.run_step)
    track_steps_per_second.unit = "steps/s"
