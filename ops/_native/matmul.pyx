# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""A 2-D float32 matrix product on sgemm.h's AVX-512 kernel, its column blocks split over our threads."""
import numpy as np
from cython.parallel cimport prange, threadid

from .products cimport _fast, sg_a_size, sg_b_work, sg_gemm_packed, sg_pack_a


def matmul(const float[:, ::1] a, const float[:, ::1] b, float[:, ::1] out, int threads):
    """out = a @ b (float32) on the AVX-512 kernel, blocks of 256 columns split over threads.

    Raises where the kernel does not run (fast_sgemm() is False).
    """
    cdef Py_ssize_t m = a.shape[0], k = a.shape[1], n = b.shape[1], block = 256, blocks, task, j0
    if not _fast:
        raise RuntimeError("the AVX-512 kernel is not in use on this CPU (fast_sgemm() is False)")
    if b.shape[0] != k or out.shape[0] != m or out.shape[1] != n:
        raise ValueError(f"shapes {(m, k)} @ {(b.shape[0], n)} -> {(out.shape[0], out.shape[1])} do not match")
    packed = np.empty(sg_a_size(<int>m, <int>k), np.float32)
    work = np.empty((threads, sg_b_work()), np.float32)
    cdef float[::1] ap = packed
    cdef float[:, ::1] bwork = work
    sg_pack_a(<int>m, <int>k, &a[0, 0], k, 1, &ap[0])
    blocks = (n + block - 1) // block
    threads = min(threads, blocks)  # a lone block runs in the caller's thread, waking no other
    for task in prange(blocks, nogil=True, schedule="dynamic", num_threads=threads):
        j0 = task * block
        sg_gemm_packed(<int>m, <int>min(block, n - j0), <int>k, &ap[0], &b[0, j0], n, 1, NULL, 0, NULL,
                       &out[0, j0], n, &bwork[threadid(), 0])
