// lstmd's hand-written kernels in C for instruction sets beyond the package's x86-64-v3 baseline,
// each compiled for its own target with a function attribute so one portable binary carries them. The Swift
// kernels in LSTMKit are the reference these are tested against; LSTMKit picks a variant once,
// from the CPU's flags (`ISA.current`).
#ifndef LSTMD_KERNELS_C_H
#define LSTMD_KERNELS_C_H

#include <stdint.h>

/// `C[m×n] (+)= A[m×k]·B[k×n]`, all row-major, `n` a multiple of 16: the per-timestep recurrent
/// product of the training passes (the Swift `recurrentProduct`, which stays the AVX2 path: a
/// 6-row AVX2 C variant measured no faster). 8 rows × 32 columns in 16 zmm accumulators; every
/// element accumulates `Σ_p A[r,p]·B[p,j]` in order of `p` with one fused multiply-add per term,
/// exactly as the Swift kernel does, so both give the same bits. `accumulate`: nonzero adds to C
/// (beta = 1), zero overwrites it (beta = 0). Only call it when the CPU has AVX-512 F.
void lstmd_recurrent_product_avx512(
    float *c, int64_t ldc, const float *a, int64_t lda, const float *b, int64_t ldb, int64_t m, int64_t k,
    int64_t n, int accumulate);

/// The training forward cell update of one sample (`lstmCellForward` in LSTMKit, the reference):
/// gates [4H] pre-activations without bias in, activations (σi, σf, tanh g, σo) out; writes
/// `cell` c', `tanhCell` tanh(c') and `hidden` h'. Same operations in the same order as the Swift
/// kernel, so the same bits. `h` a multiple of 16; only call it when the CPU has AVX-512 F.
void lstmd_cell_forward_avx512(
    float *hidden, float *cell, float *tanhCell, float *gates, const float *bias, const float *previousCell,
    int64_t h);

/// Backward of `lstmd_cell_forward_avx512` for one sample (`lstmCellBackward` in LSTMKit, the
/// reference): writes the gate gradient [4H], turns `cellGradient` dL/dc' into dL/dc. Same bits
/// as the Swift kernel; `h` a multiple of 16; only call it when the CPU has AVX-512 F.
void lstmd_cell_backward_avx512(
    float *gateGradient, float *cellGradient, const float *hiddenGradient, const float *gates, const float *tanhCell,
    const float *previousCell, int64_t h);

/// The inference cell update of `blocks` blocks of 16 units from packed preactivations `a + b`
/// (`b` may be NULL): `lstmCellBlocks` in LSTMKit, the reference, with the same bits. Only call
/// it when the CPU has AVX-512 F.
void lstmd_cell_blocks_avx512(float *hidden, float *cell, const float *a, const float *b, int64_t blocks);

/// One timestep of one layer for `m` stacked rows, fused: for every row and block of 16 units the
/// gate pre-activations `bias + x·W_x + h·W_h` stay in registers and go straight into the cell
/// update, so the [m × 4hp] gate matrix is never written. `hidden` [m × hp] is h in and h' out,
/// `cell` [m × hp] c in and c' out, `x` [m × kx] the layer's input, `wx` [kx × 4hp] and `wh`
/// [hp × 4hp] the packed weights, `bias` [4hp]; `scratch` holds min(m, 48) × hp floats. Same bits
/// as filling C with the bias, then `lstmd_recurrent_product_avx512` of x and of h with
/// accumulation, then `lstmd_cell_blocks_avx512` (and so as the Swift reference of each). `hp` a
/// multiple of 16; only call it when the CPU has AVX-512 F.
void lstmd_batch_step_avx512(
    float *hidden, float *cell, const float *x, int64_t kx, const float *wx, const float *wh, const float *bias,
    int64_t m, int64_t hp, float *scratch);

/// One timestep of one layer of the window (batch) forward for `m` rows, fused: per row and
/// block of 16 units the recurrent product `h·W_h` stays in registers, is added to the row's
/// precomputed input pre-activations `pre[r]` [4hp] (bias + x·W_x) and goes straight into the
/// cell update. `hidden` [m × hp] h in, h' out; `cell` [m × hp]; `first` nonzero on the first
/// step (h = 0: no product); `scratch` holds min(m, 48) × hp floats. Same bits as
/// `lstmd_recurrent_product_avx512` without accumulation followed by `lstmd_cell_blocks_avx512`
/// with `a = pre[r]`, `b` = the product (b = NULL on the first step). `hp` a multiple of 16; only
/// call it when the CPU has AVX-512 F.
void lstmd_window_step_avx512(
    float *hidden, float *cell, const float *const *pre, const float *wh, int64_t m, int64_t hp, int first,
    float *scratch);

#endif
