/* The transforms of Winograd's F(2x2, 3x3) in float32 with AVX-512, 16 tiles of a tile row at a time
   (ops/_native/winograd.pyx's conv_winograd; its scalar loops do the same for float64 and other CPUs).

   wg_input:  v[e * ld + t] = (B^T d B)[e], d the 4x4 patch at rows 2 ty .. 2 ty + 3, columns 2 tx .. 2 tx + 3
              of the padded plane, B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]];
   wg_output: the 2x2 outputs bias + A^T M A of each tile, A^T = [[1, 1, 1, 0], [0, 1, -1, -1]], written
              where they fall inside the (Ho, Wo) output.
   A patch row's four columns for 16 tiles are the even and odd elements of two overlapping 32-float loads,
   gathered by permutes; the outputs' two columns are interleaved back the same way. */
#ifndef CONVREF_WINOGRAD_H
#define CONVREF_WINOGRAD_H

#include "sgemm.h"

#if defined(__GNUC__) && defined(__x86_64__)

SG_TARGET static void wg_input(const float* plane, ptrdiff_t wq, int ty0, int rows, int tw, float* v, ptrdiff_t ld) {
    const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odds = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (int r = 0; r < rows; r++) {
        for (int t0 = 0; t0 < tw; t0 += 16) {
            const float* p = plane + (ptrdiff_t)2 * (ty0 + r) * wq + 2 * t0;
            int reach = (int)(wq - 2 * t0);  /* floats of the row from p on: no load passes them */
            __mmask16 m0 = sg_mask(reach), m1 = sg_mask(reach - 16), m2 = sg_mask(reach - 2), m3 = sg_mask(reach - 18);
            __m512 d[4][4];
            for (int i = 0; i < 4; i++) {
                const float* row = p + i * wq;
                __m512 lo = _mm512_maskz_loadu_ps(m0, row), hi = _mm512_maskz_loadu_ps(m1, row + 16);
                __m512 lo2 = _mm512_maskz_loadu_ps(m2, row + 2), hi2 = _mm512_maskz_loadu_ps(m3, row + 18);
                d[i][0] = _mm512_permutex2var_ps(lo, evens, hi);
                d[i][1] = _mm512_permutex2var_ps(lo, odds, hi);
                d[i][2] = _mm512_permutex2var_ps(lo2, evens, hi2);
                d[i][3] = _mm512_permutex2var_ps(lo2, odds, hi2);
            }
            __m512 b[4][4];  /* B^T d */
            for (int j = 0; j < 4; j++) {
                b[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
                b[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
                b[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
                b[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
            }
            __mmask16 keep = sg_mask(tw - t0);
            float* out = v + (ptrdiff_t)r * tw + t0;
            for (int i = 0; i < 4; i++) {  /* (B^T d) B */
                _mm512_mask_storeu_ps(out + (4 * i) * ld, keep, _mm512_sub_ps(b[i][0], b[i][2]));
                _mm512_mask_storeu_ps(out + (4 * i + 1) * ld, keep, _mm512_add_ps(b[i][1], b[i][2]));
                _mm512_mask_storeu_ps(out + (4 * i + 2) * ld, keep, _mm512_sub_ps(b[i][2], b[i][1]));
                _mm512_mask_storeu_ps(out + (4 * i + 3) * ld, keep, _mm512_sub_ps(b[i][1], b[i][3]));
            }
        }
    }
}

SG_TARGET static void wg_output(const float* m, ptrdiff_t ld, float bias, int ty0, int rows, int tw, float* out,
                                int ho, int wo) {
    const __m512i low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512 vbias = _mm512_set1_ps(bias);
    for (int r = 0; r < rows; r++) {
        int oy = 2 * (ty0 + r);
        for (int t0 = 0; t0 < tw; t0 += 16) {
            __mmask16 keep = sg_mask(tw - t0);
            const float* at = m + (ptrdiff_t)r * tw + t0;
            __m512 s[2][4];  /* A^T M */
            for (int j = 0; j < 4; j++) {
                __m512 m0 = _mm512_maskz_loadu_ps(keep, at + j * ld), m1 = _mm512_maskz_loadu_ps(keep, at + (4 + j) * ld);
                __m512 m2 = _mm512_maskz_loadu_ps(keep, at + (8 + j) * ld), m3 = _mm512_maskz_loadu_ps(keep, at + (12 + j) * ld);
                s[0][j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
                s[1][j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
            }
            int ox = 2 * t0;
            __mmask16 c0 = sg_mask(wo - ox), c1 = sg_mask(wo - ox - 16);
            for (int i = 0; i < 2 && oy + i < ho; i++) {  /* (A^T M) A, the two columns interleaved */
                __m512 left = _mm512_add_ps(vbias, _mm512_add_ps(_mm512_add_ps(s[i][0], s[i][1]), s[i][2]));
                __m512 right = _mm512_add_ps(vbias, _mm512_sub_ps(_mm512_sub_ps(s[i][1], s[i][2]), s[i][3]));
                float* line = out + (ptrdiff_t)(oy + i) * wo + ox;
                _mm512_mask_storeu_ps(line, c0, _mm512_permutex2var_ps(left, low, right));
                _mm512_mask_storeu_ps(line + 16, c1, _mm512_permutex2var_ps(left, high, right));
            }
        }
    }
}

#else  /* no GCC-style AVX-512 support: the callers use their scalar loops */
static void wg_input(const float* plane, ptrdiff_t wq, int ty0, int rows, int tw, float* v, ptrdiff_t ld) {}
static void wg_output(const float* m, ptrdiff_t ld, float bias, int ty0, int rows, int tw, float* out, int ho,
                      int wo) {}
#endif

#endif
