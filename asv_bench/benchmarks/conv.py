"""ops.conv1d/2d/3d and their gradients over the conv shapes, per backend and algorithm."""
import numpy as np

import ops
from ops import select
from ops import shapes as op_shapes

from .backends import (
    BACKENDS,
    REFERENCE_MAX_FLOPS,
    best_seconds,
    random,
    require_backend,
    require_listed,
    synchronize,
    to_backend,
    warm_up,
)
from .shapes import CONV

ALGORITHMS = ["auto", "gemm", "direct", "fft", "winograd", "reference"]


def require_algorithm(geom, backend, algorithm):
    """Skip combinations that do not apply: unknown on this backend, fft with stride, winograd off its 3x3
    stride-1 convs, a large reference."""
    if algorithm == "reference":
        if backend != "cpu" or geom.flops > REFERENCE_MAX_FLOPS:
            raise NotImplementedError("the NumPy reference is timed on small CPU shapes only")
        return
    if algorithm == "fft" and any(s > 1 for s in geom.stride):
        raise NotImplementedError("FFT convolution computes stride 1 only")
    require_listed(select.CONV_ALGORITHMS, backend, algorithm, "conv algorithm")
    if algorithm == "winograd":
        from ops.cpu import winograd
        if not winograd.supports(geom, np.dtype(np.float32), "forward"):
            raise NotImplementedError("Winograd's F(2x2, 3x3) computes 2-D 3x3 stride-1 convs without groups only")


class Conv:
    """One conv layer: forward, and forward + both gradients (a training step's share of the layer)."""
    params = [list(CONV), BACKENDS, ALGORITHMS]
    param_names = ["shape", "backend", "algorithm"]
    timeout = 300

    def setup(self, shape, backend, algorithm):
        case = CONV[shape]
        require_backend(backend)
        self.geom = op_shapes.conv_geometry(case.input_shape, case.weight_shape, case.nd, case.stride,
                                            case.padding, 1, case.groups)
        require_algorithm(self.geom, backend, algorithm)
        self.backend, self.algorithm, self.case = backend, algorithm, case
        self.x = to_backend(random(case.input_shape, 1), backend)
        self.w = to_backend(random(case.weight_shape, 2), backend)
        self.bias = to_backend(random(case.weight_shape[:1], 3), backend)
        self.grad_out = to_backend(random(self.geom.output_shape, 4), backend)
        nd = case.nd
        self.conv = getattr(ops, f"conv{nd}d")
        self.conv_grad_input = getattr(ops, f"conv{nd}d_grad_input")
        self.conv_grad_weight = getattr(ops, f"conv{nd}d_grad_weight")
        warm_up(self.run_forward_backward, f"conv {shape} with algorithm {algorithm!r} on {backend}",
                reference=algorithm == "reference")

    def _args(self):
        c = self.case
        return dict(stride=c.stride, padding=c.padding, groups=c.groups, algorithm=self.algorithm)

    def run_forward(self):
        self.conv(self.x, self.w, self.bias, **self._args())
        synchronize(self.backend)

    def run_forward_backward(self):
        args = self._args()
        self.conv(self.x, self.w, self.bias, **args)
        self.conv_grad_input(self.grad_out, self.w, self.case.input_shape, **args)
        self.conv_grad_weight(self.x, self.grad_out, self.case.weight_shape, **args)
        synchronize(self.backend)

    def time_forward(self, *params):
        self.run_forward()

    def time_forward_backward(self, *params):
        self.run_forward_backward()

    def peakmem_forward_backward(self, *params):
        self.run_forward_backward()

    def track_gflops_forward(self, *params):
        return self.geom.flops / best_seconds(self.run_forward) / 1e9
    track_gflops_forward.unit = "GFLOP/s"

    def track_gflops_forward_backward(self, *params):
        # Each gradient costs as many multiply-adds as the forward.
        return 3 * self.geom.flops / best_seconds(self.run_forward_backward) / 1e9
    track_gflops_forward_backward.unit = "GFLOP/s"
