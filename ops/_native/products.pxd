# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""sgemm.h's C API, the switch between its AVX-512 kernel and BLAS, and the product every native module runs on."""
from cython cimport floating
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

# Whether float32 runs on sgemm.h's AVX-512 code (else BLAS and plain loops): one flag for every module that
# cimports it, which fast_sgemm() switches.
cdef bint _fast


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
