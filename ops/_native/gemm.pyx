# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Convolution as im2col + products (the 'gemm' algorithm: see ops/cpu/gemm.py), on sgemm.h's AVX-512 code in
float32, else BLAS.

Every input is seen as 5-D (N, C, D, H, W); 1-D and 2-D convolutions are the
D = H = 1 (or D = 1) case, so one set of loops serves all three.

conv_forward, conv_grad_input, conv_grad_weight: cols has
one row per (channel, kernel offset) and one column per output position,
cols[(c, kz, ky, kx), l] = x[n, c, iz, iy, ix], l = (oz, oy, ox),
i = o * stride - pad + k * dilation, and 0 where i falls in the padding. The
whole cols matrix is never built: each task packs one block of output
positions of one image into a per-thread buffer small enough to stay in the L2
cache, then multiplies it there (sgemm.h in float32 on AVX-512, else BLAS from
scipy.linalg.cython_blas, called single-threaded: the threads are ours), the
product landing straight in the (N, K, L) output. 1x1 convs with stride 1 and
no padding skip the packing: the image already is its cols matrix.
"""
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.string cimport memset

from .products cimport _fast, _product, sg_add_line, sg_line


cdef struct Geometry:
    Py_ssize_t C, D, H, W
    Py_ssize_t kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw
    Py_ssize_t Do, Ho, Wo, L, kvol


cdef Geometry _geometry(shape, kernel, stride, pad, dilation, out_size) except *:
    cdef Geometry g
    g.C, g.D, g.H, g.W = shape[1], shape[2], shape[3], shape[4]
    g.kd, g.kh, g.kw = kernel
    g.sd, g.sh, g.sw = stride
    g.pd, g.ph, g.pw = pad
    g.dd, g.dh, g.dw = dilation
    g.Do, g.Ho, g.Wo = out_size
    g.L = g.Do * g.Ho * g.Wo
    g.kvol = g.kd * g.kh * g.kw
    return g


cdef inline bint _is_identity(Geometry* g) noexcept nogil:
    """A 1x1 conv with stride 1 and no padding: cols is the image itself."""
    return (g.kvol == 1 and g.sd == 1 and g.sh == 1 and g.sw == 1
            and g.pd == 0 and g.ph == 0 and g.pw == 0)


cdef inline Py_ssize_t _ceil_div(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return (a + b - 1) // b if a > 0 else -((-a) // b)


cdef inline Py_ssize_t _floor_div(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a // b if a >= 0 else -((-a + b - 1) // b)


cdef inline void _valid_columns(Geometry* g, Py_ssize_t kx, Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """[lo, hi): the output columns ox whose input column ox * sw + kx * dw - pw lies inside the image."""
    cdef Py_ssize_t shift = kx * g.dw - g.pw
    if g.sw == 1:  # no division (tens of cycles) in the common case
        lo[0] = min(max(0, -shift), g.Wo)
        hi[0] = max(min(g.Wo, g.W - shift), lo[0])
    else:
        lo[0] = min(max(0, _ceil_div(-shift, g.sw)), g.Wo)
        hi[0] = max(min(g.Wo, _floor_div(g.W - 1 - shift, g.sw) + 1), lo[0])


cdef inline void _line(floating* dst, const floating* src, Py_ssize_t zeros_before, Py_ssize_t count,
                       Py_ssize_t stride, Py_ssize_t zeros_after) noexcept nogil:
    """dst = zeros_before zeros, src[0], src[stride], ... (count of them), zeros_after zeros."""
    cdef Py_ssize_t i
    if floating is float:
        if _fast:  # AVX-512: no per-element loop overhead; stride 2 gathered by permutes
            sg_line(dst, src, <int>zeros_before, <int>count, <int>stride, <int>zeros_after)
            return
    # plain loops, not memcpy/memset calls: the lines are short
    for i in range(zeros_before):
        dst[i] = 0
    dst += zeros_before
    for i in range(count):
        dst[i] = src[i * stride]
    dst += count
    for i in range(zeros_after):
        dst[i] = 0


cdef inline void _add_line(floating* dst, const floating* src, Py_ssize_t count, Py_ssize_t stride) noexcept nogil:
    """dst[0], dst[stride], ... (count of them) += src[0 .. count - 1]."""
    cdef Py_ssize_t i
    if floating is float:
        if _fast:
            sg_add_line(dst, src, <int>count, <int>stride)
            return
    for i in range(count):
        dst[i * stride] += src[i]


cdef void _walk(floating* x, floating* cols, Py_ssize_t ld, Py_ssize_t c0, Py_ssize_t nc, Geometry* g,
                Py_ssize_t l0, Py_ssize_t count, bint scatter) noexcept nogil:
    """im2col (scatter False): cols[r, j] for rows r of channels c0 .. c0 + nc - 1 and positions
    l0 + j < l0 + count of one image x; col2im (scatter True): the adjoint, cols added onto the input
    cells they were read from.

    The positions run along output lines (oz, oy) of Wo columns; a line reads zeros where it falls in
    the padding and an input line (every element, or every sw-th) in between. Rows and lines are walked
    by counters, not divisions: with small images the per-line bookkeeping is most of the work.
    """
    cdef Py_ssize_t c, kz, ky, kx, j, run, oz, oy, ox, iz, iy, lo, hi, x_lo, x_hi, shift
    cdef Py_ssize_t oz0 = l0 // (g.Ho * g.Wo), oy0 = (l0 // g.Wo) % g.Ho, ox0 = l0 % g.Wo
    cdef floating* row = cols
    cdef floating* line
    for c in range(c0, c0 + nc):
        for kz in range(g.kd):
            for ky in range(g.kh):
                for kx in range(g.kw):
                    shift = kx * g.dw - g.pw
                    _valid_columns(g, kx, &x_lo, &x_hi)
                    j, oz, oy, ox = 0, oz0, oy0, ox0
                    while j < count:
                        run = min(g.Wo - ox, count - j)
                        iz = oz * g.sd - g.pd + kz * g.dd
                        iy = oy * g.sh - g.ph + ky * g.dh
                        if 0 <= iz < g.D and 0 <= iy < g.H:
                            lo = min(max(ox, x_lo), ox + run)
                            hi = max(min(ox + run, x_hi), lo)
                            line = x + ((c * g.D + iz) * g.H + iy) * g.W + lo * g.sw + shift
                            if scatter:
                                _add_line(line, row + j + lo - ox, hi - lo, g.sw)
                            else:
                                _line(row + j, line, lo - ox, hi - lo, g.sw, ox + run - hi)
                        elif not scatter:
                            _line(row + j, x, run, 0, 1, 0)
                        j += run
                        ox = 0
                        oy += 1
                        if oy == g.Ho:
                            oy = 0
                            oz += 1
                    row += ld


cdef inline void _pack(const floating* x, floating* cols, Py_ssize_t ld, Py_ssize_t c0, Py_ssize_t nc,
                       Geometry* g, Py_ssize_t l0, Py_ssize_t count) noexcept nogil:
    _walk(<floating*>x, cols, ld, c0, nc, g, l0, count, False)


cdef inline void _unpack(const floating* cols, floating* x, Py_ssize_t ld, Py_ssize_t c0, Py_ssize_t nc,
                         Geometry* g, Py_ssize_t l0, Py_ssize_t count) noexcept nogil:
    _walk(x, <floating*>cols, ld, c0, nc, g, l0, count, True)


cdef int _check_cols(Py_ssize_t rows, Py_ssize_t columns, Geometry* g, Py_ssize_t n) except -1:
    if rows != g.C * g.kvol or columns != n * g.L:
        raise ValueError(f"cols has shape {(rows, columns)}, expected {(g.C * g.kvol, n * g.L)}")
    return 0


cdef inline const floating* _columns(const floating* image, floating* cols, Geometry* g, bint identity,
                                     Py_ssize_t l0, Py_ssize_t count) noexcept nogil:
    """The block of cols (C * kvol, count) for positions l0 .. l0 + count - 1 of one image: for an identity conv the
    image itself (row stride L), else packed into cols (row stride count)."""
    if identity:
        return image + l0
    _pack(image, cols, count, 0, g.C, g, l0, count)
    return cols


def im2col(const floating[:, :, :, :, ::1] x, floating[:, ::1] cols,
           kernel, stride, pad, dilation, out_size):
    """Fill cols, shape (C * kd * kh * kw, N * Do * Ho * Wo), from x, shape (N, C, D, H, W)."""
    cdef Geometry g = _geometry(x.shape, kernel, stride, pad, dilation, out_size)
    cdef Py_ssize_t N = x.shape[0], task, n, c
    _check_cols(cols.shape[0], cols.shape[1], &g, N)
    for task in prange(N * g.C, nogil=True, schedule="static"):
        n = task // g.C
        c = task % g.C
        _pack(&x[n, 0, 0, 0, 0], &cols[c * g.kvol, n * g.L], cols.shape[1], c, 1, &g, 0, g.L)


def col2im(const floating[:, ::1] cols, floating[:, :, :, :, ::1] x,
           kernel, stride, pad, dilation, out_size):
    """Add every entry of cols back onto the input position it was read from (x must start at zero).

    The adjoint of im2col; each (n, c) plane is owned by one thread, so there are no races.
    """
    cdef Geometry g = _geometry(x.shape, kernel, stride, pad, dilation, out_size)
    cdef Py_ssize_t N = x.shape[0], task, n, c
    _check_cols(cols.shape[0], cols.shape[1], &g, N)
    for task in prange(N * g.C, nogil=True, schedule="static"):
        n = task // g.C
        c = task % g.C
        _unpack(&cols[c * g.kvol, n * g.L], &x[n, 0, 0, 0, 0], cols.shape[1], c, 1, &g, 0, g.L)


def conv_forward(const floating[:, :, :, :, ::1] x, const floating[:, ::1] w, const floating[::1] packed,
                 const floating[::1] bias, floating[:, :, ::1] out, kernel, stride, pad, dilation, out_size,
                 Py_ssize_t groups, Py_ssize_t block, floating[:, ::1] work, int threads):
    """out (N, K, L) = bias + w (K, C / groups * kvol) @ cols, per image block and group.

    packed: pack_weights(w, groups, False); bias: (K,) or None; work: (threads, scratch_size(...)).
    """
    cdef Geometry g = _geometry(x.shape, kernel, stride, pad, dilation, out_size)
    cdef Py_ssize_t N = x.shape[0], K = w.shape[0], Kg = K // groups, rows = (g.C // groups) * g.kvol
    cdef Py_ssize_t blocks = (g.L + block - 1) // block, task, n, l0, count, grp, packed_group
    cdef bint identity = _is_identity(&g)
    cdef floating* cols
    cdef const floating* b
    cdef Py_ssize_t b_row
    cdef const floating* bias_at = NULL if bias is None else &bias[0]
    packed_group = packed.shape[0] // groups
    for task in prange(N * blocks, nogil=True, schedule="dynamic", num_threads=threads):
        n = task // blocks
        l0 = (task % blocks) * block
        count = min(block, g.L - l0)
        cols = &work[threadid(), 0]
        b = _columns(&x[n, 0, 0, 0, 0], cols, &g, identity, l0, count)
        b_row = g.L if identity else count
        for grp in range(groups):
            _product(<int>Kg, <int>count, <int>rows, &w[grp * Kg, 0], rows, 1,
                     &packed[grp * packed_group] if packed_group else NULL, b + grp * rows * b_row, b_row, 1,
                     0, NULL if bias_at == NULL else bias_at + grp * Kg, &out[n, grp * Kg, l0], g.L,
                     cols + g.C * g.kvol * block)


def conv_grad_input(const floating[:, :, ::1] grad_out, const floating[:, ::1] w, const floating[::1] packed,
                    floating[:, :, :, :, ::1] grad, kernel, stride, pad, dilation, out_size, Py_ssize_t groups,
                    Py_ssize_t block, floating[:, ::1] work, int threads):
    """grad (N, C, D, H, W) = col2im(w^T @ grad_out) per image and group; what grad holds on entry is ignored.

    packed: pack_weights(w, groups, True). One task per (image, group) owns that part of grad,
    so the scatter has no races, and zeroes it first where it scatters (1x1 convs write it whole): in the
    task's thread, so fresh pages are first touched in parallel, and never twice.
    """
    cdef Geometry g = _geometry(grad.shape, kernel, stride, pad, dilation, out_size)
    cdef Py_ssize_t N = grad.shape[0], K = w.shape[0], Kg = K // groups, Cg = g.C // groups
    cdef Py_ssize_t rows = Cg * g.kvol, task, n, grp, l0, count, packed_group
    cdef bint identity = _is_identity(&g)
    cdef floating* cols
    cdef const floating* a_packed
    packed_group = packed.shape[0] // groups
    for task in prange(N * groups, nogil=True, schedule="dynamic", num_threads=threads):
        n = task // groups
        grp = task % groups
        cols = &work[threadid(), 0]
        a_packed = &packed[grp * packed_group] if packed_group else NULL
        if identity:
            _product(<int>Cg, <int>g.L, <int>Kg, &w[grp * Kg, 0], 1, rows, a_packed, &grad_out[n, grp * Kg, 0],
                     g.L, 1, 0, NULL, &grad[n, grp * Cg, 0, 0, 0], g.L, cols)
            continue
        memset(&grad[n, grp * Cg, 0, 0, 0], 0, Cg * g.D * g.H * g.W * sizeof(floating))
        l0 = 0
        while l0 < g.L:
            count = min(block, g.L - l0)
            _product(<int>rows, <int>count, <int>Kg, &w[grp * Kg, 0], 1, rows, a_packed,
                     &grad_out[n, grp * Kg, l0], g.L, 1, 0, NULL, cols, count, cols + g.C * g.kvol * block)
            _unpack(cols, &grad[n, 0, 0, 0, 0], count, grp * Cg, Cg, &g, l0, count)
            l0 = l0 + block


def conv_grad_weight(const floating[:, :, :, :, ::1] x, const floating[:, :, ::1] grad_out,
                     floating[:, :, ::1] partial, kernel, stride, pad, dilation, out_size,
                     Py_ssize_t groups, Py_ssize_t block, floating[:, ::1] work, int threads):
    """partial[s] (K, C / groups * kvol) += grad_out @ cols^T over the s-th of S equal runs of the
    (image, block) tasks, each summed in order.

    partial: (S, K, C / groups * kvol), zero on entry, S >= 1 slots; its sum over slots is the weight gradient.
    """
    cdef Geometry g = _geometry(x.shape, kernel, stride, pad, dilation, out_size)
    cdef Py_ssize_t N = x.shape[0], K = grad_out.shape[1], Kg = K // groups, rows = (g.C // groups) * g.kvol
    cdef Py_ssize_t blocks = (g.L + block - 1) // block, tasks = N * blocks, task, n, l0, count, grp, slot
    cdef Py_ssize_t slots = partial.shape[0]
    cdef bint identity = _is_identity(&g)
    cdef floating* cols
    cdef const floating* b
    cdef Py_ssize_t b_col
    # Each slot sums a fixed run of tasks in order, whichever thread runs it: the same bits on every call.
    for slot in prange(slots, nogil=True, schedule="dynamic", num_threads=threads):
        cols = &work[threadid(), 0]
        for task in range(slot * tasks // slots, (slot + 1) * tasks // slots):
            n = task // blocks
            l0 = (task % blocks) * block
            count = min(block, g.L - l0)
            b = _columns(&x[n, 0, 0, 0, 0], cols, &g, identity, l0, count)
            b_col = g.L if identity else count
            for grp in range(groups):
                _product(<int>Kg, <int>rows, <int>count, &grad_out[n, grp * Kg, l0], g.L, 1, NULL,
                         b + grp * rows * b_col, 1, b_col, 1, NULL, &partial[slot, grp * Kg, 0], rows,
                         cols + g.C * g.kvol * block)
