"""ops.pad / interpolate / adaptive pooling and their gradients on (64, 32, 28, 28), per backend.

The shapes a small U-Net or ResNet meets: reflect padding by 1, 2x bilinear and nearest upsampling,
global and 7x7 adaptive average pooling, 2x2 adaptive max pooling.
"""
import ops

from .backends import BACKENDS, random, require_backend, synchronize, to_backend, warm_up

INPUT = (64, 32, 28, 28)
CASES = {
    "pad-reflect-1": (lambda x: ops.pad(x, ((1, 1), (1, 1)), "reflect"),
                      lambda g, x: ops.pad_grad_input(g, x.shape, ((1, 1), (1, 1)), "reflect")),
    "bilinear-x2": (lambda x: ops.interpolate(x, scale_factor=2, mode="bilinear"),
                    lambda g, x: ops.interpolate_grad_input(g, x.shape, scale_factor=2, mode="bilinear")),
    "nearest-x2": (lambda x: ops.interpolate(x, scale_factor=2),
                   lambda g, x: ops.interpolate_grad_input(g, x.shape, scale_factor=2)),
    "adaptive-avg-1": (lambda x: ops.adaptive_avg_pool2d(x, 1),
                       lambda g, x: ops.adaptive_avg_pool_grad_input(g, x.shape, 2)),
    "adaptive-avg-7": (lambda x: ops.adaptive_avg_pool2d(x, 7),
                       lambda g, x: ops.adaptive_avg_pool_grad_input(g, x.shape, 2)),
    "adaptive-max-2": (lambda x: ops.adaptive_max_pool2d(x, 2, return_indices=True),
                       lambda out, x: ops.adaptive_max_pool_grad_input(out[0], out[1], x.shape, 2)),
}


class Resample:
    """One op: forward, and forward + input gradient (fed the forward's output)."""
    params = [list(CASES), BACKENDS]
    param_names = ["op", "backend"]

    def setup(self, op, backend):
        require_backend(backend)
        self.backend = backend
        self.forward, self.backward = CASES[op]
        self.x = to_backend(random(INPUT, 1), backend)
        warm_up(self.run_forward_backward, f"{op} on {backend}")

    def run_forward_backward(self):
        self.backward(self.forward(self.x), self.x)

    def time_forward(self, *params):
        self.forward(self.x)
        synchronize(self.backend)

    def time_forward_backward(self, *params):
        self.run_forward_backward()
        synchronize(self.backend)
