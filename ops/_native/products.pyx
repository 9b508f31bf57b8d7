# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The switch every native module reads (fast_sgemm: sgemm.h's AVX-512 kernel, else BLAS) and what the Python side
sizes and packs for the products: packed_size, scratch_size, pack_weights."""
from cython cimport floating

_fast = sg_available()


def fast_sgemm(enabled=None):
    """Whether float32 products use the AVX-512 kernel of sgemm.h (else BLAS); `enabled` switches it
    (only on where the CPU has AVX-512). Returns the setting in force before the call."""
    global _fast
    before = _fast
    if enabled is not None:
        _fast = bool(enabled) and sg_available()
    return before


def packed_size(Py_ssize_t m, Py_ssize_t k):
    """Elements of an (m, k) operand packed for the AVX-512 kernel."""
    return sg_a_size(<int>m, <int>k)


def scratch_size(Py_ssize_t rows, Py_ssize_t block, Py_ssize_t out_channels):
    """Elements of one thread's scratch: packed columns, the kernel's B panels, a packed grad_out block."""
    return rows * block + sg_b_work() + sg_a_size(<int>out_channels, <int>block)


def pack_weights(const floating[:, ::1] w, Py_ssize_t groups, bint transposed, floating[::1] packed):
    """Pack each group's (K / groups, R) block of w (K, R), or its transpose, for the float32 kernel.

    packed: groups * packed_size(...) elements; untouched (and unused) when BLAS does the products.
    """
    cdef Py_ssize_t Kg = w.shape[0] // groups, R = w.shape[1], size, grp
    if floating is double or not _fast:
        return
    size = sg_a_size(<int>(R if transposed else Kg), <int>(Kg if transposed else R))
    for grp in range(groups):
        if transposed:
            sg_pack_a(<int>R, <int>Kg, &w[grp * Kg, 0], 1, R, &packed[grp * size])
        else:
            sg_pack_a(<int>Kg, <int>R, &w[grp * Kg, 0], R, 1, &packed[grp * size])
