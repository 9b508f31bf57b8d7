"""Run the CUDA tests in Numba's simulator unless NUMBA_ENABLE_CUDASIM is set otherwise (=0 on a real GPU).

numba reads NUMBA_ENABLE_CUDASIM when numba.core.config is imported and
numba.cuda reads that config when it is itself first imported. Other test
modules may import numba first (ops.cpu), but nothing imports numba.cuda
before these tests run, so setting the variable and re-reading numba's config
here, at collection, is early enough in a whole-suite run too.
"""
import os
import sys

import pytest

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
if "numba.core.config" in sys.modules:
    sys.modules["numba.core.config"].reload_config()

# The simulator runs every CUDA thread as a Python thread and polls them at each
# barrier; Python's default 5 ms switch interval makes a barrier cost milliseconds.
SIMULATOR_SWITCH_INTERVAL = 1e-4


@pytest.fixture(autouse=True, scope="package")
def cuda_ready():
    """Fail every CUDA test with the reason when neither a GPU nor the simulator can run kernels."""
    import ops.cuda
    ops.cuda.require()
    saved = sys.getswitchinterval()
    if ops.cuda.simulated():
        sys.setswitchinterval(SIMULATOR_SWITCH_INTERVAL)
    yield
    sys.setswitchinterval(saved)


@pytest.fixture
def dev():
    """Host array -> device array."""
    import ops.cuda
    return ops.cuda.to_device
