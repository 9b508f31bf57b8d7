# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The 'direct' algorithm's implicit GEMM (conv_implicit, conv_implicit_grad_weight) on sgemm.h's AVX-512 code,
float32 only: the taps are read in place from the padded input (padding.pyx's pad_planes, split into stride phases
for strided convs): see ops/cpu/direct.py for the layout.
"""
from cython.parallel cimport prange, threadid

from .products cimport (_fast, sg_a_size, sg_b_work, sg_conv_tiles, sg_gemm_packed, sg_gemm_rows, sg_grid,
                        sg_pack_a_grid)


def conv_implicit(const float[:, :, ::1] xp, const float[::1] packed, const Py_ssize_t[::1] offsets,
                  const float[::1] bias, float[:, :, ::1] out, Py_ssize_t groups, grid, out_size, Py_ssize_t step,
                  Py_ssize_t chunk, int threads):
    """out[n, k] (Do * Ho * Wo) = bias[k] + sum over (c, t) of w[k, c, t] * xp[n, group(k) * Cg, offsets[c * T + t] + step * j],
    j = (oz * Hq + oy) * Wq + ox the output's position on the grid (Do, Hq, Wq) = `grid`.

    The conv as an implicit GEMM (no im2col): xp (N, C, V) is the padded input, split into stride phases
    where it is strided, flattened; step the stride along W (1 or 2); packed: pack_weights(w, groups, False).
    One task per (image, group, chunk of positions). float32 with the AVX-512 kernel only (fast_sgemm()).
    """
    cdef Py_ssize_t N = xp.shape[0], Cg = xp.shape[1] // groups, K = out.shape[1], Kg = K // groups
    cdef Py_ssize_t Hq = grid[1], Wq = grid[2], Do = out_size[0], Ho = out_size[1], Wo = out_size[2]
    cdef Py_ssize_t count = (Do - 1) * Hq * Wq + (Ho - 1) * Wq + Wo, chunks = (count + chunk - 1) // chunk
    cdef Py_ssize_t depth = offsets.shape[0], packed_group = packed.shape[0] // groups, task, n, grp, j0
    if not _fast:
        raise RuntimeError("the AVX-512 kernel is not in use on this CPU (fast_sgemm() is False)")
    if step not in (1, 2):
        raise ValueError(f"the implicit GEMM reads along W with step 1 or 2, not {step}")
    for task in prange(N * groups * chunks, nogil=True, schedule="dynamic", num_threads=threads):
        n = task // (groups * chunks)
        grp = (task // chunks) % groups
        j0 = (task % chunks) * chunk
        sg_conv_tiles(<int>Kg, <int>j0, <int>min(j0 + chunk, count), <int>depth, &packed[grp * packed_group],
                      &xp[n, grp * Cg, 0], <const ptrdiff_t*>&offsets[0], <int>step, &bias[grp * Kg],
                      &out[n, grp * Kg, 0], out.shape[2], <int>Wq, <int>Wo, <int>Hq, <int>Ho)


def conv_implicit_grad_weight(const float[:, :, ::1] xp, const float[:, :, ::1] grad_out,
                              const Py_ssize_t[::1] offsets, float[:, :, :, ::1] partial, bint taps_as_rows, grid,
                              out_size, Py_ssize_t count, Py_ssize_t step, Py_ssize_t chunk, float[:, ::1] work,
                              int threads):
    """The weight gradient as an implicit GEMM over xp, the padded input split into stride phases as for
    conv_implicit (grid (Do, Hq, Wq) of positions, out_size (Do, Ho, Wo), count: one past the last output's
    position), and grad_out (N, K, Do * Ho * Wo), seen on that grid (zero off the outputs) as it is packed:
    partial[t] gets the sums over grid positions j < count of
    xp[n, g * Cg + c, offsets[c * T + tap] + step * j] * grad_out[n, g * Kg + k] (at j) of the (image, chunk of
    positions) tasks of the t-th of S equal runs of them, each summed in order, in one of two orientations:

    - taps_as_rows, partial (S, groups, Cg * T, Kg): the taps, the deep operand, are read in place as the
      rows of A and only grad_out is packed (for 32 or more filters per group, which fill the kernel's columns);
    - else partial (S, groups, Kg, Cg * T): grad_out is A (packed) and the taps are packed (transposed,
      8 x 8 blocks) as B.

    partial: S >= 1 slots, zero on entry, summed over slots afterwards. work: (threads, scratch_size(0, chunk, Kg)).
    float32 with the AVX-512 kernel only.
    """
    cdef sg_grid g
    cdef Py_ssize_t N = xp.shape[0], groups = partial.shape[1], Cg = xp.shape[1] // groups
    cdef Py_ssize_t Kg = grad_out.shape[1] // groups, depth = offsets.shape[0]
    cdef Py_ssize_t chunks = (count + chunk - 1) // chunk, tasks = N * chunks, task, n, grp, j0, slot, size
    cdef Py_ssize_t slots = partial.shape[0]
    cdef float* scratch
    g.hq, g.wq, g.ho, g.wo = grid[1], grid[2], out_size[1], out_size[2]
    if not _fast:
        raise RuntimeError("the AVX-512 kernel is not in use on this CPU (fast_sgemm() is False)")
    if step not in (1, 2):
        raise ValueError(f"the implicit GEMM reads along W with step 1 or 2, not {step}")
    if (slots < 1 or (partial.shape[2], partial.shape[3]) != ((depth, Kg) if taps_as_rows else (Kg, depth))
            or grad_out.shape[2] != out_size[0] * out_size[1] * out_size[2]
            or work.shape[1] < sg_b_work() + sg_a_size(<int>Kg, <int>chunk)):
        raise ValueError(f"partial {tuple(partial.shape)[:4]}, grad_out {tuple(grad_out.shape)[:3]} or work "
                         f"{tuple(work.shape)[:2]} do not match {threads} threads, {groups} groups of {Kg} filters, "
                         f"{depth} taps and outputs {tuple(out_size)}")
    # Each slot sums a fixed run of tasks in order, whichever thread runs it: the same bits on every call.
    for slot in prange(slots, nogil=True, schedule="dynamic", num_threads=threads):
        scratch = &work[threadid(), 0]
        for task in range(slot * tasks // slots, (slot + 1) * tasks // slots):
            n = task // chunks
            j0 = (task % chunks) * chunk
            size = min(chunk, count - j0)
            for grp in range(groups):
                if taps_as_rows:
                    sg_gemm_rows(<int>depth, <int>Kg, <int>size, &xp[n, grp * Cg, 0] + step * j0,
                                 <const ptrdiff_t*>&offsets[0], <int>step, &grad_out[n, grp * Kg, 0],
                                 grad_out.shape[2], &g, j0, &partial[slot, grp, 0, 0], Kg, scratch)
                else:
                    sg_pack_a_grid(<int>Kg, <int>size, &grad_out[n, grp * Kg, 0], grad_out.shape[2], &g, j0,
                                   scratch + sg_b_work())
                    sg_gemm_packed(<int>Kg, <int>depth, <int>size, scratch + sg_b_work(),
                                   &xp[n, grp * Cg, 0] + step * j0, step, 0, <const ptrdiff_t*>&offsets[0], 1, NULL,
                                   &partial[slot, grp, 0, 0], depth, scratch)
