"""Compile every kernel of ops.cuda to PTX for sm_90, float32 and float64, with no GPU: `python -m tests.cuda.ptx`.

Needs NVIDIA's numba-cuda and its NVVM (the `cuda` extra) and NUMBA_ENABLE_CUDASIM unset or 0.
Exits non-zero naming each kernel that fails to type or compile, or that has no signature here.
"""
import importlib
import sys

import numba
import numpy as np
from numba import cuda

MODULES = ["arrays", "direct", "gemm", "pool", "elementwise", "maps", "fft", "fftconv"]
TARGET = (9, 0)


class _NoGpu:
    compute_capability = TARGET


def _array(ndim, dtype):
    return numba.typeof(np.empty((1,) * ndim, dtype))


def signatures(real):
    """{(module, kernel): argument types} with `real` as the floating dtype."""
    cplx = np.complex64 if real == np.float32 else np.complex128
    r1, r2, r3, r5 = (_array(n, real) for n in (1, 2, 3, 5))
    c1, c3, c5 = (_array(n, cplx) for n in (1, 3, 5))
    i1, i5 = _array(1, np.int64), _array(5, np.int64)
    three = numba.typeof((1, 1, 1))
    five = numba.typeof((1,) * 5)
    i, f, b = numba.int64, numba.float64, numba.boolean
    return {
        ("arrays", "_fill"): (r1, f),
        ("arrays", "_flip"): (r3, r3),
        ("arrays", "_spread"): (r5, c5, three, three),
        ("direct", "_forward"): (r5, r5, r1, r5, three, three, three, three, i, i),
        ("direct", "_grad_input"): (r5, r3, r5, three, three, three, three),
        ("direct", "_grad_weight"): (r5, r5, r5, three, three, three),
        ("gemm", "_matmul"): (r1, r1, r1, r1, i, i, i, i, i, i, five, five, five),
        ("gemm", "_im2col"): (r5, r3, three, three, three, three, three),
        ("gemm", "_col2im"): (r3, r5, three, three, three, three, three),
        ("pool", "_max_pool"): (r5, r5, i5, three, three, three, three),
        ("pool", "_max_pool_grad"): (r5, i5, r5, three, three, three, three),
        ("pool", "_avg_pool"): (r5, r5, three, three, three, b),
        ("pool", "_avg_pool_grad"): (r5, r5, three, three, three, b),
        ("pool", "_reflect_pad"): (r5, r5, three),
        ("pool", "_reflect_pad_grad"): (r5, r5, three),
        ("elementwise", "_relu_grad"): (r1, r1, r1),
        ("elementwise", "_softmax"): (r2, r2, b),
        ("elementwise", "_softmax_grad"): (r2, r2, r2, b),
        ("elementwise", "_cross_entropy_rows"): (r2, i1, r1),
        ("elementwise", "_cross_entropy_grad"): (r2, i1, r1, r2, f),
        ("elementwise", "_reduce"): (i, r1, r1, i1, five, five, five, five, i, f),
        ("elementwise", "_sgd"): (r1, r1, r1, f, f, f, f, b, b),
        ("elementwise", "_adam"): (r1, r1, r1, r1, f, f, f, f, f, f),
        ("maps", "_unary"): (i, r1, r1),
        ("maps", "_binary"): (i, r1, r1, r1, five, five, five),
        ("maps", "_gather"): (r1, r1, i, five, five),
        ("maps", "_scatter"): (r1, r1, i, five, five),
        ("fft", "_stockham_pass"): (c1, c1, c1, i, i, i, b),
        ("fft", "_scale"): (c1, f),
        ("fft", "_multiply"): (c1, c1),
        ("fft", "_real_window"): (c5, r5, three, three, f),
        ("fftconv", "_mix_forward"): (c3, c3, c3),
        ("fftconv", "_mix_grad_input"): (c3, c3, c3),
        ("fftconv", "_mix_grad_weight"): (c3, c3, c3),
    }


def mixed_signatures():
    """[(module, kernel, argument types)] the engine also launches with mixed dtypes: casts, float32 with
    float64, integer labels and fills with Python ints."""
    f32, f64, i64 = (_array(1, d) for d in (np.float32, np.float64, np.int64))
    five = numba.typeof((1,) * 5)
    i, f = numba.int64, numba.float64
    return [("maps", "_unary", (i, f32, f64)), ("maps", "_unary", (i, f64, f32)), ("maps", "_unary", (i, i64, f64)),
            ("maps", "_binary", (i, f32, f64, f64, five, five, five)), ("maps", "_gather", (i64, i64, i, five, five)),
            ("arrays", "_fill", (f32, i)), ("arrays", "_fill", (i64, i)),
            ("elementwise", "_reduce", (i, i64, i64, i64, five, five, five, five, i, f))]


def kernels():
    """{(module, name): dispatcher} of every kernel (not device function) in ops.cuda."""
    found = {}
    for name in MODULES:
        module = importlib.import_module(f"ops.cuda.{name}")
        for attr, value in vars(module).items():
            options = getattr(value, "targetoptions", None)
            if options is not None and hasattr(value, "py_func") and not options.get("device"):
                found[(name, attr)] = value
    return found


def main():
    if cuda.implementation != "NVIDIA":
        sys.exit(f"numba.cuda is the {cuda.implementation} target; install numba-cuda[cu12] (the `cuda` extra)")
    if not cuda.is_available():
        # device functions ask the current GPU for its compute capability; there is none here
        import numba.cuda.dispatcher
        numba.cuda.dispatcher.get_current_device = _NoGpu
    failures = []
    found = kernels()
    for real in (np.float32, np.float64):
        table = signatures(real)
        failures += [f"{module}.{name}: no signature in tests/cuda/ptx.py" for module, name in found
                     if (module, name) not in table and real == np.float32]
        for (module, name), argtypes in table.items():
            try:
                cuda.compile_ptx(found[(module, name)].py_func, argtypes, cc=TARGET)
            except Exception as error:  # report every kernel, not only the first
                failures.append(f"{module}.{name} {np.dtype(real).name}: {type(error).__name__}: {error}")
    for module, name, argtypes in mixed_signatures():
        try:
            cuda.compile_ptx(found[(module, name)].py_func, argtypes, cc=TARGET)
        except Exception as error:
            failures.append(f"{module}.{name} {argtypes}: {type(error).__name__}: {error}")
    print(f"{2 * len(found) + len(mixed_signatures())} kernel signatures compiled for sm_{TARGET[0]}{TARGET[1]}, {len(failures)} failures")
    if failures:
        sys.exit("\n".join(failures))


if __name__ == "__main__":
    main()
