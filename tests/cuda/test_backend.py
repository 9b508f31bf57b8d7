"""Without a GPU and without the simulator: `import ops` stays light, CPU ops work, asking for CUDA says what to do.

Each check runs in a fresh interpreter, since this process already runs numba.cuda in the simulator.
"""
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.cuda


def _python(code, **env):
    environment = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    environment.update(env)
    result = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_import_ops_does_not_import_numba_cuda():
    _python("import sys, ops\nassert 'numba.cuda' not in sys.modules, 'numba.cuda was imported'")


def test_no_gpu_no_simulator_clear_error_and_cpu_still_works():
    out = _python("""
import numpy as np, ops, ops.cuda
if ops.cuda.available():
    raise SystemExit(0)     # a real GPU: nothing to refuse
try:
    ops.cuda.require()
except RuntimeError as error:
    print(error)
x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
assert ops.conv2d(x, np.ones((1, 1, 2, 2), np.float32)).sum() == 270
""", NUMBA_ENABLE_CUDASIM="0")
    assert out == "" or ("no CUDA GPU" in out and "numba-cuda" in out and "NUMBA_ENABLE_CUDASIM=1" in out)


def test_simulator_switched_on_too_late_is_named():
    out = _python("""
import os, numba, ops.cuda
os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
if not ops.cuda.available():
    try:
        ops.cuda.require()
    except RuntimeError as error:
        print(error)
""")
    assert out == "" or "after numba was imported" in out
