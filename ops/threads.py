"""Threads for the CPU kernels: one count for Numba's pool, our OpenMP loops and BLAS, never nested.

The CPU algorithms either run a parallel loop of their own (Numba prange, Cython
OpenMP) that calls single-threaded BLAS inside, or call multi-threaded BLAS from
one thread; `blas_single_threaded()` marks the first case, so that at no time do
threads x BLAS threads exceed the count. Nothing here imports Numba before the
first kernel needs it.
"""
import contextlib

_state = {"blas": None}


def _blas():
    """threadpoolctl's handle on the loaded BLAS libraries (NumPy's and SciPy's OpenBLAS), made once."""
    if _state["blas"] is None:
        import scipy.linalg.cython_blas  # noqa: F401  (loads SciPy's BLAS, the one the Cython kernels call)
        from threadpoolctl import ThreadpoolController
        _state["blas"] = ThreadpoolController().select(user_api="blas")
    return _state["blas"]


def get_num_threads():
    """Threads the CPU kernels use: Numba's count (numba.set_num_threads or set_num_threads; all cores by default)."""
    import numba
    return numba.get_num_threads()


def set_num_threads(n):
    """Use n threads in every CPU kernel: Numba's prange loops, the Cython OpenMP loops and BLAS."""
    import numba
    if not isinstance(n, int) or not 1 <= n <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"threads must be an int from 1 to {numba.config.NUMBA_NUM_THREADS}, got {n!r}")
    numba.set_num_threads(n)
    for lib in _blas().lib_controllers:
        lib.set_num_threads(n)


@contextlib.contextmanager
def blas_single_threaded():
    """BLAS runs in its caller's thread inside this block: for BLAS calls made from our own parallel loops."""
    libraries = _blas().lib_controllers
    before = [lib.num_threads for lib in libraries]
    for lib in libraries:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in zip(libraries, before):
            lib.set_num_threads(n)
