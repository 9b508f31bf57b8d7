"""Which algorithm computes an op for a given shape and device: the only place that chooses.

Algorithms are modules, imported on first use so that `import ops` stays cheap:
- conv algorithms expose forward(x, w, bias, geom), grad_input(grad_out, w, geom),
  grad_weight(x, grad_out, geom), over an ops.shapes.ConvGeometry;
- pool backends expose the functions of ops.reference.pool;
- signal methods expose convolve(in1, in2, mode) with SciPy's semantics.
"""
import importlib
import math

CONV_ALGORITHMS = {
    "cpu": {"reference": "ops.reference.conv", "gemm": "ops.cpu.gemm", "direct": "ops.cpu.direct",
            "fft": "ops.cpu.fftconv"},
    "cuda": {"direct": "ops.cuda.direct", "gemm": "ops.cuda.gemm", "fft": "ops.cuda.fftconv"},
}
POOL_BACKENDS = {"cpu": "ops.cpu.pool", "cuda": "ops.cuda.pool"}
SIGNAL_METHODS = {
    "cpu": {"direct": "ops.cpu.direct", "fft": "ops.cpu.fft", "oa": "ops.cpu.oaconv"},
    "cuda": {"direct": "ops.cuda.signal", "fft": "ops.cuda.fft"},
}

# Direct correlation wins while its multiply-adds stay below this many times the
# FFT's n log2 n; measured on 512x512 images against 3x3 ... 31x31 kernels.
DIRECT_TO_FFT_RATIO = 4.0


def _lookup(table, device, name, what):
    if device not in table or not table[device]:
        raise NotImplementedError(f"no {what} is implemented on device {device!r} yet")
    if name not in table[device]:
        raise ValueError(f"unknown {what} {name!r} on {device}; choose 'auto' or one of {sorted(table[device])}")
    return importlib.import_module(table[device][name])


def conv_algorithm(geom, device, algorithm="auto"):
    """The module that computes a conv with this geometry on this device."""
    if algorithm == "auto":
        algorithm = "gemm" if device == "cpu" else next(iter(CONV_ALGORITHMS.get(device, {})), "none")
    return _lookup(CONV_ALGORITHMS, device, algorithm, "conv algorithm")


def pool_backend(device):
    if device not in POOL_BACKENDS:
        raise NotImplementedError(f"no pooling is implemented on device {device!r} yet")
    return importlib.import_module(POOL_BACKENDS[device])


def signal_method(shape1, shape2, mode, device, method="auto"):
    """SciPy's `method` for correlate/convolve: 'direct' or 'fft', or 'auto' by a cost model."""
    if method == "auto":
        full = math.prod(a + b - 1 for a, b in zip(shape1, shape2))
        out = math.prod(shape1) if mode == "same" else full if mode == "full" else \
            math.prod(abs(a - b) + 1 for a, b in zip(shape1, shape2))
        direct_cost = out * min(math.prod(shape1), math.prod(shape2))
        fft_cost = full * math.log2(max(full, 2))
        method = "direct" if direct_cost < DIRECT_TO_FFT_RATIO * fft_cost else "fft"
    return _lookup(SIGNAL_METHODS, device, method, "correlate/convolve method")
