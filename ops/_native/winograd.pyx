# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Winograd's F(2x2, 3x3) (the 'winograd' algorithm, conv_winograd: see ops/cpu/winograd.py): its transforms on
winograd.h's AVX-512 code in float32 and its products on sgemm.h's, else plain loops and BLAS. The products read
their transformed input in place.
"""
import numpy as np
from cython cimport floating
from cython.parallel cimport prange, threadid

from .products cimport _fast, _product, sg_b_work, sg_conv_tiles


cdef extern from "winograd.h" nogil:
    void wg_input(const float* plane, ptrdiff_t wq, int ty0, int rows, int tw, float* v, ptrdiff_t ld)
    void wg_output(const float* m, ptrdiff_t ld, float bias, int ty0, int rows, int tw, float* out, int ho, int wo)


cdef void _winograd_in(const floating* plane, Py_ssize_t Wq, Py_ssize_t ty0, Py_ssize_t rows, Py_ssize_t tw,
                       floating* v, Py_ssize_t ld) noexcept nogil:
    """(winograd.h's wg_input does this 16 tiles at a time in float32 on AVX-512.)
    v[e * ld + t] = (B^T d B)[e] for the 4x4 patch d at rows 2 ty .. 2 ty + 3, columns 2 tx .. 2 tx + 3 of the
    padded plane (row length Wq), for the tiles t = (ty - ty0) * tw + tx of tile rows ty0 .. ty0 + rows - 1:
    F(2x2, 3x3)'s input transform, B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]."""
    cdef Py_ssize_t r, tx, t, j
    cdef const floating* p
    cdef floating d[4][4]
    for r in range(rows):
        for tx in range(tw):
            p = plane + 2 * (ty0 + r) * Wq + 2 * tx
            t = r * tw + tx
            for j in range(4):  # B^T d: combinations of the patch's rows, column by column
                d[0][j] = p[j] - p[2 * Wq + j]
                d[1][j] = p[Wq + j] + p[2 * Wq + j]
                d[2][j] = p[2 * Wq + j] - p[Wq + j]
                d[3][j] = p[Wq + j] - p[3 * Wq + j]
            for j in range(4):  # (B^T d) B: the same combinations of its columns
                v[(4 * j) * ld + t] = d[j][0] - d[j][2]
                v[(4 * j + 1) * ld + t] = d[j][1] + d[j][2]
                v[(4 * j + 2) * ld + t] = d[j][2] - d[j][1]
                v[(4 * j + 3) * ld + t] = d[j][1] - d[j][3]


cdef void _winograd_out(const floating* m, Py_ssize_t ld, floating bias, Py_ssize_t ty0, Py_ssize_t rows,
                        Py_ssize_t tw, floating* out, Py_ssize_t Ho, Py_ssize_t Wo) noexcept nogil:
    """(winograd.h's wg_output does this 16 tiles at a time in float32 on AVX-512.)
    The 2x2 outputs bias + A^T M A of the tiles t of tile rows ty0 .. ty0 + rows - 1, M[e] = m[e * ld + t],
    written into out (Ho, Wo) where they fall inside it: F(2x2, 3x3)'s output transform,
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]."""
    cdef Py_ssize_t r, tx, t, j, oy, ox
    cdef floating s[2][4]
    for r in range(rows):
        oy = 2 * (ty0 + r)
        for tx in range(tw):
            t = r * tw + tx
            ox = 2 * tx
            for j in range(4):
                s[0][j] = m[j * ld + t] + m[(4 + j) * ld + t] + m[(8 + j) * ld + t]
                s[1][j] = m[(4 + j) * ld + t] - m[(8 + j) * ld + t] - m[(12 + j) * ld + t]
            out[oy * Wo + ox] = bias + s[0][0] + s[0][1] + s[0][2]
            if ox + 1 < Wo:
                out[oy * Wo + ox + 1] = bias + s[0][1] - s[0][2] - s[0][3]
            if oy + 1 < Ho:
                out[(oy + 1) * Wo + ox] = bias + s[1][0] + s[1][1] + s[1][2]
                if ox + 1 < Wo:
                    out[(oy + 1) * Wo + ox + 1] = bias + s[1][1] - s[1][2] - s[1][3]


def conv_winograd(const floating[:, :, ::1] xp, const floating[:, :, ::1] u, const floating[::1] packed, bias,
                  floating[:, :, ::1] out, Py_ssize_t Wq, tiles, out_size, Py_ssize_t block_rows,
                  floating[:, ::1] work, int threads):
    """out[n, k] (Ho * Wo) = bias[k] + the 3x3 stride-1 correlation of xp[n] (C, Hq * Wq) with the filters whose
    F(2x2, 3x3) transforms G g G^T are u (16, K, C): xp is the input zero-padded so that output tile (ty, tx)
    (outputs 2 ty, 2 ty + 1 by 2 tx, 2 tx + 1; tiles = (th, tw)) reads its rows 2 ty .. 2 ty + 3 and columns
    2 tx .. 2 tx + 3. packed: pack_weights(u as (16 K, C), 16, False, packed) (empty where BLAS does the
    products). One task per block of `block_rows` tile rows of one image: its channels' input transforms
    (16 per tile), then 16 products of (K, C) by (C, tiles), then the output transforms, all in the
    thread's row of work (16 (C + K) block_rows tw + scratch_size(0, 0, 0) elements), small enough to stay in
    the L2 cache."""
    cdef Py_ssize_t N = xp.shape[0], C = xp.shape[1], K = u.shape[1], th = tiles[0], tw = tiles[1]
    cdef Py_ssize_t Ho = out_size[0], Wo = out_size[1], T = block_rows * tw, blocks = (th + block_rows - 1) // block_rows
    cdef Py_ssize_t packed_e = packed.shape[0] // 16, task, n, ty0, rows, c, e, k
    cdef floating* v
    cdef floating* m
    cdef const floating[::1] b
    cdef const floating* bias_at = NULL
    cdef Py_ssize_t[::1] rows_at = np.arange(C, dtype=np.intp) * block_rows * tw
    if bias is not None:
        b = bias
        bias_at = &b[0]
    if u.shape[0] != 16 or u.shape[2] != C or out.shape[1] != K or out.shape[2] != Ho * Wo or xp.shape[2] < (2 * th + 2) * Wq:
        raise ValueError(f"xp {tuple(xp.shape)[:3]}, u {tuple(u.shape)[:3]} or out {tuple(out.shape)[:3]} do not match "
                         f"{th} x {tw} tiles of {Ho} x {Wo} outputs")
    if work.shape[0] < threads or work.shape[1] < 16 * (C + K) * T + sg_b_work():
        raise ValueError(f"work {tuple(work.shape)[:2]} is too small")
    for task in prange(N * blocks, nogil=True, schedule="dynamic", num_threads=threads):
        n = task // blocks
        ty0 = (task % blocks) * block_rows
        rows = min(block_rows, th - ty0)
        v = &work[threadid(), 0]
        m = v + 16 * C * T
        for c in range(C):
            if floating is float and _fast:
                wg_input(&xp[n, c, 0], Wq, <int>ty0, <int>rows, <int>tw, v + c * T, C * T)
            else:
                _winograd_in(&xp[n, c, 0], Wq, ty0, rows, tw, v + c * T, C * T)
        for e in range(16):
            if floating is float and _fast:  # the rows of V[e] read in place, channel c at c * T
                sg_conv_tiles(<int>K, 0, <int>(rows * tw), <int>C, &packed[e * packed_e], v + e * C * T,
                              <const ptrdiff_t*>&rows_at[0], 1, NULL, m + e * K * T, T, <int>T, <int>T, 1, 1)
            else:
                _product(<int>K, <int>(rows * tw), <int>C, &u[e, 0, 0], C, 1,
                         &packed[e * packed_e] if packed_e else NULL, v + e * C * T, T, 1, 0, NULL, m + e * K * T,
                         T, m + 16 * K * T)
        for k in range(K):
            if floating is float and _fast:
                wg_output(m + k * T, K * T, bias_at[k] if bias_at != NULL else 0, <int>ty0, <int>rows, <int>tw,
                          &out[n, k, 0], <int>Ho, <int>Wo)
            else:
                _winograd_out(m + k * T, K * T, bias_at[k] if bias_at != NULL else 0, ty0, rows, tw, &out[n, k, 0],
                              Ho, Wo)
