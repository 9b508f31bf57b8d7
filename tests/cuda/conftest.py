"""Run the CUDA tests in Numba's simulator unless NUMBA_ENABLE_CUDASIM is set otherwise (=0 on a real GPU).

numba reads NUMBA_ENABLE_CUDASIM when numba.core.config is imported and
numba.cuda reads that config when it is itself first imported. Other test
modules may import numba first (ops.cpu), but nothing imports numba.cuda
before these tests run, so setting the variable and re-reading numba's config
here, at collection, is early enough in a whole-suite run too.

The simulator's device arrays wrap NumPy arrays and lend them NumPy's
arithmetic and methods, which a real device array lacks (or serves by a hidden
copy to the host). Here they keep only what a real one has, so code that leans
on NumPy behaviour fails under the simulator as it would on a GPU.
"""
import contextlib
import os
import sys

import pytest

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
if "numba.core.config" in sys.modules:
    sys.modules["numba.core.config"].reload_config()

# The simulator runs every CUDA thread as a Python thread and polls them at each
# barrier; Python's default 5 ms switch interval makes a barrier cost milliseconds.
SIMULATOR_SWITCH_INTERVAL = 1e-4


# what a real numba DeviceNDArray offers besides its methods: the simulator's arrays forward nothing else to NumPy
DEVICE_ARRAY_ATTRIBUTES = {"size", "ndim", "dtype", "strides", "flags", "nbytes", "squeeze"}
NUMPY_ONLY = ["__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__add__", "__sub__", "__mul__",
              "__floordiv__", "__truediv__", "__mod__", "__pow__", "transpose", "T"]


@contextlib.contextmanager
def real_device_array_api():
    """Within: the simulator's device arrays have only a real device array's attributes and no arithmetic."""
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

    def forward(self, name):
        if name in DEVICE_ARRAY_ATTRIBUTES:
            return getattr(self._ary, name)
        raise AttributeError(f"a CUDA device array has no attribute {name!r} (the simulator's NumPy stand-in would)")

    def refuse(self, *args, **kwargs):
        raise TypeError("CUDA device arrays have no arithmetic, comparisons or N-D transposes on a real GPU")

    saved = {name: FakeCUDAArray.__dict__[name] for name in ["__getattr__"] + NUMPY_ONLY}
    FakeCUDAArray.__getattr__ = forward
    for name in NUMPY_ONLY:
        setattr(FakeCUDAArray, name, property(refuse) if name == "T" else refuse)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(FakeCUDAArray, name, value)


@pytest.fixture(autouse=True, scope="package")
def cuda_ready():
    """Fail every CUDA test with the reason when neither a GPU nor the simulator can run kernels."""
    import ops.cuda
    ops.cuda.require()
    saved = sys.getswitchinterval()
    with contextlib.ExitStack() as stack:
        if ops.cuda.simulated():
            sys.setswitchinterval(SIMULATOR_SWITCH_INTERVAL)
            stack.enter_context(real_device_array_api())
        yield
    sys.setswitchinterval(saved)


@pytest.fixture
def dev():
    """Host array -> device array."""
    import ops.cuda
    return ops.cuda.to_device
