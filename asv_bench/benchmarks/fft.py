"""ops.fftconvolve (the FFT path on its own, SciPy's signature) over the signal shapes, per backend."""
import ops

from .backends import BACKENDS, random, require_backend, synchronize, to_backend, warm_up
from .shapes import SIGNAL


class FFTConvolve:
    """Padding to fast lengths, real transforms and the pointwise product: time and peak memory."""
    params = [list(SIGNAL), BACKENDS]
    param_names = ["shape", "backend"]
    timeout = 300

    def setup(self, shape, backend):
        case = SIGNAL[shape]
        require_backend(backend)
        self.backend, self.mode = backend, case.mode
        self.in1 = to_backend(random(case.signal_shape, 1), backend)
        self.in2 = to_backend(random(case.kernel_shape, 2), backend)
        warm_up(self.time_fftconvolve, f"fftconvolve {shape} on {backend}")

    def time_fftconvolve(self, *params):
        ops.fftconvolve(self.in1, self.in2, self.mode)
        synchronize(self.backend)

    def peakmem_fftconvolve(self, *params):
        ops.fftconvolve(self.in1, self.in2, self.mode)
        synchronize(self.backend)
