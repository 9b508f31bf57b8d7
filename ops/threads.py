"""Threads for the CPU kernels: one OpenMP pool for all of convref's parallel loops, BLAS in its caller's thread.

Numba's parallel loops (its 'omp' threading layer) and the Cython kernels'
OpenMP loops share libgomp's pool of threads. OpenBLAS, in NumPy's and in
SciPy's copy, keeps a pool of its own for each, whose idle threads spin for a
while after every call; with as many threads as cores in each pool, they take
the cores from the OpenMP threads between calls (a LeNet-5 training step on 2
cores: 14.5 ms with 2-thread BLAS, 2.5 ms with BLAS on one thread). So the first
CPU kernel (the import of ops.cpu) sets every loaded BLAS to one thread, for the
whole process, and convref parallelises its products itself: BLAS calls run
inside its parallel loops, and large float32 matrix products on its own kernel
(ops.cpu.matmul). Nothing here imports Numba before the first kernel needs it.
"""
_state = {"blas_claimed": False}


def claim_blas():
    """Set every loaded BLAS library (NumPy's, SciPy's) to one thread; done once, at the import of ops.cpu."""
    if _state["blas_claimed"]:
        return
    import scipy.linalg.cython_blas  # noqa: F401  (loads SciPy's BLAS, the one the Cython kernels call)
    from threadpoolctl import ThreadpoolController
    ThreadpoolController().select(user_api="blas").limit(limits=1)
    _state["blas_claimed"] = True


def get_num_threads():
    """Threads the CPU kernels use: Numba's count (numba.set_num_threads or set_num_threads; all cores by default)."""
    import numba
    return numba.get_num_threads()


def set_num_threads(n):
    """Use n threads in every CPU kernel: Numba's prange loops and the Cython OpenMP loops (BLAS stays at one)."""
    import numba

    from .shapes import is_int
    if not is_int(n) or not 1 <= n <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"threads must be an int from 1 to {numba.config.NUMBA_NUM_THREADS}, got {n!r}")
    n = int(n)
    numba.set_num_threads(n)
