// AVX-512 ports of the training cell kernels (`lstmCellForward`, `lstmCellBackward` in
// LSTMKit/Training/TrainingKernels.swift and the cell update `lstmCellIFGO` with `Activations.exp`
// in LSTMKit). Every operation is the Swift reference's, in its order: a product and a sum stay
// two roundings where Swift writes `a * b + c`, a fused multiply-add is used exactly where Swift
// calls `addingProduct`, and the clamps are compare-and-blend as Swift's `replacing(with:where:)`.
// So both give the same bits (tested in CellKernelTests), and a run is reproducible across ISA paths.
#include "LSTMKernelsC.h"

#include <immintrin.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))

AVX512 static inline __m512 clampAbove(__m512 x, float limit) {
    __m512 l = _mm512_set1_ps(limit);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, l, _CMP_GT_OQ), x, l);
}

AVX512 static inline __m512 clampBelow(__m512 x, float limit) {
    __m512 l = _mm512_set1_ps(limit);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, l, _CMP_LT_OQ), x, l);
}

// `Activations.exp`: Cody–Waite reduction, degree-6 polynomial, 2^n from the exponent bits.
AVX512 static inline __m512 exp512(__m512 x) {
    x = clampBelow(clampAbove(x, 88.0f), -87.0f);
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    __m512 shifted = _mm512_add_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(0.44269504f), x), magic);
    __m512 n = _mm512_sub_ps(shifted, magic);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693359375f), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.1219444e-4f), r);
    __m512 p = _mm512_set1_ps(1.3888889e-3f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3333333e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1666666e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666667e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    __m512i bits = _mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_castps_si512(magic));
    __m512 power = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(bits, _mm512_set1_epi32(127)), 23));
    return _mm512_mul_ps(p, power);
}

AVX512 static inline __m512 clampGate(__m512 x) { return clampBelow(clampAbove(x, 20.0f), -20.0f); }

// The cell update of 16 units, shared by the kernels below: from the gate pre-activations and the
// previous cell, the terms every output is made of (`1 + e^-i`, `1 + e^-f`, `e^-2g`, `1 + e^-o`),
// the next cell, and `e^-2c` of the next cell.
typedef struct {
    __m512 ei, ef, eg, eo, next, ec;
} CellTerms;

AVX512 static inline CellTerms cellTerms(__m512 i, __m512 f, __m512 g, __m512 o, __m512 c) {
    const __m512 one = _mm512_set1_ps(1.0f), minusTwo = _mm512_set1_ps(-2.0f);
    const __m512 signBit = _mm512_set1_ps(-0.0f);
    CellTerms t;
    t.ei = _mm512_add_ps(one, exp512(_mm512_xor_ps(clampGate(i), signBit)));
    t.ef = _mm512_add_ps(one, exp512(_mm512_xor_ps(clampGate(f), signBit)));
    t.eg = exp512(_mm512_mul_ps(minusTwo, clampGate(g)));
    __m512 ig = _mm512_mul_ps(t.ei, _mm512_add_ps(one, t.eg));
    t.next = _mm512_div_ps(
        _mm512_add_ps(_mm512_mul_ps(c, ig), _mm512_mul_ps(_mm512_sub_ps(one, t.eg), t.ef)), _mm512_mul_ps(t.ef, ig));
    t.ec = exp512(_mm512_mul_ps(minusTwo, clampGate(t.next)));
    t.eo = _mm512_add_ps(one, exp512(_mm512_xor_ps(clampGate(o), signBit)));
    return t;
}

// `o · tanh(c)` of the next cell from its terms.
AVX512 static inline __m512 cellHidden(CellTerms t) {
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(_mm512_sub_ps(one, t.ec), _mm512_mul_ps(t.eo, _mm512_add_ps(one, t.ec)));
}

AVX512 void lstmd_cell_forward_avx512(
    float *hidden, float *cell, float *tanhCell, float *gates, const float *bias, const float *previousCell,
    int64_t h) {
    const __m512 one = _mm512_set1_ps(1.0f);
    float *gi = gates, *gf = gates + h, *gg = gates + 2 * h, *go = gates + 3 * h;
    for (int64_t j = 0; j < h; j += 16) {
        __m512 i = _mm512_add_ps(_mm512_loadu_ps(gi + j), _mm512_loadu_ps(bias + j));
        __m512 f = _mm512_add_ps(_mm512_loadu_ps(gf + j), _mm512_loadu_ps(bias + h + j));
        __m512 g = _mm512_add_ps(_mm512_loadu_ps(gg + j), _mm512_loadu_ps(bias + 2 * h + j));
        __m512 o = _mm512_add_ps(_mm512_loadu_ps(go + j), _mm512_loadu_ps(bias + 3 * h + j));
        CellTerms t = cellTerms(i, f, g, o, _mm512_loadu_ps(previousCell + j));
        _mm512_storeu_ps(gi + j, _mm512_div_ps(one, t.ei));
        _mm512_storeu_ps(gf + j, _mm512_div_ps(one, t.ef));
        _mm512_storeu_ps(gg + j, _mm512_div_ps(_mm512_sub_ps(one, t.eg), _mm512_add_ps(one, t.eg)));
        _mm512_storeu_ps(go + j, _mm512_div_ps(one, t.eo));
        _mm512_storeu_ps(cell + j, t.next);
        _mm512_storeu_ps(tanhCell + j, _mm512_div_ps(_mm512_sub_ps(one, t.ec), _mm512_add_ps(one, t.ec)));
        _mm512_storeu_ps(hidden + j, cellHidden(t));
    }
}

AVX512 void lstmd_cell_backward_avx512(
    float *gateGradient, float *cellGradient, const float *hiddenGradient, const float *gates, const float *tanhCell,
    const float *previousCell, int64_t h) {
    const __m512 one = _mm512_set1_ps(1.0f);
    const float *gi = gates, *gf = gates + h, *gg = gates + 2 * h, *go = gates + 3 * h;
    float *di = gateGradient, *df = gateGradient + h, *dg = gateGradient + 2 * h, *dout = gateGradient + 3 * h;
    for (int64_t j = 0; j < h; j += 16) {
        __m512 i = _mm512_loadu_ps(gi + j), f = _mm512_loadu_ps(gf + j);
        __m512 g = _mm512_loadu_ps(gg + j), o = _mm512_loadu_ps(go + j);
        __m512 tc = _mm512_loadu_ps(tanhCell + j), dh = _mm512_loadu_ps(hiddenGradient + j);
        __m512 dc = _mm512_add_ps(
            _mm512_loadu_ps(cellGradient + j),
            _mm512_mul_ps(_mm512_mul_ps(dh, o), _mm512_sub_ps(one, _mm512_mul_ps(tc, tc))));
        _mm512_storeu_ps(di + j, _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(dc, g), i), _mm512_sub_ps(one, i)));
        _mm512_storeu_ps(
            df + j,
            _mm512_mul_ps(
                _mm512_mul_ps(_mm512_mul_ps(dc, _mm512_loadu_ps(previousCell + j)), f), _mm512_sub_ps(one, f)));
        _mm512_storeu_ps(dg + j, _mm512_mul_ps(_mm512_mul_ps(dc, i), _mm512_sub_ps(one, _mm512_mul_ps(g, g))));
        _mm512_storeu_ps(dout + j, _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(dh, tc), o), _mm512_sub_ps(one, o)));
        _mm512_storeu_ps(cellGradient + j, _mm512_mul_ps(dc, f));
    }
}

AVX512 void lstmd_cell_blocks_avx512(float *hidden, float *cell, const float *a, const float *b, int64_t blocks) {
    for (int64_t block = 0; block < blocks; block++) {
        const float *p = a + block * 64;
        __m512 i = _mm512_loadu_ps(p), f = _mm512_loadu_ps(p + 16);
        __m512 g = _mm512_loadu_ps(p + 32), o = _mm512_loadu_ps(p + 48);
        if (b) {
            const float *q = b + block * 64;
            i = _mm512_add_ps(i, _mm512_loadu_ps(q));
            f = _mm512_add_ps(f, _mm512_loadu_ps(q + 16));
            g = _mm512_add_ps(g, _mm512_loadu_ps(q + 32));
            o = _mm512_add_ps(o, _mm512_loadu_ps(q + 48));
        }
        CellTerms t = cellTerms(i, f, g, o, _mm512_loadu_ps(cell + block * 16));
        _mm512_storeu_ps(cell + block * 16, t.next);
        _mm512_storeu_ps(hidden + block * 16, cellHidden(t));
    }
}

// The fused steps below: rows per register group (4 gates × 6 rows = 24 accumulators, plus the 4
// weight vectors) and rows per panel (whose new h wait in scratch while the panel's older h are
// still read by the products of its other blocks).
#define GROUP 6
#define PANEL 48

// What a fused step reads besides h: the batched step's input x [rows × kx] with W_x and the
// bias, or the window forward's precomputed input pre-activations, one row pointer each.
typedef struct {
    const float *x, *wx, *bias;
    int64_t kx;
    const float *const *pre;
} StepInput;

// `acc[r][g] += Σ_p a[r·lda + p] · w[p·n + 16g]` for p in order, one fused multiply-add per term.
AVX512 static inline __attribute__((always_inline)) void accumulateGroup(
    const int rows, __m512 acc[GROUP][4], const float *a, int64_t lda, const float *w, int64_t k, int64_t n) {
    for (int64_t p = 0; p < k; p++, w += n) {
        __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + 16), w2 = _mm512_loadu_ps(w + 32),
               w3 = _mm512_loadu_ps(w + 48);
        for (int r = 0; r < rows; r++) {
            __m512 x = _mm512_set1_ps(a[r * lda + p]);
            acc[r][0] = _mm512_fmadd_ps(x, w0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(x, w1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(x, w2, acc[r][2]);
            acc[r][3] = _mm512_fmadd_ps(x, w3, acc[r][3]);
        }
    }
}

// One group of `rows` (≤ GROUP) rows starting at row `r0` and one block of 16 units, then the
// cell update; `window` is a constant at every call, so each variant compiles to its own loop.
// - batched step: the gates are bias, then Σ x·W_x, then Σ h·W_h in registers, as
//   `lstmd_recurrent_product_avx512` adds them to a bias-filled C;
// - window forward: Σ h·W_h from zero (skipped on the first step, h = 0), then `pre + product` as
//   `lstmd_cell_blocks_avx512` adds `a = pre` and `b = product`.
AVX512 static inline __attribute__((always_inline)) void stepGroup(
    const int rows, const int window, float *out, float *cell, StepInput in, int64_t r0, const float *h, int64_t hp,
    const float *wh, int64_t block, int product) {
    const int64_t n = 4 * hp, column = block * 64;
    __m512 acc[GROUP][4];
    for (int g = 0; g < 4; g++) {
        __m512 start = window ? _mm512_setzero_ps() : _mm512_loadu_ps(in.bias + column + 16 * g);
        for (int r = 0; r < rows; r++) acc[r][g] = start;
    }
    if (!window) accumulateGroup(rows, acc, in.x + r0 * in.kx, in.kx, in.wx + column, in.kx, n);
    if (product) accumulateGroup(rows, acc, h, hp, wh + column, hp, n);
    for (int r = 0; r < rows; r++) {
        __m512 i = acc[r][0], f = acc[r][1], g = acc[r][2], o = acc[r][3];
        if (window) {
            const float *q = in.pre[r0 + r] + column;
            __m512 pi = _mm512_loadu_ps(q), pf = _mm512_loadu_ps(q + 16);
            __m512 pg = _mm512_loadu_ps(q + 32), po = _mm512_loadu_ps(q + 48);
            i = product ? _mm512_add_ps(pi, i) : pi;
            f = product ? _mm512_add_ps(pf, f) : pf;
            g = product ? _mm512_add_ps(pg, g) : pg;
            o = product ? _mm512_add_ps(po, o) : po;
        }
        float *cr = cell + r * hp + block * 16;
        CellTerms t = cellTerms(i, f, g, o, _mm512_loadu_ps(cr));
        _mm512_storeu_ps(cr, t.next);
        _mm512_storeu_ps(out + r * hp + block * 16, cellHidden(t));
    }
}

// Both fused steps: panels of rows, blocks of units, groups of rows; the panel's new h go to
// scratch and replace its h once every block has read them.
AVX512 static inline __attribute__((always_inline)) void fusedSteps(
    const int window, float *hidden, float *cell, StepInput in, const float *wh, int64_t m, int64_t hp, int product,
    float *scratch) {
    for (int64_t start = 0; start < m; start += PANEL) {
        int64_t rows = m - start < PANEL ? m - start : PANEL;
        for (int64_t block = 0; block < hp / 16; block++) {
            for (int64_t group = 0; group < rows; group += GROUP) {
                int64_t r = start + group;
                float *o = scratch + group * hp, *c = cell + r * hp;
                const float *hr = hidden + r * hp;
                switch (rows - group < GROUP ? rows - group : GROUP) {
                case 6: stepGroup(6, window, o, c, in, r, hr, hp, wh, block, product); break;
                case 5: stepGroup(5, window, o, c, in, r, hr, hp, wh, block, product); break;
                case 4: stepGroup(4, window, o, c, in, r, hr, hp, wh, block, product); break;
                case 3: stepGroup(3, window, o, c, in, r, hr, hp, wh, block, product); break;
                case 2: stepGroup(2, window, o, c, in, r, hr, hp, wh, block, product); break;
                default: stepGroup(1, window, o, c, in, r, hr, hp, wh, block, product); break;
                }
            }
        }
        memcpy(hidden + start * hp, scratch, (size_t)(rows * hp) * sizeof(float));
    }
}

AVX512 void lstmd_batch_step_avx512(
    float *hidden, float *cell, const float *x, int64_t kx, const float *wx, const float *wh, const float *bias,
    int64_t m, int64_t hp, float *scratch) {
    StepInput in = {.x = x, .wx = wx, .bias = bias, .kx = kx, .pre = NULL};
    fusedSteps(0, hidden, cell, in, wh, m, hp, 1, scratch);
}

AVX512 void lstmd_window_step_avx512(
    float *hidden, float *cell, const float *const *pre, const float *wh, int64_t m, int64_t hp, int first,
    float *scratch) {
    StepInput in = {.x = NULL, .wx = NULL, .bias = NULL, .kx = 0, .pre = pre};
    if (first) {
        fusedSteps(1, hidden, cell, in, wh, m, hp, 0, scratch);
    } else {
        fusedSteps(1, hidden, cell, in, wh, m, hp, 1, scratch);
    }
}
