# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Zero-padding of planes, split into stride phases: pad_planes (padding.pyx) does it for all planes in one pass,
conv_pairs_grad_weight (depthwise.pyx) for one plane at a time as it reads them."""
from cython cimport floating


cdef struct Padding:
    Py_ssize_t D, H, W, lz, ly, lx, sd, sh, Dq, Hq, Wr, keep, used, volume


cdef inline Padding _padding(shape, lows, phases, Py_ssize_t volume) except *:
    cdef Padding q
    q.D, q.H, q.W = shape[0], shape[1], shape[2]
    q.lz, q.ly, q.lx = lows[0], lows[1], lows[2]
    q.sd, q.sh, q.Dq, q.Hq, q.Wr = phases
    q.keep = max(0, min(q.W, q.Wr - q.lx))
    q.used, q.volume = q.sd * q.sh * q.Dq * q.Hq * q.Wr, volume
    if q.used > volume:
        raise ValueError(f"out holds {volume} elements per plane, the padded planes {q.used}")
    return q


cdef inline void _pad_plane(const floating* x, floating* out, Padding* q) noexcept nogil:
    """One plane of pad_planes: x (D, H, W) -> out (volume)."""
    cdef Py_ssize_t r, z, y, i
    cdef floating* row
    for r in range(q.sd * q.sh * q.Dq * q.Hq):  # r = ((pz * sh + py) * Dq + z') * Hq + y'
        z = (r // q.Hq) % q.Dq * q.sd + r // (q.sh * q.Dq * q.Hq) - q.lz
        y = r % q.Hq * q.sh + (r // (q.Dq * q.Hq)) % q.sh - q.ly
        row = out + r * q.Wr
        if 0 <= z < q.D and 0 <= y < q.H:
            for i in range(q.lx):
                row[i] = 0
            for i in range(q.keep):
                row[q.lx + i] = x[(z * q.H + y) * q.W + i]
            for i in range(q.lx + q.keep, q.Wr):
                row[i] = 0
        else:
            for i in range(q.Wr):
                row[i] = 0
    for i in range(q.used, q.volume):
        out[i] = 0
