/* Single-precision matrix product with an AVX-512 register-blocked kernel (BLIS's layout: packed panels).

   C (m x n, row stride ldc) = beta * C + A (m x k) B (k x n) (+ a bias per row), with A(i, p) at a[i * a_row + p * a_col]
   and B(p, j) at b[p * b_row + j * b_col], so either operand may be transposed in memory.

   Why our own: the conv kernels call one product per block from their own threads, and on CPUs that
   OpenBLAS's runtime detection does not know (or where OPENBLAS_CORETYPE pins it to older kernels) its
   sgemm runs AVX2 code at half the core's AVX-512 rate. Operands are packed into panels (MR rows of A,
   NR columns of B, KC deep) that the 8 x 32 kernel streams from the L1/L2 caches while its 16
   accumulators stay in registers. A can be packed once and reused (sg_pack_a, sg_gemm_packed): the conv
   weights are packed once per call, not once per block.

   The same tile also runs convolutions without im2col: sg_conv_tiles reads its B rows in place from a
   padded input at the kernel taps' offsets (every element, or every other one for stride 2), sg_gemm_rows
   reads its A rows so (the weight gradient of convs with many filters), and the
   depthwise kernels (sg_depthwise, sg_depthwise_weight) keep a tap's or many taps' sums in registers.
   sg_line and sg_add_line are the AVX-512 lines of im2col and col2im.

   Compiled for AVX-512 through function attributes; sg_available() tells at run time whether the CPU
   (and compiler) has it, else the caller uses BLAS. Every function is nogil-safe and allocation-free:
   the caller passes the scratch (sg_b_work floats, 64-byte aligned or not).
*/
#ifndef CONVREF_SGEMM_H
#define CONVREF_SGEMM_H

#include <stddef.h>
#include <string.h>

#define SG_MR 8
#define SG_NR 32
#define SG_KC 256
#define SG_NC 512
#define SG_MC 128

/* Floats of packed A for an m x k operand, and of the B scratch sg_gemm_packed needs. */
static inline ptrdiff_t sg_a_size(int m, int k) { return (ptrdiff_t)((m + SG_MR - 1) / SG_MR) * SG_MR * k; }
static inline ptrdiff_t sg_b_work(void) { return (ptrdiff_t)SG_KC * SG_NC; }

/* A stride-1 window over a (D, H, W) plane: the input's and output's sizes, the kernel, its dilation and the
   padding before each dim (1-D and 2-D planes have D = 1, or D = H = 1). */
typedef struct { int input[3], output[3], kernel[3], dilation[3], pad[3]; } sg_window;

/* The position grid of the implicit GEMM: slices of hq rows of wq positions, position (s, y, x) holding
   output (s, y, x) of an (s, ho, wo) output where y < ho and x < wo, and nothing elsewhere. */
typedef struct { int hq, wq, ho, wo; } sg_grid;

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define SG_TARGET __attribute__((target("avx512f,avx512vl,avx2,fma")))

static inline int sg_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
}

static inline __mmask16 sg_mask(int n) { return n >= 16 ? 0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

/* Eight floats from src, src + step, ... (step 1 or 2; step 2 gathered by a permute, reading src[0 .. 14]). */
SG_TARGET static inline __m256 sg_load8(const float* src, int step) {
    if (step == 1) return _mm256_loadu_ps(src);
    const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_castps512_ps256(_mm512_permutexvar_ps(evens, _mm512_maskz_loadu_ps(0x7FFF, src)));
}

/* Transpose the 8 x 8 block whose row i is rows[i][0], rows[i][step], ... into dst (row stride dst_ld):
   dst[j][i] = rows[i][j * step]. */
SG_TARGET static inline void sg_transpose8(const float* const* rows, int step, float* dst, ptrdiff_t dst_ld) {
    __m256 r0 = sg_load8(rows[0], step), r1 = sg_load8(rows[1], step), r2 = sg_load8(rows[2], step),
           r3 = sg_load8(rows[3], step), r4 = sg_load8(rows[4], step), r5 = sg_load8(rows[5], step),
           r6 = sg_load8(rows[6], step), r7 = sg_load8(rows[7], step);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
           t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
           u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
           u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
           u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + dst_ld, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * dst_ld, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * dst_ld, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * dst_ld, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * dst_ld, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * dst_ld, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * dst_ld, _mm256_permute2f128_ps(u3, u7, 0x31));
}

/* Pack `rows` (<= width) rows x k columns of M into width-wide panels: dst[p * width + r] = M(r, p), rows
   beyond `rows` zero. M(r, p) = src[start(r) + p * col], start(r) = offsets[r] if offsets, else r * row.
   The transposing cases (col 1 or 2) go 8 x 8 blocks at a time. */
SG_TARGET static void sg_pack_panel(int rows, int k, const float* src, ptrdiff_t row, const ptrdiff_t* offsets,
                                    ptrdiff_t col, float* dst, int width) {
    const float* starts[SG_NR];
    int p, r, full = 0;
    for (r = 0; r < rows; r++) starts[r] = src + (offsets ? offsets[r] : r * row);
    if (row == 1 && !offsets) {
        for (p = 0; p < k; p++) {
            memcpy(dst + p * width, src + p * col, rows * sizeof(float));
            memset(dst + p * width + rows, 0, (width - rows) * sizeof(float));
        }
        return;
    }
    if (col == 1 || col == 2) {  /* groups of 8 whole rows, 8 columns at a time */
        const float* block[8];
        full = rows / 8 * 8;
        for (p = 0; p + 8 <= k; p += 8)
            for (r = 0; r < full; r += 8) {
                for (int q = 0; q < 8; q++) block[q] = starts[r + q] + p * col;
                sg_transpose8(block, (int)col, dst + p * width + r, width);
            }
        for (; p < k; p++)
            for (r = 0; r < full; r++) dst[p * width + r] = starts[r][p * col];
    }
    for (p = 0; p < k; p++) {
        for (r = full; r < rows; r++) dst[p * width + r] = starts[r][p * col];
        for (; r < width; r++) dst[p * width + r] = 0.0f;
    }
}

/* One line of im2col: `before` zeros, then src[0], src[stride], ... (count of them), then `after` zeros.
   Vector-wide for strides 1 and 2 (gathered by permutes). */
SG_TARGET static void sg_line(float* dst, const float* src, int before, int count, int stride, int after) {
    int i;
    const __m512 zero = _mm512_setzero_ps();
    for (i = 0; i + 16 <= before; i += 16) _mm512_storeu_ps(dst + i, zero);
    _mm512_mask_storeu_ps(dst + i, (__mmask16)((1u << (before - i)) - 1), zero);
    dst += before;
    i = 0;
    if (stride == 1) {
        for (; i + 16 <= count; i += 16) _mm512_storeu_ps(dst + i, _mm512_loadu_ps(src + i));
        __mmask16 tail = (__mmask16)((1u << (count - i)) - 1);
        _mm512_mask_storeu_ps(dst + i, tail, _mm512_maskz_loadu_ps(tail, src + i));
        i = count;
    } else if (stride == 2) {
        const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        for (; i < count; i += 16) {  /* reads src[2i] .. src[2 (count - 1)] only */
            int reach = 2 * (count - i) - 1 < 32 ? 2 * (count - i) - 1 : 31;
            __mmask16 lo_mask = reach >= 16 ? 0xFFFF : (__mmask16)((1u << reach) - 1);
            __mmask16 hi_mask = reach <= 16 ? 0 : (__mmask16)((1u << (reach - 16)) - 1);
            __m512 lo = _mm512_maskz_loadu_ps(lo_mask, src + 2 * i), hi = _mm512_maskz_loadu_ps(hi_mask, src + 2 * i + 16);
            __mmask16 out = count - i >= 16 ? 0xFFFF : (__mmask16)((1u << (count - i)) - 1);
            _mm512_mask_storeu_ps(dst + i, out, _mm512_permutex2var_ps(lo, evens, hi));
        }
    }
    for (; i < count; i++) dst[i] = src[(ptrdiff_t)i * stride];
    dst += count;
    for (i = 0; i + 16 <= after; i += 16) _mm512_storeu_ps(dst + i, zero);
    _mm512_mask_storeu_ps(dst + i, (__mmask16)((1u << (after - i)) - 1), zero);
}

/* One line of col2im: dst[i * stride] += src[i] for i < count, vector-wide for strides 1 and 2. */
SG_TARGET static void sg_add_line(float* dst, const float* src, int count, int stride) {
    int i = 0;
    if (stride == 1) {
        for (; i < count; i += 16) {
            __mmask16 m = sg_mask(count - i);
            _mm512_mask_storeu_ps(dst + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst + i), _mm512_maskz_loadu_ps(m, src + i)));
        }
        return;
    }
    if (stride == 2) {  /* 8 sources spread to the even lanes of 16 destinations at a time */
        const __m512i spread = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
        for (; i < count; i += 8) {
            int left = count - i < 8 ? count - i : 8;
            __mmask16 evens = (__mmask16)(0x5555 & ((1u << (2 * left - 1)) - 1));
            __m512 add = _mm512_permutexvar_ps(spread, _mm512_castps256_ps512(_mm256_maskz_loadu_ps((__mmask8)((1u << left) - 1), src + i)));
            _mm512_mask_storeu_ps(dst + 2 * i, evens, _mm512_add_ps(_mm512_maskz_loadu_ps(evens, dst + 2 * i), add));
        }
        return;
    }
    for (; i < count; i++) dst[(ptrdiff_t)i * stride] += src[i];
}

/* Pack all of A (m x k) into MR-row panels over the full depth: ap needs sg_a_size(m, k) floats. */
SG_TARGET static void sg_pack_a(int m, int k, const float* a, ptrdiff_t a_row, ptrdiff_t a_col, float* ap) {
    for (int i = 0; i < m; i += SG_MR) {
        int rows = m - i < SG_MR ? m - i : SG_MR;
        sg_pack_panel(rows, k, a + i * a_row, a_row, NULL, a_col, ap + (ptrdiff_t)i * k, SG_MR);
    }
}

/* sg_pack_panel of rows of outputs seen on the position grid: M(r, p) = src[r * row + (s * ho + y) * wo + x] at
   grid position p0 + p = (s * hq + y) * wq + x where that holds an output, else 0; run by run of a grid line. */
SG_TARGET static void sg_pack_grid_panel(int rows, int k, const float* src, ptrdiff_t row, const sg_grid* g,
                                         ptrdiff_t p0, float* dst, int width) {
    const ptrdiff_t slice = (ptrdiff_t)g->hq * g->wq;
    for (int p = 0; p < k;) {
        ptrdiff_t q = p0 + p, s = q / slice;
        int y = (int)(q % slice) / g->wq, x = (int)(q % slice) % g->wq;
        int run = g->wq - x < k - p ? g->wq - x : k - p;
        int valid = y >= g->ho || x >= g->wo ? 0 : g->wo - x < run ? g->wo - x : run;
        if (valid > 0)
            sg_pack_panel(rows, valid, src + (s * g->ho + y) * (ptrdiff_t)g->wo + x, row, NULL, 1,
                          dst + (ptrdiff_t)p * width, width);
        memset(dst + (ptrdiff_t)(p + valid) * width, 0, (size_t)(run - valid) * width * sizeof(float));
        p += run;
    }
}

/* sg_pack_a of m rows of outputs seen on the position grid from p0 on (see sg_pack_grid_panel). */
SG_TARGET static void sg_pack_a_grid(int m, int k, const float* a, ptrdiff_t a_row, const sg_grid* g, ptrdiff_t p0,
                                     float* ap) {
    for (int i = 0; i < m; i += SG_MR)
        sg_pack_grid_panel(m - i < SG_MR ? m - i : SG_MR, k, a + i * a_row, a_row, g, p0, ap + (ptrdiff_t)i * k,
                           SG_MR);
}

#define SG_ACCUMULATE(b0, b1)                                   \
    _Pragma("GCC unroll 8")                                     \
    for (int i = 0; i < SG_MR; i++) {                           \
        __m512 a = _mm512_set1_ps(ap[i]);                       \
        acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);          \
        acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);          \
    }                                                           \
    ap += SG_MR;

/* One MR x NR tile: c = beta * c + bias + ap-panel x B over kc, only mr x nr of it stored (bias: one value
   per row, or NULL). Row p of B is the packed panel's (b + p * NR) or, with offsets, read in place at
   b + offsets[p], every element (step 1) or every other one (step 2; gathered by permutes), masked past nr. */
SG_TARGET static void sg_kernel(int kc, const float* ap, const float* b, const ptrdiff_t* offsets, int step,
                                const float* bias, float* c, ptrdiff_t ldc, float beta, int mr, int nr) {
    __m512 acc[SG_MR][2];
    __mmask16 m0 = sg_mask(nr), m1 = sg_mask(nr - 16);
#pragma GCC unroll 8
    for (int i = 0; i < SG_MR; i++) acc[i][0] = acc[i][1] = _mm512_set1_ps(bias && i < mr ? bias[i] : 0.0f);
    if (step == 2) {  /* positions j read elements 2j: the first 2 nr - 1 of the row */
        const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        int reach = 2 * nr - 1;
        __mmask16 q0 = sg_mask(reach), q1 = sg_mask(reach - 16), q2 = sg_mask(reach - 32), q3 = sg_mask(reach - 48);
        for (int p = 0; p < kc; p++) {
            const float* row = b + offsets[p];
            __m512 b0 = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(q0, row), evens, _mm512_maskz_loadu_ps(q1, row + 16));
            __m512 b1 = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(q2, row + 32), evens, _mm512_maskz_loadu_ps(q3, row + 48));
            SG_ACCUMULATE(b0, b1)
        }
    } else {
        for (int p = 0; p < kc; p++) {
            const float* row = offsets ? b + offsets[p] : b + p * SG_NR;
            __m512 b0 = _mm512_maskz_loadu_ps(m0, row), b1 = _mm512_maskz_loadu_ps(m1, row + 16);
            SG_ACCUMULATE(b0, b1)
        }
    }
    __m512 vbeta = _mm512_set1_ps(beta);
#pragma GCC unroll 8
    for (int i = 0; i < SG_MR; i++) {
        if (i >= mr) break;
        float* out = c + i * ldc;
        if (beta != 0.0f) {
            acc[i][0] = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(m0, out), acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(m1, out + 16), acc[i][1]);
        }
        _mm512_mask_storeu_ps(out, m0, acc[i][0]);
        _mm512_mask_storeu_ps(out + 16, m1, acc[i][1]);
    }
}

/* The implicit GEMM of a stride-1 conv: out = bias + A B over the wide positions j in [j0, j1) of the
   padded grid (slices of hp rows of wp columns), A packed by sg_pack_a (m filters x k taps), B(p, j) =
   b[offsets[p] + step * j] read in place from the padded input (split into stride phases where the
   conv is strided, so that step is the stride along W). Each 8 x 32 tile goes through a small buffer
   and only its outputs (row < ho, column < wo) reach out, channel i at out + i * out_plane, output
   (slice, row, column) at ((slice * ho) + row) * wo + column: no padded-grid output to crop afterwards. */
SG_TARGET static void sg_conv_tiles(int m, int j0, int j1, int k, const float* ap, const float* b,
                                    const ptrdiff_t* offsets, int step, const float* bias, float* out,
                                    ptrdiff_t out_plane, int wp, int wo, int hp, int ho) {
    float tile[SG_MR * SG_NR] __attribute__((aligned(64)));
    for (int j = j0; j < j1; j += SG_NR) {
        int cols = j1 - j < SG_NR ? j1 - j : SG_NR;
        for (int i = 0; i < m; i += SG_MR) {
            int mr = m - i < SG_MR ? m - i : SG_MR;
            sg_kernel(k, ap + (ptrdiff_t)i * k, b + (ptrdiff_t)step * j, offsets, step, bias ? bias + i : NULL, tile,
                      SG_NR, 0.0f, mr, cols);
            /* copy the tile's outputs line by line of the grid */
            int at = 0;
            while (at < cols) {
                int pos = j + at, slice = pos / (hp * wp), row = pos / wp % hp, col = pos % wp;
                int run = wp - col < cols - at ? wp - col : cols - at;
                int keep = row < ho ? (wo - col < run ? wo - col : run) : 0;
                if (keep > 0) {
                    __mmask16 k0 = keep >= 16 ? 0xFFFF : (__mmask16)((1u << keep) - 1);
                    __mmask16 k1 = keep >= 32 ? 0xFFFF : keep <= 16 ? 0 : (__mmask16)((1u << (keep - 16)) - 1);
                    float* dst = out + (ptrdiff_t)i * out_plane + ((ptrdiff_t)slice * ho + row) * wo + col;
                    for (int r = 0; r < mr; r++) {
                        const float* src = tile + r * SG_NR + at;
                        _mm512_mask_storeu_ps(dst + r * out_plane, k0, _mm512_maskz_loadu_ps(k0, src));
                        _mm512_mask_storeu_ps(dst + r * out_plane + 16, k1, _mm512_maskz_loadu_ps(k1, src + 16));
                    }
                }
                at += run;
            }
        }
    }
}

/* C = beta * C + bias + A B with A packed by sg_pack_a (m x k); bias: one value per row of C, or NULL;
   bwork: sg_b_work() floats. B(p, j) = b[p * b_row + j * b_col], or b[p * b_row + b_offsets[j]] when
   b_offsets is given. */
SG_TARGET static void sg_gemm_packed(int m, int n, int k, const float* ap, const float* b, ptrdiff_t b_row,
                                     ptrdiff_t b_col, const ptrdiff_t* b_offsets, float beta, const float* bias,
                                     float* c, ptrdiff_t ldc, float* bwork) {
    for (int jc = 0; jc < n; jc += SG_NC) {
        int nc = n - jc < SG_NC ? n - jc : SG_NC;
        for (int pc = 0; pc < k; pc += SG_KC) {
            int kc = k - pc < SG_KC ? k - pc : SG_KC;
            float step_beta = pc == 0 ? beta : 1.0f;
            for (int j = 0; j < nc; j += SG_NR) {
                int cols = nc - j < SG_NR ? nc - j : SG_NR;
                const float* start = b + (ptrdiff_t)pc * b_row;
                if (b_offsets)
                    sg_pack_panel(cols, kc, start, 0, b_offsets + jc + j, b_row, bwork + (ptrdiff_t)j * kc, SG_NR);
                else
                    sg_pack_panel(cols, kc, start + (ptrdiff_t)(jc + j) * b_col, b_col, NULL, b_row,
                                  bwork + (ptrdiff_t)j * kc, SG_NR);
            }
            for (int ic = 0; ic < m; ic += SG_MC)  /* MC rows of A (in L2) against every B panel (in L1) */
                for (int j = 0; j < nc; j += SG_NR) {
                    int cols = nc - j < SG_NR ? nc - j : SG_NR;
                    for (int i = ic; i < m && i < ic + SG_MC; i += SG_MR)
                        sg_kernel(kc, ap + (ptrdiff_t)i * k + (ptrdiff_t)pc * SG_MR, bwork + (ptrdiff_t)j * kc, NULL,
                                  1, bias && pc == 0 ? bias + i : NULL, c + (ptrdiff_t)i * ldc + jc + j, ldc, step_beta,
                                  m - i < SG_MR ? m - i : SG_MR, cols);
                }
        }
    }
}

/* One MR x NR tile c += A B over kc, A's rows read in place: A(i, p) = a[i][p * a_step] (rows past mr repeat
   row 0 and are not stored), B the packed panel (b + p * NR), masked past nr. */
SG_TARGET static void sg_kernel_rows(int kc, const float* const* a, int a_step, const float* b, float* c,
                                     ptrdiff_t ldc, int mr, int nr) {
    __m512 acc[SG_MR][2];
    __mmask16 m0 = sg_mask(nr), m1 = sg_mask(nr - 16);
    const float* rows[SG_MR];
#pragma GCC unroll 8
    for (int i = 0; i < SG_MR; i++) {
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
        rows[i] = a[i < mr ? i : 0];
    }
    for (int p = 0; p < kc; p++) {
        __m512 b0 = _mm512_loadu_ps(b + p * SG_NR), b1 = _mm512_loadu_ps(b + p * SG_NR + 16);
        ptrdiff_t at = (ptrdiff_t)p * a_step;
#pragma GCC unroll 8
        for (int i = 0; i < SG_MR; i++) {
            __m512 ai = _mm512_set1_ps(rows[i][at]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < SG_MR; i++) {
        if (i >= mr) break;
        float* out = c + i * ldc;
        _mm512_mask_storeu_ps(out, m0, _mm512_add_ps(acc[i][0], _mm512_maskz_loadu_ps(m0, out)));
        _mm512_mask_storeu_ps(out + 16, m1, _mm512_add_ps(acc[i][1], _mm512_maskz_loadu_ps(m1, out + 16)));
    }
}

/* C (m x n, row stride ldc) += A B with A read in place, A(i, p) = a[a_offsets[i] + p * a_step] (the taps of a
   padded input, every element or every other one), and B(p, j) row j of grad_out (b + j * b_row) seen on the
   position grid from p0 on, packed here NR columns at a time, KC deep; bwork: sg_b_work() floats. The weight
   gradient's product without packing its deep operand: only grad_out, n = filters wide, is packed. */
SG_TARGET static void sg_gemm_rows(int m, int n, int k, const float* a, const ptrdiff_t* a_offsets, int a_step,
                                   const float* b, ptrdiff_t b_row, const sg_grid* grid, ptrdiff_t p0, float* c,
                                   ptrdiff_t ldc, float* bwork) {
    for (int jc = 0; jc < n; jc += SG_NC) {
        int nc = n - jc < SG_NC ? n - jc : SG_NC;
        for (int pc = 0; pc < k; pc += SG_KC) {
            int kc = k - pc < SG_KC ? k - pc : SG_KC;
            for (int j = 0; j < nc; j += SG_NR) {
                int cols = nc - j < SG_NR ? nc - j : SG_NR;
                sg_pack_grid_panel(cols, kc, b + (ptrdiff_t)(jc + j) * b_row, b_row, grid, p0 + pc,
                                   bwork + (ptrdiff_t)j * kc, SG_NR);
            }
            for (int i = 0; i < m; i += SG_MR) {
                int mr = m - i < SG_MR ? m - i : SG_MR;
                const float* rows[SG_MR];
                for (int r = 0; r < mr; r++) rows[r] = a + a_offsets[i + r] + (ptrdiff_t)pc * a_step;
                for (int j = 0; j < nc; j += SG_NR)
                    sg_kernel_rows(kc, rows, a_step, bwork + (ptrdiff_t)j * kc, c + (ptrdiff_t)i * ldc + jc + j, ldc,
                                   mr, nc - j < SG_NR ? nc - j : SG_NR);
            }
        }
    }
}

/* Lanes lo .. hi - 1 of a 16-lane vector. */
static inline __mmask16 sg_lanes(int lo, int hi) { return (__mmask16)(sg_mask(hi) & ~sg_mask(lo)); }

/* Depthwise (one input channel per filter), stride 1, reading the unpadded input plane src (D, H, W) in place:
   output rows r = row0 .. row0 + rows - 1 of the (Do, Ho) grid, columns col0 .. col0 + width - 1 of Wo:
   dst[r, ox] = bias + sum over taps t = (kz, ky, kx) of w[t] * src[(oz, oy, ox) + k * dilation - pad],
   zero outside the plane. A tap whose input row is outside the plane in depth or height is skipped for the
   whole output row; along W, the lanes outside the row are masked off (masked lanes are never read), except in
   blocks whose every tap lies inside. No padded copy of the input: a depthwise conv does so little per element
   that writing and re-reading one took as long as the conv. 64 outputs at a time in registers. */
SG_TARGET static void sg_depthwise(const sg_window* g, int row0, int rows, int col0, int width, const float* w,
                                   const float* src, float bias, float* dst) {
    const int D = g->input[0], H = g->input[1], W = g->input[2], Ho = g->output[1];
    const int kd = g->kernel[0], kh = g->kernel[1], kw = g->kernel[2];
    const int dz = g->dilation[0], dy = g->dilation[1], dx = g->dilation[2];
    const int pz = g->pad[0], py = g->pad[1], px = g->pad[2];
    const int inner_lo = px, inner_hi = W + px - (kw - 1) * dx;  /* outputs whose taps all lie inside a row */
    for (int r = row0; r < row0 + rows; r++) {
        const int oz = r / Ho, oy = r % Ho;
        float* out = dst + (ptrdiff_t)r * g->output[2];
        for (int j = col0; j < col0 + width; j += 64) {
            const int n = col0 + width - j < 64 ? col0 + width - j : 64;
            const int inner = j >= inner_lo && j + n <= inner_hi;
            __m512 acc[4];
            __mmask16 mask[4];
            for (int v = 0; v < 4; v++) {
                mask[v] = sg_mask(n - 16 * v);
                acc[v] = _mm512_set1_ps(bias);
            }
            if (kd == 1 && kh == 1) {  /* one input row per output row (signals): its taps, no row checks */
                const int iz = oz - pz, iy = oy - py;
                const float* line = src + ((ptrdiff_t)iz * H + iy) * W + j - px;
                for (int kx = 0; iz >= 0 && iz < D && iy >= 0 && iy < H && kx < kw; kx++) {
                    const __m512 wt = _mm512_set1_ps(w[kx]);
#pragma GCC unroll 4
                    for (int v = 0; v < 4; v++) {
                        const int ix = j + kx * dx - px + 16 * v;
                        const __mmask16 m = inner ? mask[v] : mask[v] & sg_lanes(-ix, W - ix);
                        acc[v] = _mm512_fmadd_ps(wt, _mm512_maskz_loadu_ps(m, line + kx * dx + 16 * v), acc[v]);
                    }
                }
            } else {  /* each kx's lane masks made once, for every input row it meets */
                for (int kx = 0; kx < kw; kx++) {
                    const int ix = j + kx * dx - px;
                    __mmask16 m[4];
                    for (int v = 0; v < 4; v++)
                        m[v] = inner ? mask[v] : mask[v] & sg_lanes(-ix - 16 * v, W - ix - 16 * v);
                    for (int kz = 0; kz < kd; kz++) {
                        const int iz = oz + kz * dz - pz;
                        if (iz < 0 || iz >= D) continue;
                        for (int ky = 0; ky < kh; ky++) {
                            const int iy = oy + ky * dy - py;
                            if (iy < 0 || iy >= H) continue;
                            const float* in = src + ((ptrdiff_t)iz * H + iy) * W + ix;
                            const __m512 wt = _mm512_set1_ps(w[(kz * kh + ky) * kw + kx]);
#pragma GCC unroll 4
                            for (int v = 0; v < 4; v++)
                                acc[v] = _mm512_fmadd_ps(wt, _mm512_maskz_loadu_ps(m[v], in + 16 * v), acc[v]);
                        }
                    }
                }
            }
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++) _mm512_mask_storeu_ps(out + j + 16 * v, mask[v], acc[v]);
        }
    }
}

/* grad_w[t] += sum over the rows of g[r, i] * src[base(r) + offsets[t] + i] for `taps` (a constant once
   inlined: the accumulators then stay in registers) taps at once. */
SG_TARGET static inline __attribute__((always_inline)) void sg_taps_weight(
        const int taps, int rows, int width, int per_slice, ptrdiff_t slice, ptrdiff_t src_row, ptrdiff_t g_row,
        const float* g, const ptrdiff_t* offsets, const float* src, float* grad_w) {
    __m512 acc[16];
    for (int t = 0; t < taps; t++) acc[t] = _mm512_setzero_ps();
    int depth = 0, row = 0;
    for (int r = 0; r < rows; r++) {
        const float* line = src + depth * slice + (ptrdiff_t)row * src_row;
        if (++row == per_slice) { row = 0; depth++; }
        for (int j = 0; j < width; j += 16) {
            __mmask16 mask = sg_mask(width - j);
            __m512 gj = _mm512_maskz_loadu_ps(mask, g + (ptrdiff_t)r * g_row + j);
            for (int t = 0; t < taps; t++)
                acc[t] = _mm512_fmadd_ps(gj, _mm512_maskz_loadu_ps(mask, line + offsets[t] + j), acc[t]);
        }
    }
    for (int t = 0; t < taps; t++) grad_w[t] += _mm512_reduce_add_ps(acc[t]);
}

/* The depthwise weight gradient over the same rows as sg_depthwise: grad_w[t] += sum over r, i of g[r, i] *
   src[base(r) + offsets[t] + i] (g's row stride g_row), 16 taps at a time, then 8, 4, 2, 1. */
SG_TARGET static void sg_depthwise_weight(int rows, int width, int per_slice, ptrdiff_t slice, ptrdiff_t src_row,
                                          ptrdiff_t g_row, int taps, const float* g, const ptrdiff_t* offsets,
                                          const float* src, float* grad_w) {
    int t = 0;
    for (; t + 16 <= taps; t += 16)
        sg_taps_weight(16, rows, width, per_slice, slice, src_row, g_row, g, offsets + t, src, grad_w + t);
    if (t + 8 <= taps) {
        sg_taps_weight(8, rows, width, per_slice, slice, src_row, g_row, g, offsets + t, src, grad_w + t);
        t += 8;
    }
    if (t + 4 <= taps) {
        sg_taps_weight(4, rows, width, per_slice, slice, src_row, g_row, g, offsets + t, src, grad_w + t);
        t += 4;
    }
    if (t + 2 <= taps) {
        sg_taps_weight(2, rows, width, per_slice, slice, src_row, g_row, g, offsets + t, src, grad_w + t);
        t += 2;
    }
    if (t < taps) sg_taps_weight(1, rows, width, per_slice, slice, src_row, g_row, g, offsets + t, src, grad_w + t);
}

#else  /* no GCC-style AVX-512 support: callers fall back to BLAS */
static inline int sg_available(void) { return 0; }
static void sg_pack_a(int m, int k, const float* a, ptrdiff_t a_row, ptrdiff_t a_col, float* ap) {}
static void sg_gemm_packed(int m, int n, int k, const float* ap, const float* b, ptrdiff_t b_row,
                           ptrdiff_t b_col, const ptrdiff_t* b_offsets, float beta, const float* bias, float* c,
                           ptrdiff_t ldc, float* bwork) {}
static void sg_conv_tiles(int m, int j0, int j1, int k, const float* ap, const float* b, const ptrdiff_t* offsets,
                          int step, const float* bias, float* out, ptrdiff_t out_plane, int wp, int wo, int hp,
                          int ho) {}
static void sg_gemm_rows(int m, int n, int k, const float* a, const ptrdiff_t* a_offsets, int a_step,
                         const float* b, ptrdiff_t b_row, const sg_grid* grid, ptrdiff_t p0, float* c, ptrdiff_t ldc,
                         float* bwork) {}
static void sg_pack_a_grid(int m, int k, const float* a, ptrdiff_t a_row, const sg_grid* g, ptrdiff_t p0, float* ap) {}
static void sg_line(float* dst, const float* src, int before, int count, int stride, int after) {}
static void sg_add_line(float* dst, const float* src, int count, int stride) {}
static void sg_depthwise(const sg_window* g, int row0, int rows, int col0, int width, const float* w,
                         const float* src, float bias, float* dst) {}
static void sg_depthwise_weight(int rows, int width, int per_slice, ptrdiff_t slice, ptrdiff_t src_row,
                                ptrdiff_t g_row, int taps, const float* g, const ptrdiff_t* offsets, const float* src,
                                float* grad_w) {}
#endif

#endif
