"""ops.correlate / ops.convolve (SciPy's signatures) and the correlation's gradient, per backend and method."""
import ops
from ops import select

from .backends import BACKENDS, random, require_backend, require_listed, synchronize, to_backend, warm_up
from .shapes import SIGNAL

METHODS = ["auto", "direct", "fft"]


class Correlate:
    """Image filtering, long 1-D signals and a volume: scipy.signal's home ground, on our kernels."""
    params = [list(SIGNAL), BACKENDS, METHODS]
    param_names = ["shape", "backend", "method"]
    timeout = 300

    def setup(self, shape, backend, method):
        case = SIGNAL[shape]
        require_backend(backend)
        require_listed(select.SIGNAL_METHODS, backend, method, "correlate/convolve method")
        self.backend, self.method, self.mode = backend, method, case.mode
        self.in1 = to_backend(random(case.signal_shape, 1), backend)
        self.in2 = to_backend(random(case.kernel_shape, 2), backend)
        self.grad_out = random(ops.shapes.signal_output_shape(case.signal_shape, case.kernel_shape, case.mode), 3)
        self.grad_out = to_backend(self.grad_out, backend)
        warm_up(self.time_correlate_grad, f"correlate {shape} with method {method!r} on {backend}")

    def time_correlate(self, *params):
        ops.correlate(self.in1, self.in2, self.mode, self.method)
        synchronize(self.backend)

    def time_convolve(self, *params):
        ops.convolve(self.in1, self.in2, self.mode, self.method)
        synchronize(self.backend)

    def time_correlate_grad(self, *params):
        """Forward and backward: the result and the gradients with respect to both inputs."""
        ops.correlate(self.in1, self.in2, self.mode, self.method)
        ops.correlate_grad(self.grad_out, self.in1, self.in2, self.mode, self.method)
        synchronize(self.backend)


class CorrelateDtypes:
    """The dtype families scipy.signal takes besides real floats, on the CPU: exact integers, complex."""
    params = [["img512_k7", "sig1M_k101"], ["int16", "complex64", "complex128"], METHODS]
    param_names = ["shape", "dtype", "method"]
    timeout = 300

    def setup(self, shape, dtype, method):
        case = SIGNAL[shape]
        self.mode = case.mode
        self.method = method
        as_dtype = lambda a: (a * 100).astype(dtype) if dtype == "int16" else (a + 1j * a[::-1]).astype(dtype)
        self.in1 = as_dtype(random(case.signal_shape, 1))
        self.in2 = as_dtype(random(case.kernel_shape, 2))
        warm_up(self.time_correlate, f"correlate {shape} in {dtype} with method {method!r}")

    def time_correlate(self, *params):
        ops.correlate(self.in1, self.in2, self.mode, self.method)
