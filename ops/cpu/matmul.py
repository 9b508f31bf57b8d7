"""Matrix products on CPU arrays for the engine: 2-D float32 ones on the AVX-512 kernel of ops/_native (its
column blocks split over our threads), the rest on NumPy's matmul (BLAS, on one thread: see ops.threads).

The kernel beats this machine's OpenBLAS sgemm at every size measured, one thread against one (a 64x400 by
400x120 product: 0.034 against 0.051 ms; 1024 cubed: 9.0 against 16.2 ms).
"""
import numpy as np

from .. import threads
from .._native import matmul as native
from .._native import products


def matmul(a, b):
    """a @ b with NumPy's semantics (batched, broadcast, any float dtype)."""
    if a.ndim == 2 and b.ndim == 2 and a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not match (inner sizes differ)")
    if a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype == np.float32 and products.fast_sgemm() and a.size and b.size:
        out = np.empty((a.shape[0], b.shape[1]), np.float32)
        native.matmul(np.ascontiguousarray(a), np.ascontiguousarray(b), out, threads.get_num_threads())
        return out
    return np.matmul(a, b)
