"""Shared test helpers: norm-relative comparison, central finite differences, running under mpiexec."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

TOLERANCE = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}


def assert_close(actual, expected, dtype=None, scale=1.0):
    """max |actual - expected| <= tol * max(1, max |expected|), tol set by dtype (float32 1e-4, float64 1e-10)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    tol = TOLERANCE[np.dtype(dtype or actual.dtype)] * scale
    bound = tol * max(1.0, float(np.abs(expected).max()))
    err = float(np.abs(actual.astype(np.float64) - expected.astype(np.float64)).max())
    assert err <= bound, f"max error {err:.3g} exceeds {bound:.3g}"


def numerical_grad(f, x, eps=1e-6):
    """Central finite differences of the scalar function f at every element of float64 array x."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        up = f(x)
        flat[i] = saved - eps
        down = f(x)
        flat[i] = saved
        gflat[i] = (up - down) / (2 * eps)
    return grad


def run_mpiexec(ranks, *args, timeout=180):
    """Run `python *args` on `ranks` MPI ranks from the repository root, one thread each; return its output.
    Skips without mpi4py or mpiexec; a hang fails at the timeout. OpenMPI needs leave to run as root
    (CI runs as root) and to start more ranks than cores."""
    import pytest
    pytest.importorskip("mpi4py")
    mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        pytest.skip("no mpiexec (apt-get install openmpi-bin libopenmpi-dev)")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root)}
    result = subprocess.run([mpiexec, "--oversubscribe", "-n", str(ranks), sys.executable, *map(str, args)],
                            cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
