// Training kernels: forward and backward side by side, outputs first, then inputs, then sizes.
// Backward functions accumulate into gradients the caller zeroed. Gate order i, f, g, o (PyTorch);
// a gate row holds 4H values [i(H) f(H) g(H) o(H)], activated in place by the forward pass.

internal import LSTMKernelsC

/// Loads `count` ≤ 16 floats, the other lanes zero.
@inline(__always)
func loadLanes(_ pointer: UnsafePointer<Float>, count: Int) -> Vector16 {
    if count == 16 { return load16(pointer) }
    var v = Vector16(repeating: 0)
    for k in 0..<count { v[k] = pointer[k] }
    return v
}

/// Stores the first `count` ≤ 16 lanes of `value`.
@inline(__always)
func storeLanes(_ value: Vector16, _ pointer: UnsafeMutablePointer<Float>, count: Int) {
    if count == 16 { return store16(value, pointer) }
    for k in 0..<count { pointer[k] = value[k] }
}

/// One LSTM cell update for one sample, training form: the engine's cell update `lstmCellIFGO`
/// over a gate row [i(H) f(H) g(H) o(H)], keeping what the backward pass needs. Up to rounding of
/// the gate products, `c'` and `h'` equal the inference engine's.
/// - Parameters:
///   - hidden: output `h' = o·tanh(c')` [H].
///   - cell: output `c' = f·c + i·g` [H].
///   - tanhCell: output `tanh(c')` [H].
///   - gates: [4H] pre-activations without bias in, activations (σ(i), σ(f), tanh(g), σ(o)) out.
///   - bias: [4H] summed bias `b_ih + b_hh`, added first.
///   - previousCell: `c` [H].
///
/// Runs the AVX-512 C port (same bits) when this process's path is AVX-512 and `h` is a multiple
/// of 16, else `lstmCellForwardSIMD`, the reference.
@inline(__always)
func lstmCellForward(
    hidden: UnsafeMutablePointer<Float>, cell: UnsafeMutablePointer<Float>, tanhCell: UnsafeMutablePointer<Float>,
    gates: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, previousCell: UnsafePointer<Float>, hiddenSize h: Int
) {
    if ComputePath.avx512Kernels && h % 16 == 0 {
        lstmd_cell_forward_avx512(hidden, cell, tanhCell, gates, bias, previousCell, Int64(h))
    } else {
        lstmCellForwardSIMD(
            hidden: hidden, cell: cell, tanhCell: tanhCell, gates: gates, bias: bias, previousCell: previousCell,
            hiddenSize: h)
    }
}

/// The Swift (x86-64-v3) training cell update: the reference of `lstmCellForward`, and its AVX2 path.
@inline(__always)
func lstmCellForwardSIMD(
    hidden: UnsafeMutablePointer<Float>, cell: UnsafeMutablePointer<Float>, tanhCell: UnsafeMutablePointer<Float>,
    gates: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, previousCell: UnsafePointer<Float>, hiddenSize h: Int
) {
    let gi = gates, gf = gates + h, gg = gates + 2 * h, go = gates + 3 * h
    let bi = bias, bf = bias + h, bg = bias + 2 * h, bo = bias + 3 * h
    var j = 0
    while j < h {
        let n = min(16, h - j)
        var c = loadLanes(previousCell + j, count: n)
        var saved = LSTMGateActivations()
        let next = lstmCellIFGO(
            loadLanes(gi + j, count: n) + loadLanes(bi + j, count: n),
            loadLanes(gf + j, count: n) + loadLanes(bf + j, count: n),
            loadLanes(gg + j, count: n) + loadLanes(bg + j, count: n),
            loadLanes(go + j, count: n) + loadLanes(bo + j, count: n),
            cell: &c, saving: &saved)
        storeLanes(saved.input, gi + j, count: n)
        storeLanes(saved.forget, gf + j, count: n)
        storeLanes(saved.candidate, gg + j, count: n)
        storeLanes(saved.output, go + j, count: n)
        storeLanes(c, cell + j, count: n)
        storeLanes(saved.tanhCell, tanhCell + j, count: n)
        storeLanes(next, hidden + j, count: n)
        j += 16
    }
}

/// Backward of `lstmCellForward` for one sample.
/// - Parameters:
///   - gateGradient: output d/d(pre-activation gates) [4H].
///   - cellGradient: in: dL/dc' from the later step; out: dL/dc for the earlier step [H].
///   - hiddenGradient: dL/dh' [H] (from the layer above plus the later step).
///   - gates, tanhCell, previousCell: as saved by the forward pass.
///
/// Runs the AVX-512 C port (same bits) when this process's path is AVX-512 and `h` is a multiple
/// of 16, else `lstmCellBackwardSIMD`, the reference.
@inline(__always)
func lstmCellBackward(
    gateGradient: UnsafeMutablePointer<Float>, cellGradient: UnsafeMutablePointer<Float>,
    hiddenGradient: UnsafePointer<Float>, gates: UnsafePointer<Float>, tanhCell: UnsafePointer<Float>,
    previousCell: UnsafePointer<Float>, hiddenSize h: Int
) {
    if ComputePath.avx512Kernels && h % 16 == 0 {
        lstmd_cell_backward_avx512(gateGradient, cellGradient, hiddenGradient, gates, tanhCell, previousCell, Int64(h))
    } else {
        lstmCellBackwardSIMD(
            gateGradient: gateGradient, cellGradient: cellGradient, hiddenGradient: hiddenGradient, gates: gates,
            tanhCell: tanhCell, previousCell: previousCell, hiddenSize: h)
    }
}

/// The Swift (x86-64-v3) training cell backward: the reference of `lstmCellBackward`, and its AVX2 path.
@inline(__always)
func lstmCellBackwardSIMD(
    gateGradient: UnsafeMutablePointer<Float>, cellGradient: UnsafeMutablePointer<Float>,
    hiddenGradient: UnsafePointer<Float>, gates: UnsafePointer<Float>, tanhCell: UnsafePointer<Float>,
    previousCell: UnsafePointer<Float>, hiddenSize h: Int
) {
    let gi = gates, gf = gates + h, gg = gates + 2 * h, go = gates + 3 * h
    let di = gateGradient, df = gateGradient + h, dg = gateGradient + 2 * h, dout = gateGradient + 3 * h
    let one = Vector16(repeating: 1)
    var j = 0
    while j + 16 <= h {
        let i = load16(gi + j), f = load16(gf + j), g = load16(gg + j), o = load16(go + j)
        let tc = load16(tanhCell + j), dh = load16(hiddenGradient + j)
        let dc = load16(cellGradient + j) + dh * o * (one - tc * tc)
        store16(dc * g * i * (one - i), di + j)
        store16(dc * load16(previousCell + j) * f * (one - f), df + j)
        store16(dc * i * (one - g * g), dg + j)
        store16(dh * tc * o * (one - o), dout + j)
        store16(dc * f, cellGradient + j)
        j += 16
    }
    while j < h {
        let i = gi[j], f = gf[j], g = gg[j], o = go[j]
        let tc = tanhCell[j], dh = hiddenGradient[j]
        let dc = cellGradient[j] + dh * o * (1 - tc * tc)
        di[j] = dc * g * i * (1 - i)
        df[j] = dc * previousCell[j] * f * (1 - f)
        dg[j] = dc * i * (1 - g * g)
        dout[j] = dh * tc * o * (1 - o)
        cellGradient[j] = dc * f
        j += 1
    }
}

/// `out[j] += Σ_r rows[r·stride + j]` for `count` rows of `width` floats.
@inline(__always)
func addColumnSums(
    _ out: UnsafeMutablePointer<Float>, _ rows: UnsafePointer<Float>, count: Int, width: Int, stride: Int
) {
    for r in 0..<count {
        let row = rows + r * stride
        for j in 0..<width { out[j] += row[j] }
    }
}

/// `C[m×n] (+)= A[m×k] · B[k×n]`, all row-major, for the small per-timestep recurrent products
/// (B rows ≈ batch shard, k and n ≈ H or 4H). `n` must be a multiple of 16.
///
/// Runs the AVX-512 C kernel when this process's path is AVX-512 (`ComputePath`), else the Swift
/// kernel below, which is the reference it is tested against. Both accumulate every element in
/// the same order with one FMA per term, so they give the same bits.
@inline(__always)
func recurrentProduct(
    _ c: UnsafeMutablePointer<Float>, ldc: Int, _ a: UnsafePointer<Float>, lda: Int,
    _ b: UnsafePointer<Float>, ldb: Int, m: Int, k: Int, n: Int, accumulate: Bool
) {
    precondition(n % 16 == 0, "recurrentProduct needs n a multiple of 16")
    if ComputePath.avx512Kernels {
        lstmd_recurrent_product_avx512(
            c, Int64(ldc), a, Int64(lda), b, Int64(ldb), Int64(m), Int64(k), Int64(n), accumulate ? 1 : 0)
    } else {
        recurrentProductSIMD(c, ldc: ldc, a, lda: lda, b, ldb: ldb, m: m, k: k, n: n, accumulate: accumulate)
    }
}

/// The Swift (x86-64-v3) recurrent product: the reference kernel, and the AVX2 path.
///
/// Register-blocked: for each 16-column block of B (which stays in L1 across the rows), four rows
/// of A at a time accumulate `Σ_k A[r,k]·B[k, block]` in four SIMD16 registers with FMA. Unlike a
/// BLAS call it repacks nothing, which at these sizes is a sixth of the work.
/// - Parameters:
///   - accumulate: add to `c` (`beta = 1`) instead of overwriting it (`beta = 0`).
@inline(__always)
func recurrentProductSIMD(
    _ c: UnsafeMutablePointer<Float>, ldc: Int, _ a: UnsafePointer<Float>, lda: Int,
    _ b: UnsafePointer<Float>, ldb: Int, m: Int, k: Int, n: Int, accumulate: Bool
) {
    var column = 0
    while column < n {
        let bColumn = b + column
        var row = 0
        while row + 4 <= m {
            let a0 = a + row * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda
            let c0 = c + row * ldc + column, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc
            var s0 = accumulate ? load16(c0) : Vector16(), s1 = accumulate ? load16(c1) : Vector16()
            var s2 = accumulate ? load16(c2) : Vector16(), s3 = accumulate ? load16(c3) : Vector16()
            var bRow = bColumn
            for i in 0..<k {
                let w = load16(bRow)
                s0 = s0.addingProduct(Vector16(repeating: a0[i]), w)
                s1 = s1.addingProduct(Vector16(repeating: a1[i]), w)
                s2 = s2.addingProduct(Vector16(repeating: a2[i]), w)
                s3 = s3.addingProduct(Vector16(repeating: a3[i]), w)
                bRow += ldb
            }
            store16(s0, c0)
            store16(s1, c1)
            store16(s2, c2)
            store16(s3, c3)
            row += 4
        }
        while row < m {
            let a0 = a + row * lda
            let c0 = c + row * ldc + column
            var s0 = accumulate ? load16(c0) : Vector16()
            var bRow = bColumn
            for i in 0..<k {
                s0 = s0.addingProduct(Vector16(repeating: a0[i]), load16(bRow))
                bRow += ldb
            }
            store16(s0, c0)
            row += 1
        }
        column += 16
    }
}
