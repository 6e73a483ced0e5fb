#include "LSTMKernelsC.h"

#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))

// One 16-column block of `rows` (≤ 8) rows: the AVX-512 kernel's remainder.
AVX512 static inline void block16_avx512(
    float *c, int64_t ldc, const float *a, int64_t lda, const float *bColumn, int64_t ldb, int64_t rows, int64_t k,
    int accumulate) {
    __m512 s[8];
    for (int64_t r = 0; r < rows; r++) s[r] = accumulate ? _mm512_loadu_ps(c + r * ldc) : _mm512_setzero_ps();
    const float *bRow = bColumn;
    for (int64_t p = 0; p < k; p++, bRow += ldb) {
        __m512 w = _mm512_loadu_ps(bRow);
        for (int64_t r = 0; r < rows; r++) s[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r * lda + p]), w, s[r]);
    }
    for (int64_t r = 0; r < rows; r++) _mm512_storeu_ps(c + r * ldc, s[r]);
}

// AVX-512: rows in groups of 8, 32 columns (two zmm) per row: 16 accumulators of the 32 zmm.
AVX512 void lstmd_recurrent_product_avx512(
    float *c, int64_t ldc, const float *a, int64_t lda, const float *b, int64_t ldb, int64_t m, int64_t k,
    int64_t n, int accumulate) {
    int64_t column = 0;
    for (; column + 32 <= n; column += 32) {
        const float *bColumn = b + column;
        int64_t row = 0;
        for (; row + 8 <= m; row += 8) {
            __m512 lo[8], hi[8];
            for (int r = 0; r < 8; r++) {
                float *cr = c + (row + r) * ldc + column;
                lo[r] = accumulate ? _mm512_loadu_ps(cr) : _mm512_setzero_ps();
                hi[r] = accumulate ? _mm512_loadu_ps(cr + 16) : _mm512_setzero_ps();
            }
            const float *ar = a + row * lda;
            const float *bRow = bColumn;
            for (int64_t p = 0; p < k; p++, bRow += ldb) {
                __m512 w0 = _mm512_loadu_ps(bRow), w1 = _mm512_loadu_ps(bRow + 16);
                for (int r = 0; r < 8; r++) {
                    __m512 x = _mm512_set1_ps(ar[r * lda + p]);
                    lo[r] = _mm512_fmadd_ps(x, w0, lo[r]);
                    hi[r] = _mm512_fmadd_ps(x, w1, hi[r]);
                }
            }
            for (int r = 0; r < 8; r++) {
                float *cr = c + (row + r) * ldc + column;
                _mm512_storeu_ps(cr, lo[r]);
                _mm512_storeu_ps(cr + 16, hi[r]);
            }
        }
        for (; row < m; row += 8) {
            int64_t rows = m - row < 8 ? m - row : 8;
            for (int half = 0; half < 2; half++) {
                block16_avx512(
                    c + row * ldc + column + 16 * half, ldc, a + row * lda, lda, bColumn + 16 * half, ldb, rows, k,
                    accumulate);
            }
        }
    }
    for (; column < n; column += 16) {
        for (int64_t row = 0; row < m; row += 8) {
            int64_t rows = m - row < 8 ? m - row : 8;
            block16_avx512(c + row * ldc + column, ldc, a + row * lda, lda, b + column, ldb, rows, k, accumulate);
        }
    }
}
