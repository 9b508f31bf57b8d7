# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The padded planes the direct kernels (implicit.pyx) read, written in one parallel pass."""
from cython cimport floating
from cython.parallel cimport prange



def pad_planes(const floating[:, :, :, ::1] x, floating[:, ::1] out, lows, phases, int threads):
    """Each plane x[p] (D, H, W) placed at `lows` in zeros, split into stride phases, flattened into out[p]
    (then zeros to its end): the planes the direct kernels read, in one parallel pass.

    phases = (sd, sh, Dq, Hq, Wr): phase (pz, py) holds the padded slices pz, pz + sd, ... (Dq of them)
    and rows py, py + sh, ... (Hq), each Wr wide; with sd = sh = 1 this is the zero-padded plane itself.
    Cells past the padded extent are dropped.
    """
    cdef Padding q = _padding((x.shape[1], x.shape[2], x.shape[3]), lows, phases, out.shape[1])
    cdef Py_ssize_t p
    for p in prange(x.shape[0], nogil=True, schedule="static", num_threads=threads):
        _pad_plane(&x[p, 0, 0, 0], &out[p, 0], &q)
