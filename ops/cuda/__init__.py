"""CUDA backend: Numba CUDA kernels on device arrays (NCHW, float32/float64), one algorithm per module.

direct:      shared-memory tiled correlation (forward), gathered grad_input, row-reduced grad_weight
gemm:        im2col / col2im packing + tiled shared-memory matrix products with register blocking
pool:        max (with indices), average and blur pooling, forward and backward
elementwise: bias add, ReLU, softmax / log-softmax, cross-entropy, reductions (sum, max, argmax), SGD / Adam updates
maps:        broadcast unary / binary maps and strided gathers / scatters (transposes, broadcast_to, indexing)
xp:          NumPy's functions on device arrays, the engine's array namespace on the GPU
signal:      ops.correlate / convolve on the device through the direct kernel
fft:         radix-2 Stockham FFT (fftn / ifftn) and FFT convolution
arrays:      allocation, fills, flips, zero padding, 5-D views and launch sizes shared by the kernels
indexing:    device functions for index arithmetic and block reductions

Which numba.cuda. The kernels are written against the `numba.cuda` API only,
which Numba 0.68's built-in (deprecated, no longer developed) target and
NVIDIA's separate `numba-cuda` package share: installing `numba-cuda` replaces
`numba.cuda` in place. We require `numba-cuda` (the `cuda` extra,
`numba-cuda[cu12]`) for real GPUs, because it is the maintained target, it
knows current GPUs and toolkits, and its `[cu12]` extra ships NVVM and the
runtime as wheels, so no system CUDA toolkit is needed. CI needs neither: it
runs every kernel under the simulator (NUMBA_ENABLE_CUDASIM=1), which both
provide, so the plain `numba` dependency is enough there. With `numba-cuda`
installed, the kernels also compile to PTX without a GPU (`python -m
tests.cuda.ptx`), which checks what the simulator cannot: that they type and
compile for a real device.

Nothing here imports numba.cuda until a kernel module is first used, so
`import ops` stays cheap and works without a GPU, a driver or a toolkit.
"""
import os

_NO_CUDA_HELP = ("install a CUDA driver and `pip install convref[cuda]` (numba-cuda[cu12]), "
                 "or set NUMBA_ENABLE_CUDASIM=1 before numba.cuda is first imported to run the kernels in the simulator")


def simulated():
    """True when numba.cuda runs kernels in its Python simulator (NUMBA_ENABLE_CUDASIM=1)."""
    from numba.core import config
    return bool(config.ENABLE_CUDASIM)


def available():
    """True when CUDA kernels can run here: a working GPU and driver, or the simulator."""
    from numba import cuda
    return cuda.is_available()


def require():
    """The numba.cuda module, ready to launch kernels; RuntimeError with what to do when there is no GPU."""
    from numba import cuda
    if not cuda.is_available():
        late = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" and not simulated()
        reason = "NUMBA_ENABLE_CUDASIM=1 was set after numba was imported" if late else "no CUDA GPU or driver was found"
        raise RuntimeError(f"CUDA was requested but {reason}: {_NO_CUDA_HELP}")
    return cuda


def to_device(a):
    """Copy a host array to the device (an API edge: the only place data moves host -> device)."""
    return require().to_device(a)
