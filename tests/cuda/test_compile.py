"""Every CUDA kernel compiles for a real GPU, checked without one (tests/cuda/ptx.py).

The simulator runs kernels as Python, so a kernel it passes may still fail to
type or compile for a device. Where NVIDIA's numba-cuda and its NVVM are
installed (the `cuda` extra) this compiles each kernel to sm_90 PTX, float32
and float64, in a fresh interpreter without the simulator; elsewhere it is skipped.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cuda

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None,
                    reason="needs numba-cuda and its NVVM: pip install -e '.[cuda]'")
def test_every_kernel_compiles_to_ptx():
    environment = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    result = subprocess.run([sys.executable, "-m", "tests.cuda.ptx"], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
