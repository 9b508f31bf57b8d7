"""What every benchmark's setup shares: the backend axis, data on that backend, the
refusal to time the NumPy reference by accident, and the clock of the track_ rates.

A combination that cannot run here raises NotImplementedError in setup, which asv
records as skipped (n/a on the dashboard).
"""
import contextlib
import importlib
import math
import time

import numpy as np

BACKENDS = ["cpu", "cuda"]

# The NumPy reference is timed only when the algorithm parameter says 'reference',
# and only on shapes below this many forward FLOPs (it is the oracle, not a contender).
REFERENCE_MAX_FLOPS = 100e6


def require_backend(backend):
    """Skip unless `backend` can run here: 'cuda' needs a real GPU (the simulator is never timed)."""
    if backend == "cpu":
        return
    from numba import config, cuda  # imported on demand: numba.cuda is slow to import
    if config.ENABLE_CUDASIM:
        raise NotImplementedError("NUMBA_ENABLE_CUDASIM is set; the CUDA simulator is not timed")
    if not cuda.is_available():
        raise NotImplementedError("no CUDA GPU on this machine")


def require_listed(table, backend, name, what):
    """Skip a named algorithm that ops.select's `table` lacks on this backend.

    'auto' passes: on a backend without any, the selector itself raises NotImplementedError.
    """
    if name != "auto" and name not in table.get(backend, {}):
        raise NotImplementedError(f"no {what} {name!r} on {backend}")


def to_backend(array, backend):
    """A host array moved to `backend` (once, in setup: transfers are not part of an op)."""
    if backend == "cpu":
        return array
    from numba import cuda
    return cuda.to_device(array)


def synchronize(backend):
    """Wait for queued device work, so a timing covers the kernels and not only their launch."""
    if backend == "cuda":
        from numba import cuda
        cuda.synchronize()


# The oracle's entry points; the kernels' shared geometry (ops.shapes: blur_filter, blur_geometry) lies outside it.
REFERENCE_OPS = {
    "ops.reference.conv": ("forward", "grad_input", "grad_weight"),
    "ops.reference.pool": ("max_pool", "max_pool_grad_input", "avg_pool", "avg_pool_grad_input",
                           "blur_pool", "blur_pool_grad_input"),
    "ops.reference.signal": ("convolve", "correlate", "fftconvolve"),
}


class _ReferenceCalled(Exception):
    pass


def _tripwire(qualname):
    def called(*args, **kwargs):
        raise _ReferenceCalled(qualname)
    return called


@contextlib.contextmanager
def reference_forbidden(what):
    """Skip (NotImplementedError) if anything run inside calls the NumPy reference.

    Wrap setup's warm-up call in it: whatever the selector picks, for the op or for
    the smaller ops inside its gradient, the oracle is never timed by accident.
    """
    saved = []
    try:
        for module_name, names in REFERENCE_OPS.items():
            module = importlib.import_module(module_name)
            for name in names:
                saved.append((module, name, getattr(module, name)))
                setattr(module, name, _tripwire(f"{module_name}.{name}"))
        yield
    except _ReferenceCalled as called:
        raise NotImplementedError(f"{what} runs the NumPy reference ({called}); "
                                  f"the reference is timed only where the algorithm says 'reference'") from None
    finally:
        for module, name, function in saved:
            setattr(module, name, function)


def warm_up(run, what, reference=False):
    """Run once outside the timed region, so Numba compiles (or loads its cache) here.

    Unless this benchmark times the reference by name, skip it if the run reaches the oracle.
    """
    if reference:
        run()
        return
    with reference_forbidden(what):
        run()


def random(shape, seed=0):
    """Seeded standard-normal float32 data: never zeros or ones, which flatter some kernels."""
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


def best_seconds(run, min_time=0.2, min_runs=3):
    """The fastest of repeated calls of run(), for track_ benchmarks that turn a time into a rate.

    run() must include its own synchronisation.
    """
    best, spent, runs = math.inf, 0.0, 0
    while runs < min_runs or spent < min_time:
        start = time.perf_counter()
        run()
        elapsed = time.perf_counter() - start
        best, spent, runs = min(best, elapsed), spent + elapsed, runs + 1
    return best
