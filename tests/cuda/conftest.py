"""Run the CUDA tests in Numba's simulator unless NUMBA_ENABLE_CUDASIM is set otherwise (=0 on a real GPU).

numba reads NUMBA_ENABLE_CUDASIM when numba.core.config is imported and
numba.cuda reads that config when it is itself first imported. Other test
modules may import numba first (ops.cpu), but nothing imports numba.cuda
before these tests run, so setting the variable and re-reading numba's config
here, at collection, is early enough in a whole-suite run too.

The simulator's device arrays wrap NumPy arrays and lend them NumPy's
arithmetic and methods, which a real device array lacks (or serves by a hidden
copy to the host). Here they keep only what a real one has, so code that leans
on NumPy behaviour fails under the simulator as it would on a GPU. Its memory,
too, is made to behave as a GPU's where that decides whether a test can pass
(gpu_like_memory).
"""
import contextlib
import os
import sys
import threading

import numpy as np
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


def garbage(a):
    """Fill a new NumPy array with all-ones bytes (NaN in floats, -1 in integers), garbage as a GPU's may hold."""
    a.reshape(-1).view(np.uint8).fill(0xFF)
    return a


def garbage_device_array(device_array):
    garbage(device_array._ary)
    return device_array


@contextlib.contextmanager
def gpu_like_memory():
    """Within: the simulator's fresh memory is garbage, and a block's threads share its static shared arrays.

    - Device, local and shared arrays come from np.empty (often zeros in a young process) and dynamic shared
      memory from np.zeros; here they start as NaN / -1, so a kernel that reads memory before writing it
      fails every time, not only in a process whose heap happens to hold NaNs.
    - The simulator keys a block's static shared arrays by the line that asks for one and creates it on a
      miss by a check-then-set that is not atomic: a thread switched out between the check and the set (the
      short switch interval makes that likely) gets an array of its own, and the rest of the block reads
      what it writes as uninitialised memory: intermittent NaNs in any kernel with a shared tile or reduction.
    """
    from numba import cuda
    from numba.core import types
    from numba.cuda.simulator.kernelapi import FakeCUDALocal, FakeCUDAShared
    from numba.np import numpy_support

    simulated_shared_array, simulated_shared_init = FakeCUDAShared.array, FakeCUDAShared.__init__
    simulated_local_array = FakeCUDALocal.array
    simulated_device_array, simulated_device_array_like = cuda.device_array, cuda.device_array_like

    def device_array(*args, **kwargs):
        return garbage_device_array(simulated_device_array(*args, **kwargs))

    def device_array_like(*args, **kwargs):
        return garbage_device_array(simulated_device_array_like(*args, **kwargs))

    def shared_array(self, shape, dtype):
        if shape == 0:     # dynamic shared memory: the launch's one buffer
            return simulated_shared_array(self, shape, dtype)
        caller = sys._getframe(1)
        line = (caller.f_code.co_filename, caller.f_lineno)
        found = self._allocations.get(line)
        if found is None:
            dtype = numpy_support.as_dtype(dtype) if isinstance(dtype, types.Type) else dtype
            # setdefault is atomic: threads racing here all get the first array stored
            found = self._allocations.setdefault(line, garbage(np.empty(shape, dtype)))
        return found

    def shared_init(self, dynshared_size):
        simulated_shared_init(self, dynshared_size)
        garbage(self._dynshared)

    patches = [
        (FakeCUDAShared, "array", shared_array),
        (FakeCUDAShared, "__init__", shared_init),
        (FakeCUDALocal, "array", lambda self, shape, dtype: garbage(simulated_local_array(self, shape, dtype))),
        (cuda, "device_array", device_array),
        (cuda, "device_array_like", device_array_like),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, replacement in patches:
        setattr(owner, name, replacement)
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


@contextlib.contextmanager
def device_functions_keep_the_simulated_module():
    """Within: a device function's `cuda` global stays the simulated module until the last thread in it returns.

    The simulator swaps a device function's `cuda` global for the simulated module at each call and puts the
    real one back when that call returns, even while other threads of the block still run the function (a
    later caller finds it swapped already and saves nothing): in a device function defined in another module
    than its kernel, a thread then meets the real numba.cuda, which has no threadIdx, now and then.
    Here the swap is counted per module, and undone by the last call that leaves.
    """
    from numba.cuda.simulator import kernel

    simulated_swap = kernel.swapped_cuda_module
    lock = threading.Lock()
    swapped = {}  # id of a module's globals -> [calls inside, the names that held the real numba.cuda]

    @contextlib.contextmanager
    def counted_swap(fn, fake_cuda):
        from numba import cuda
        module_globals = fn.__globals__
        with lock:
            entry = swapped.get(id(module_globals))
            if entry is None:
                real = {name: value for name, value in module_globals.items() if value is cuda}
                module_globals.update(dict.fromkeys(real, fake_cuda))
                entry = swapped[id(module_globals)] = [0, real]
            entry[0] += 1
        try:
            yield
        finally:
            with lock:
                entry[0] -= 1
                if entry[0] == 0:
                    del swapped[id(module_globals)]
                    module_globals.update(entry[1])

    kernel.swapped_cuda_module = counted_swap
    try:
        yield
    finally:
        kernel.swapped_cuda_module = simulated_swap


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
            stack.enter_context(gpu_like_memory())
            stack.enter_context(device_functions_keep_the_simulated_module())
        yield
    sys.setswitchinterval(saved)


@pytest.fixture
def dev():
    """Host array -> device array."""
    import ops.cuda
    return ops.cuda.to_device
