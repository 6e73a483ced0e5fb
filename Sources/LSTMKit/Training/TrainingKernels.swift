import Foundation

// Training kernels: forward and backward side by side, outputs first, then inputs, then sizes.
// Backward functions accumulate into gradients the caller zeroed. Gate order i, f, g, o (PyTorch);
// a gate row holds 4H values [i(H) f(H) g(H) o(H)], activated in place by the forward pass.

/// Applies the logistic function to `count` floats in place (16 lanes at a time, the tail padded).
@inline(__always)
func sigmoidInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
    var j = 0
    while j + 16 <= count {
        store16(Activations.sigmoid(load16(x + j)), x + j)
        j += 16
    }
    if j < count {
        var v = Vector16(repeating: 0)
        for k in 0..<(count - j) { v[k] = x[j + k] }
        v = Activations.sigmoid(v)
        for k in 0..<(count - j) { x[j + k] = v[k] }
    }
}

/// Applies `tanh` to `count` floats from `x` into `out` (may alias).
@inline(__always)
func tanhInto(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
    var j = 0
    while j + 16 <= count {
        store16(Activations.tanh(load16(x + j)), out + j)
        j += 16
    }
    if j < count {
        var v = Vector16(repeating: 0)
        for k in 0..<(count - j) { v[k] = x[j + k] }
        v = Activations.tanh(v)
        for k in 0..<(count - j) { out[j + k] = v[k] }
    }
}

/// One LSTM cell update for one sample, training form: activates the gate row in place and keeps
/// what the backward pass needs.
/// - Parameters:
///   - hidden: output `h' = o·tanh(c')` [H].
///   - cell: output `c' = f·c + i·g` [H].
///   - tanhCell: output `tanh(c')` [H].
///   - gates: [4H] pre-activations in, activations (σ(i), σ(f), tanh(g), σ(o)) out.
///   - previousCell: `c` [H].
@inline(__always)
func lstmCellForward(
    hidden: UnsafeMutablePointer<Float>, cell: UnsafeMutablePointer<Float>, tanhCell: UnsafeMutablePointer<Float>,
    gates: UnsafeMutablePointer<Float>, previousCell: UnsafePointer<Float>, hiddenSize h: Int
) {
    sigmoidInPlace(gates, count: 2 * h)
    tanhInto(gates + 2 * h, gates + 2 * h, count: h)
    sigmoidInPlace(gates + 3 * h, count: h)
    for j in 0..<h {
        cell[j] = gates[h + j] * previousCell[j] + gates[j] * gates[2 * h + j]
    }
    tanhInto(tanhCell, cell, count: h)
    for j in 0..<h {
        hidden[j] = gates[3 * h + j] * tanhCell[j]
    }
}

/// Backward of `lstmCellForward` for one sample.
/// - Parameters:
///   - gateGradient: output d/d(pre-activation gates) [4H].
///   - cellGradient: in: dL/dc' from the later step; out: dL/dc for the earlier step [H].
///   - hiddenGradient: dL/dh' [H] (from the layer above plus the later step).
///   - gates, tanhCell, previousCell: as saved by the forward pass.
@inline(__always)
func lstmCellBackward(
    gateGradient: UnsafeMutablePointer<Float>, cellGradient: UnsafeMutablePointer<Float>,
    hiddenGradient: UnsafePointer<Float>, gates: UnsafePointer<Float>, tanhCell: UnsafePointer<Float>,
    previousCell: UnsafePointer<Float>, hiddenSize h: Int
) {
    for j in 0..<h {
        let i = gates[j], f = gates[h + j], g = gates[2 * h + j], o = gates[3 * h + j]
        let tc = tanhCell[j], dh = hiddenGradient[j]
        let dc = cellGradient[j] + dh * o * (1 - tc * tc)
        gateGradient[j] = dc * g * i * (1 - i)
        gateGradient[h + j] = dc * previousCell[j] * f * (1 - f)
        gateGradient[2 * h + j] = dc * i * (1 - g * g)
        gateGradient[3 * h + j] = dh * tc * o * (1 - o)
        cellGradient[j] = dc * f
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

/// Softmax cross-entropy of one row of logits: writes the probabilities and returns
/// `-log p[label]`, computed as `logsumexp(z) - z[label]` in `Double`.
@inline(__always)
func softmaxCrossEntropy(
    probabilities: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, label: Int, count: Int
) -> Double {
    var maximum = logits[0]
    for k in 1..<count { maximum = max(maximum, logits[k]) }
    var sum = 0.0
    for k in 0..<count { sum += Foundation.exp(Double(logits[k] - maximum)) }
    for k in 0..<count { probabilities[k] = Float(Foundation.exp(Double(logits[k] - maximum)) / sum) }
    guard label >= 0 else { return 0 }
    return Foundation.log(sum) + Double(maximum) - Double(logits[label])
}
