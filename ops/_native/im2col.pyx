# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The native conv kernels: im2col + products (the 'gemm' algorithm), the 'direct' algorithm's
implicit GEMM, depthwise and per-pair kernels, and Winograd's F(2x2, 3x3) (the 'winograd' algorithm,
conv_winograd: see ops/cpu/winograd.py), all on sgemm.h's AVX-512 code in float32.

Every input is seen as 5-D (N, C, D, H, W); 1-D and 2-D convolutions are the
D = H = 1 (or D = 1) case, so one set of loops serves all three.

im2col + products (conv_forward, conv_grad_input, conv_grad_weight): cols has
one row per (channel, kernel offset) and one column per output position,
cols[(c, kz, ky, kx), l] = x[n, c, iz, iy, ix], l = (oz, oy, ox),
i = o * stride - pad + k * dilation, and 0 where i falls in the padding. The
whole cols matrix is never built: each task packs one block of output
positions of one image into a per-thread buffer small enough to stay in the L2
cache, then multiplies it there (sgemm.h in float32 on AVX-512, else BLAS from
scipy.linalg.cython_blas, called single-threaded: the threads are ours), the
product landing straight in the (N, K, L) output. 1x1 convs with stride 1 and
no padding skip the packing: the image already is its cols matrix.

Implicit GEMM (conv_implicit, conv_implicit_grad_weight) and per-pair weight
gradients (conv_pairs_grad_weight) read the taps in place from the padded input
(pad_planes, split into stride phases for strided convs; for a depthwise weight
gradient, each plane padded into a per-thread buffer as it is read): see
ops/cpu/direct.py for the layout. The depthwise forward (conv_depthwise) reads
the input itself, masking the taps that fall in the padding. Winograd's
products (conv_winograd) read their transformed input in place too.
"""
import numpy as np
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.string cimport memset
from scipy.linalg.cython_blas cimport dgemm, sgemm


cdef extern from "sgemm.h" nogil:
    int sg_available()
    ptrdiff_t sg_a_size(int m, int k)
    ptrdiff_t sg_b_work()
    void sg_pack_a(int m, int k, const float* a, ptrdiff_t a_row, ptrdiff_t a_col, float* ap)
    void sg_gemm_packed(int m, int n, int k, const float* ap, const float* b, ptrdiff_t b_row, ptrdiff_t b_col,
                        const ptrdiff_t* b_offsets, float beta, const float* bias, float* c, ptrdiff_t ldc,
                        float* bwork)
    void sg_conv_tiles(int m, int j0, int j1, int k, const float* ap, const float* b, const ptrdiff_t* offsets,
                       int step, const float* bias, float* out, ptrdiff_t out_plane, int wp, int wo, int hp, int ho)
    ctypedef struct sg_grid:
        int hq, wq, ho, wo
    void sg_pack_a_grid(int m, int k, const float* a, ptrdiff_t a_row, const sg_grid* g, ptrdiff_t p0, float* ap)
    void sg_gemm_rows(int m, int n, int k, const float* a, const ptrdiff_t* a_offsets, int a_step, const float* b,
                      ptrdiff_t b_row, const sg_grid* grid, ptrdiff_t p0, float* c, ptrdiff_t ldc, float* bwork)
    void sg_line(float* dst, const float* src, int before, int count, int stride, int after)
    void sg_add_line(float* dst, const float* src, int count, int stride)
    ctypedef struct sg_window:
        int input[3]
        int output[3]
        int kernel[3]
        int dilation[3]
        int pad[3]
    void sg_depthwise(const sg_window* g, int row0, int rows, int col0, int width, const float* w, const float* src,
                      float bias, float* dst)
    void sg_depthwise_weight(int rows, int width, int per_slice, ptrdiff_t slice, ptrdiff_t src_row, ptrdiff_t g_row,
                             int taps, const float* g, const ptrdiff_t* offsets, const float* src, float* grad_w)

cdef extern from "winograd.h" nogil:
    void wg_input(const float* plane, ptrdiff_t wq, int ty0, int rows, int tw, float* v, ptrdiff_t ld)
    void wg_output(const float* m, ptrdiff_t ld, float bias, int ty0, int rows, int tw, float* out, int ho, int wo)

cdef bint _fast = sg_available()


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


cdef inline void _product(int m, int n, int k, const floating* a, Py_ssize_t a_row, Py_ssize_t a_col,
                          const floating* packed_a, const floating* b, Py_ssize_t b_row, Py_ssize_t b_col,
                          floating beta, const floating* bias, floating* c, Py_ssize_t ldc,
                          floating* scratch) noexcept nogil:
    """C (m x n, row stride ldc) = beta * C + bias + A B, A(i, p) = a[i * a_row + p * a_col],
    B(p, j) = b[p * b_row + j * b_col], bias: one value per row of C, or NULL.

    float32 on AVX-512: sgemm.h's kernel, A taken from packed_a when given (else packed into scratch).
    Otherwise BLAS, which is column-major: it computes C^T = B^T A^T, each operand transposed or not
    by which of its strides is 1 (one of them always is).
    """
    cdef char ta, tb
    cdef int lda, ldb, ldc_ = <int>ldc
    cdef floating one = 1
    cdef Py_ssize_t i, j
    if floating is float:
        if _fast:
            if packed_a == NULL:
                sg_pack_a(m, k, a, a_row, a_col, scratch + sg_b_work())
                packed_a = scratch + sg_b_work()
            sg_gemm_packed(m, n, k, packed_a, b, b_row, b_col, NULL, beta, bias, c, ldc, scratch)
            return
    if bias != NULL:  # BLAS has no bias: C takes it (scaled by beta) before the product adds in
        for i in range(m):
            for j in range(n):
                c[i * ldc + j] = beta * c[i * ldc + j] + bias[i] if beta != 0 else bias[i]
        beta = 1
    # a stride can be 1 by coincidence along a dim of length 1: pick the reading whose leading dim is valid
    if b_col == 1 and (k == 1 or b_row >= n):
        tb, ldb = c'N', <int>max(b_row, n)
    else:
        tb, ldb = c'T', <int>max(b_col, k)
    if a_col == 1 and (m == 1 or a_row >= k):
        ta, lda = c'N', <int>max(a_row, k)
    else:
        ta, lda = c'T', <int>max(a_col, m)
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &one, <float*>b, &ldb, <float*>a, &lda, &beta, c, &ldc_)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &one, <double*>b, &ldb, <double*>a, &lda, &beta, c, &ldc_)


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


cdef int _check_cols(Py_ssize_t rows, Py_ssize_t columns, Geometry* g, Py_ssize_t n) except -1:
    if rows != g.C * g.kvol or columns != n * g.L:
        raise ValueError(f"cols has shape {(rows, columns)}, expected {(g.C * g.kvol, n * g.L)}")
    return 0


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
        if not identity:
            _pack(&x[n, 0, 0, 0, 0], cols, count, 0, g.C, &g, l0, count)
        for grp in range(groups):
            if identity:
                b = &x[n, grp * (g.C // groups), 0, 0, 0] + l0
                b_row = g.L
            else:
                b = cols + grp * rows * count
                b_row = count
            _product(<int>Kg, <int>count, <int>rows, &w[grp * Kg, 0], rows, 1,
                     &packed[grp * packed_group] if packed_group else NULL, b, b_row, 1,
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
            if not identity:
                _pack(&x[n, 0, 0, 0, 0], cols, count, 0, g.C, &g, l0, count)
            for grp in range(groups):
                if identity:
                    b = &x[n, grp * (g.C // groups), 0, 0, 0] + l0
                    b_col = g.L
                else:
                    b = cols + grp * rows * count
                    b_col = count
                _product(<int>Kg, <int>rows, <int>count, &grad_out[n, grp * Kg, l0], g.L, 1, NULL, b, 1, b_col,
                         1, NULL, &partial[slot, grp * Kg, 0], rows, cols + g.C * g.kvol * block)


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


def conv_depthwise(const float[:, :, ::1] x, const float[:, ::1] w, const float[::1] bias, float[:, :, ::1] out,
                   in_size, out_size, kernel, dilation, pad, int threads):
    """out[n, c] (Do * Ho * Wo) = bias[c] + sum over taps t of w[c, t] * x[n, c] at the tap's place in each output's
    window: a stride-1 depthwise conv of x (N, C, D * H * W), unpadded (zeros stand for the `pad` cells before
    each of D, H, W and for those after), written in place. kernel, dilation and pad are 3-tuples; w (C, taps).
    One task per (image, channel, band of rows, stretch of columns): one image of one channel, such as a
    signal, still fills the threads."""
    cdef sg_window g
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], Ho = out_size[1], Wo = out_size[2], rows = out_size[0] * Ho
    cdef Py_ssize_t width = min(Wo, 4096), band = max(1, 4096 // Wo)
    cdef Py_ssize_t stretches = (Wo + width - 1) // width, bands = (rows + band - 1) // band
    cdef Py_ssize_t task, n, c, r0, c0, i
    if not _fast:
        raise RuntimeError("the AVX-512 kernel is not in use on this CPU (fast_sgemm() is False)")
    for i in range(3):
        g.input[i], g.output[i], g.kernel[i], g.dilation[i], g.pad[i] = in_size[i], out_size[i], kernel[i], dilation[i], pad[i]
    if x.shape[2] != g.input[0] * g.input[1] * g.input[2] or out.shape[2] != rows * Wo or w.shape[1] != g.kernel[0] * g.kernel[1] * g.kernel[2]:
        raise ValueError(f"x {tuple(x.shape)[:3]}, out {tuple(out.shape)[:3]} or w {tuple(w.shape)[:2]} do not "
                         f"match the planes {tuple(in_size)} -> {tuple(out_size)} and kernel {tuple(kernel)}")
    for task in prange(N * C * bands * stretches, nogil=True, schedule="static", num_threads=threads):
        n = task // (C * bands * stretches)
        c = (task // (bands * stretches)) % C
        r0 = ((task // stretches) % bands) * band
        c0 = (task % stretches) * width
        sg_depthwise(&g, <int>r0, <int>min(band, rows - r0), <int>c0, <int>min(width, Wo - c0), &w[c, 0], &x[n, c, 0],
                     bias[c], &out[n, c, 0])


def conv_pairs_grad_weight(const float[:, :, :, ::1] x, const float[:, :, ::1] grad_out, const Py_ssize_t[::1] offsets,
                           float[:, ::1] grad_w, Py_ssize_t groups, lows, padded, out_size, float[:, ::1] work,
                           int threads):
    """grad_w[k, c * T + t] = sum over n and outputs of grad_out[n, k] * xp[n, group(k) * Cg + c] at offsets[t] from
    the output's window, xp the input zero-padded as pad_planes(x, lows, (1, 1) + padded) does: the weight
    gradient of a stride-1 conv as one correlation per (filter, channel) pair, for few pairs (depthwise, first
    layers). x (N * C, D, H, W), grad_out (N, K, Do * Ho * Wo). One task per pair, which owns its taps of grad_w.

    With work (threads, padded volume + slack), each task pads its planes into its thread's row of work just
    before reading them, so a padded copy of the input is never written out whole (depthwise convs, which
    read each plane once); with work of no rows, x must be that padded copy, as (N * C, 1, 1, volume)
    (convs whose pairs share planes)."""
    cdef Py_ssize_t N = grad_out.shape[0], C = x.shape[0] // N, Cg = C // groups, K = grad_out.shape[1]
    cdef Py_ssize_t Kg = K // groups, T = offsets.shape[0], Hp = padded[1], Wp = padded[2]
    cdef Py_ssize_t Do = out_size[0], Ho = out_size[1], Wo = out_size[2], pair, k, c, n, p
    cdef bint pad_here = work.shape[0] > 0
    cdef Padding q
    cdef const float* plane
    if not _fast:
        raise RuntimeError("the AVX-512 kernel is not in use on this CPU (fast_sgemm() is False)")
    if pad_here:
        if work.shape[0] < threads:
            raise ValueError(f"work has {work.shape[0]} rows for {threads} threads")
        q = _padding((x.shape[1], x.shape[2], x.shape[3]), lows, (1, 1) + tuple(padded), work.shape[1])
    for pair in prange(K * Cg, nogil=True, schedule="dynamic", num_threads=threads):
        k = pair // Cg
        c = pair % Cg
        for n in range(N):
            p = n * C + (k // Kg) * Cg + c
            if pad_here:
                _pad_plane(&x[p, 0, 0, 0], &work[threadid(), 0], &q)
                plane = &work[threadid(), 0]
            else:
                plane = &x[p, 0, 0, 0]
            sg_depthwise_weight(<int>(Do * Ho), <int>Wo, <int>Ho, Hp * Wp, Wp, Wo, <int>T, &grad_out[n, k, 0],
                                <const ptrdiff_t*>&offsets[0], plane, &grad_w[k, c * T])


cdef struct Padding:
    Py_ssize_t D, H, W, lz, ly, lx, sd, sh, Dq, Hq, Wr, keep, used, volume


cdef Padding _padding(shape, lows, phases, Py_ssize_t volume) except *:
    cdef Padding q
    q.D, q.H, q.W = shape[0], shape[1], shape[2]
    q.lz, q.ly, q.lx = lows[0], lows[1], lows[2]
    q.sd, q.sh, q.Dq, q.Hq, q.Wr = phases
    q.keep = max(0, min(q.W, q.Wr - q.lx))
    q.used, q.volume = q.sd * q.sh * q.Dq * q.Hq * q.Wr, volume
    if q.used > volume:
        raise ValueError(f"out holds {volume} elements per plane, the padded planes {q.used}")
    return q


cdef void _pad_plane(const floating* x, floating* out, Padding* q) noexcept nogil:
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
