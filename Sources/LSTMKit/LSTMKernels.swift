// LSTM kernels: small free functions over contiguous buffers, outputs first, then inputs, then
// sizes (llm.c style). Gate order i, f, g, o as PyTorch.
//
// Packed layout. Hidden units are padded to `Hp = 16·⌈H/16⌉` and grouped in blocks of 16 units.
// A block's 64 gate rows sit together as [i(16) f(16) g(16) o(16)], so one pass over a block
// computes its gates and updates its cell and hidden state without storing the gates. Padded units
// have zero weights and biases, so their state stays exactly zero.
//   fused weights  [Hp/16][N][4][16]  column j of the 4Hp × N matrix [W_ih | W_hh], block-major
//   preactivation  [Hp/16][4][16]     bias (b_ih + b_hh), or bias + input projection

internal import LSTMKernelsC

typealias Vector16 = SIMD16<Float>

@inline(__always)
func load16(_ pointer: UnsafePointer<Float>) -> Vector16 {
    UnsafeRawPointer(pointer).loadUnaligned(as: Vector16.self)
}

@inline(__always)
func store16(_ value: Vector16, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Vector16.self)
}

/// The gate activations of one cell update (16 units), which the training forward keeps for the
/// backward pass: σ(i), σ(f), tanh(g), σ(o) and tanh(c').
struct LSTMGateActivations {
    var input = Vector16(), forget = Vector16(), candidate = Vector16(), output = Vector16()
    var tanhCell = Vector16()
}

/// The LSTM cell update for 16 units, gates in the order i, f, g, o (PyTorch):
/// `c' = σ(f)·c + σ(i)·tanh(g)`, `h' = σ(o)·tanh(c')`.
///
/// This is the one cell update of the engine: the single-stream step (`lstmCellStep`), the batched
/// step and the window forward (`lstmCellBlocks`) and the training forward (`lstmCellForward`) all
/// call it; only the gate products around it differ (SIMD matvec, `sgemm`).
///
/// Written over `e_x = exp(-x)` with two divisions instead of five:
/// `c' = (c·(1+e_i)(1+e_2g) + (1-e_2g)(1+e_f)) / ((1+e_f)(1+e_i)(1+e_2g))` and
/// `h' = (1-e_2c') / ((1+e_o)(1+e_2c'))`. Gate inputs are clamped to ±20 (σ and tanh are within
/// 3e-9 of their limits there) so every product stays finite. Tested against `Double` in
/// `ActivationTests` (absolute error ≤ 1e-6 on c' and h', and on the saved activations).
/// - Parameters:
///   - i, f, g, o: gate preactivations.
///   - cell: `c` in, `c'` out.
///   - activations: when non-nil, also receives the gate activations (five more divisions; `c'`
///     and `h'` are the same values either way). Inlined with `nil`, this costs nothing.
/// - Returns: `h'`.
@inline(__always)
func lstmCellIFGO(
    _ i: Vector16, _ f: Vector16, _ g: Vector16, _ o: Vector16, cell: inout Vector16,
    saving activations: UnsafeMutablePointer<LSTMGateActivations>? = nil
) -> Vector16 {
    let limit = Vector16(repeating: 20), one = Vector16(repeating: 1)
    @inline(__always) func clamped(_ x: Vector16) -> Vector16 {
        var x = x.replacing(with: limit, where: x .> limit)
        x.replace(with: -limit, where: x .< -limit)
        return x
    }
    let ei = one + Activations.exp(-clamped(i))
    let ef = one + Activations.exp(-clamped(f))
    let eg = Activations.exp(-2 * clamped(g))
    let ig = ei * (one + eg)
    let next = (cell * ig + (one - eg) * ef) / (ef * ig)
    cell = next
    let ec = Activations.exp(-2 * clamped(next))
    let eo = one + Activations.exp(-clamped(o))
    if let activations {
        activations.pointee = LSTMGateActivations(
            input: one / ei, forget: one / ef, candidate: (one - eg) / (one + eg), output: one / eo,
            tanhCell: (one - ec) / (one + ec))
    }
    return (one - ec) / (eo * (one + ec))
}

/// Advances `blocks`·16 LSTM units by one timestep with the fused gate product: the single-stream
/// step.
///
/// For each block: `gates = pre + W·z` (W: 64 rows × `count` columns, block-major), then the cell
/// update `lstmCellIFGO` while the gates are still in registers. `z` must not alias `hidden` (it usually holds the previous hidden state).
/// - Parameters:
///   - hidden: output `h'` [blocks·16].
///   - cell: cell state [blocks·16], updated in place.
///   - weights: packed weights of block 0; block b starts `b·blockStride` floats later.
///   - blockStride: floats between consecutive blocks' weights (≥ 64·count).
///   - input: `z` [count].
///   - count: columns `N`.
///   - preactivation: [blocks][4][16].
///   - blocks: `Hp/16`.
@inline(__always)
func lstmCellStep(
    hidden: UnsafeMutablePointer<Float>, cell: UnsafeMutablePointer<Float>,
    weights: UnsafePointer<Float>, blockStride: Int,
    input: UnsafePointer<Float>, count: Int,
    preactivation: UnsafePointer<Float>, blocks: Int
) {
    for block in 0..<blocks {
        let (i, f, g, o) = gateProduct(
            weights + block * blockStride, input: input, count: count, preactivation: preactivation + block * 64)
        var c = load16(cell + block * 16)
        let h = lstmCellIFGO(i, f, g, o, cell: &c)
        store16(c, cell + block * 16)
        store16(h, hidden + block * 16)
    }
}

/// One block's 64 gate rows: `pre + W·z`, W block-major (64 floats per input column).
@inline(__always)
func gateProduct(
    _ weights: UnsafePointer<Float>, input: UnsafePointer<Float>, count: Int, preactivation pre: UnsafePointer<Float>
) -> (Vector16, Vector16, Vector16, Vector16) {
    var i = load16(pre), f = load16(pre + 16), g = load16(pre + 32), o = load16(pre + 48)
    var w = weights
    for j in 0..<count {
        let s = Vector16(repeating: input[j])
        i = i.addingProduct(load16(w), s)
        f = f.addingProduct(load16(w + 16), s)
        g = g.addingProduct(load16(w + 32), s)
        o = o.addingProduct(load16(w + 48), s)
        w += 64
    }
    return (i, f, g, o)
}

/// Gate preactivations `out = pre + W·z` for `blocks` blocks, without the cell update: the input
/// projection of one timestep, shared by every state that consumes it.
@inline(__always)
func lstmProject(
    _ out: UnsafeMutablePointer<Float>,
    weights: UnsafePointer<Float>, blockStride: Int,
    input: UnsafePointer<Float>, count: Int,
    preactivation: UnsafePointer<Float>, blocks: Int
) {
    for block in 0..<blocks {
        let (i, f, g, o) = gateProduct(
            weights + block * blockStride, input: input, count: count, preactivation: preactivation + block * 64)
        let base = out + block * 64
        store16(i, base)
        store16(f, base + 16)
        store16(g, base + 32)
        store16(o, base + 48)
    }
}

/// The cell update (`lstmCellIFGO`) of `blocks`·16 units from packed preactivations given as a
/// sum of two buffers, `a + b` (`b` may be nil): the batched step and the window forward, where the
/// gate products are `sgemm`s.
/// - Parameters:
///   - hidden: output `h'` [blocks·16].
///   - cell: cell state [blocks·16], updated in place.
///   - a: preactivations [blocks][4][16] (i, f, g, o per block).
///   - b: added to `a` when non-nil (the recurrent product `W_hh·h`), same layout.
///
/// Runs the AVX-512 C port (same bits) when this process's path is AVX-512, else
/// `lstmCellBlocksSIMD`, the reference.
@inline(__always)
func lstmCellBlocks(
    hidden: UnsafeMutablePointer<Float>, cell: UnsafeMutablePointer<Float>,
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>?, blocks: Int
) {
    if ComputePath.avx512Kernels {
        lstmd_cell_blocks_avx512(hidden, cell, a, b, Int64(blocks))
    } else {
        lstmCellBlocksSIMD(hidden: hidden, cell: cell, a, b, blocks: blocks)
    }
}

/// One timestep of one layer for `rows` stacked states, fused (the AVX-512 path of
/// `LSTMModel.stepRows`): per row and block of 16 units the gate pre-activations
/// `bias + x·W_x + h·W_h` stay in registers and go straight into the cell update, so the gate
/// matrix is never written. Same bits as the unfused reference: the gates filled with `bias`,
/// `recurrentProductSIMD` of `input` and of `hidden` accumulated into them, then
/// `lstmCellBlocksSIMD` (`CellKernelTests` checks this).
/// - Parameters:
///   - hidden: [rows, Hp] `h`, replaced by `h'`.
///   - cell: [rows, Hp] `c`, replaced by `c'`.
///   - input: [rows, inputWidth] the layer's input.
///   - scratch: at least `min(rows, 48) · Hp` floats.
/// - Precondition: the CPU has AVX-512 (`ComputePath.avx512Kernels`).
@inline(__always)
func fusedStepRowsAVX512(
    hidden: UnsafeMutablePointer<Float>, cell: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
    inputWidth: Int, inputWeights: UnsafePointer<Float>, recurrentWeights: UnsafePointer<Float>,
    bias: UnsafePointer<Float>, rows: Int, paddedHidden: Int, scratch: UnsafeMutablePointer<Float>
) {
    lstmd_batch_step_avx512(
        hidden, cell, input, Int64(inputWidth), inputWeights, recurrentWeights, bias, Int64(rows), Int64(paddedHidden),
        scratch)
}

/// One timestep of one layer of the window forward for `rows` rows, fused (its AVX-512 path):
/// per row and block of 16 units the recurrent product `h·W_h` stays in registers, is added to
/// the row's input pre-activations `pre[row]` [4Hp] and goes straight into the cell update. Same
/// bits as `recurrentProductSIMD` (no accumulation) into a buffer followed by
/// `lstmCellBlocksSIMD(a: pre[row], b: that buffer's row)`, or `b: nil` when `first`
/// (`CellKernelTests` checks this).
/// - Parameters:
///   - hidden: [rows, Hp] `h`, replaced by `h'`.
///   - cell: [rows, Hp] `c`, replaced by `c'`.
///   - scratch: at least `min(rows, 48) · Hp` floats.
/// - Precondition: the CPU has AVX-512 (`ComputePath.avx512Kernels`).
@inline(__always)
func fusedWindowStepAVX512(
    hidden: UnsafeMutablePointer<Float>, cell: UnsafeMutablePointer<Float>, pre: UnsafePointer<UnsafePointer<Float>?>,
    recurrentWeights: UnsafePointer<Float>, rows: Int, paddedHidden: Int, first: Bool,
    scratch: UnsafeMutablePointer<Float>
) {
    lstmd_window_step_avx512(hidden, cell, pre, recurrentWeights, Int64(rows), Int64(paddedHidden), first ? 1 : 0, scratch)
}

/// The Swift (x86-64-v3) cell update over packed blocks: the reference of `lstmCellBlocks`, and its AVX2 path.
@inline(__always)
func lstmCellBlocksSIMD(
    hidden: UnsafeMutablePointer<Float>, cell: UnsafeMutablePointer<Float>,
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>?, blocks: Int
) {
    for block in 0..<blocks {
        let p = a + block * 64
        var i = load16(p), f = load16(p + 16), g = load16(p + 32), o = load16(p + 48)
        if let b {
            let q = b + block * 64
            i += load16(q)
            f += load16(q + 16)
            g += load16(q + 32)
            o += load16(q + 48)
        }
        var c = load16(cell + block * 16)
        let h = lstmCellIFGO(i, f, g, o, cell: &c)
        store16(c, cell + block * 16)
        store16(h, hidden + block * 16)
    }
}

/// `out[r] = bias[r] + Σ_j W[r][j]·x[j]` for a row-major `rows × count` matrix, then ReLU when asked.
@inline(__always)
func denseForward(
    _ out: UnsafeMutablePointer<Float>,
    weights: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    input: UnsafePointer<Float>, rows: Int, count: Int, relu: Bool
) {
    for row in 0..<rows {
        let w = weights + row * count
        var acc = Vector16()
        var j = 0
        while j + 16 <= count {
            acc = acc.addingProduct(load16(w + j), load16(input + j))
            j += 16
        }
        var sum = acc.sum()
        while j < count {
            sum += w[j] * input[j]
            j += 1
        }
        sum += bias[row]
        out[row] = relu ? max(sum, 0) : sum
    }
}

/// In-place numerically stable softmax over `count` values.
@inline(__always)
func softmaxInPlace(_ values: UnsafeMutablePointer<Float>, count: Int) {
    var largest = -Float.infinity
    for k in 0..<count { largest = max(largest, values[k]) }
    var total: Float = 0
    for k in 0..<count {
        let e = expf(values[k] - largest)
        values[k] = e
        total += e
    }
    for k in 0..<count { values[k] /= total }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
