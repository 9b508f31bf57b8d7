"""ops.max_pool2d / avg_pool2d / blur_pool2d and their gradients on (64, 32, 28, 28), per backend.

algorithm 'auto' is what ops dispatches to; 'reference' points the selector's
CPU entry at the NumPy oracle for this benchmark's process, as the baseline.
"""
import ops
from ops import select

from .backends import BACKENDS, random, require_backend, synchronize, to_backend, warm_up
from .shapes import POOL, POOL_INPUT


class Pool:
    """One pooling layer: forward, and forward + input gradient (fed the forward's output)."""
    params = [list(POOL), BACKENDS, ["auto", "reference"]]
    param_names = ["shape", "backend", "algorithm"]

    def setup(self, shape, backend, algorithm):
        self.saved_backends = select.POOL_BACKENDS  # first: teardown runs after a skip too
        self.case = POOL[shape]
        require_backend(backend)
        if algorithm == "reference":
            if backend != "cpu":
                raise NotImplementedError("the NumPy reference runs on the CPU only")
            select.POOL_BACKENDS = {**select.POOL_BACKENDS, "cpu": "ops.reference.pool"}
        self.backend = backend
        self.x = to_backend(random(POOL_INPUT, 1), backend)
        warm_up(self.run_forward_backward, f"{shape} pooling on {backend}", reference=algorithm == "reference")

    def teardown(self, *params):
        select.POOL_BACKENDS = self.saved_backends

    def run_forward(self):
        c, x = self.case, self.x
        if c.kind == "max":
            return ops.max_pool2d(x, c.kernel, c.stride, c.padding, return_indices=True)
        if c.kind == "avg":
            return ops.avg_pool2d(x, c.kernel, c.stride, c.padding)
        return ops.blur_pool2d(x, c.kernel, c.stride)

    def run_forward_backward(self):
        c, x = self.case, self.x
        out = self.run_forward()
        if c.kind == "max":
            ops.max_pool2d_grad_input(out[0], out[1], x.shape, c.kernel, c.stride, c.padding)
        elif c.kind == "avg":
            ops.avg_pool2d_grad_input(out, x.shape, c.kernel, c.stride, c.padding)
        else:
            ops.blur_pool2d_grad_input(out, x.shape, c.kernel, c.stride)

    def time_forward(self, *params):
        self.run_forward()
        synchronize(self.backend)

    def time_forward_backward(self, *params):
        self.run_forward_backward()
        synchronize(self.backend)
