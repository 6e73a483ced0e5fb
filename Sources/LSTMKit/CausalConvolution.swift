import Foundation

/// The causal convolution of the front end (`Architecture.ConvolutionLayer`) as one matrix
/// product: `causalColumns` lays every output position's receptive field out as a row
/// (im2col), so a layer is `Z = columns · Wᵀ` with `W` the PyTorch weight `[F, Cin, k]` read as
/// `[F, Cin·k]`. Inference (`LSTMModel.forward`, sample-major rows `b·T + t`) uses it as it is;
/// training (`TrainingWorkspace`, time-major rows `t·B + b`) lays the columns out tap-major
/// (`tapColumns`), so each tap is a contiguous copy and the input gradient is one product per
/// tap. The training gradient tests hold the training layout to PyTorch and its forward pass in
/// inference mode to `LSTMModel.forward`.
///
/// Writes `columns[b·T + t, c·k + j] = x[b·T + t - k + 1 + j, c]`, zero where that timestep is
/// before 0 (the causal left padding). `x` is `[B·T, channels]`, `columns` `[B·T, channels·k]`.
func causalColumns(
    _ x: UnsafePointer<Float>, into columns: UnsafeMutablePointer<Float>, batch: Int, timesteps: Int, channels: Int,
    kernel k: Int
) {
    let width = channels * k
    for b in 0..<batch {
        for t in 0..<timesteps {
            let out = columns + (b * timesteps + t) * width
            for j in 0..<k {
                let source = t - k + 1 + j
                if source < 0 {
                    for c in 0..<channels { out[c * k + j] = 0 }
                } else {
                    let row = x + (b * timesteps + source) * channels
                    for c in 0..<channels { out[c * k + j] = row[c] }
                }
            }
        }
    }
}

/// `causalColumns` for time-major rows with the taps outermost (the training workspace):
/// `columns[t·B + b, j·Cin + c] = x[(t - k + 1 + j)·B + b, c]`, zero before timestep 0, so each
/// tap is one contiguous copy of an input row. The weights must then be read tap-major too,
/// `[F, k, Cin]` (`TrainingWorkspace.Convolution.taps`).
func tapColumns(
    _ x: UnsafePointer<Float>, into columns: UnsafeMutablePointer<Float>, batch: Int, timesteps: Int, channels: Int,
    kernel k: Int
) {
    let width = channels * k
    for t in 0..<timesteps {
        for b in 0..<batch {
            let out = columns + (t * batch + b) * width
            for j in 0..<k {
                let tap = out + j * channels, source = t - k + 1 + j
                if source < 0 {
                    tap.update(repeating: 0, count: channels)
                } else {
                    let row = x + (source * batch + b) * channels
                    for c in 0..<channels { tap[c] = row[c] }
                }
            }
        }
    }
}

/// One front-end layer for inference: the convolution with its batch normalisation folded in
/// (`W'[f] = W[f]·s_f`, `b'_f = β_f - μ_f·s_f` with `s_f = γ_f / √(σ²_f + ε)`), then ReLU.
struct FoldedConvolution: Sendable {
    /// [F, Cin·k] row-major (PyTorch's `[F, Cin, k]`).
    let weights: [Float]
    /// [F].
    let bias: [Float]
    let filters: Int
    let inputs: Int
    let kernel: Int

    /// Folds front-end layer `index` of a validated single model's tensors.
    /// - Throws: `ModelError(.tensor)` when folding overflows (e.g. a huge scale over a zero
    ///   variance), which would otherwise turn every label into NaN.
    init(_ file: ModelFile, layer index: Int) throws {
        let layer = file.architecture.frontEnd[index]
        let prefix = "frontend.\(index)"
        let tensor = { (name: String) in file.tensors["\(prefix).\(name)"]!.scalars }
        let weight = tensor("conv.weight"), gamma = tensor("norm.weight"), beta = tensor("norm.bias")
        let mean = tensor("norm.running_mean"), variance = tensor("norm.running_var")
        filters = layer.filters
        inputs = file.architecture.frontEndInputs(index)
        kernel = layer.kernel
        let width = inputs * kernel
        var folded = weight, bias = [Float](repeating: 0, count: filters)
        for f in 0..<filters {
            let scale = gamma[f] / (variance[f] + Architecture.normalizationEpsilon).squareRoot()
            for i in 0..<width { folded[f * width + i] = weight[f * width + i] * scale }
            bias[f] = beta[f] - mean[f] * scale
        }
        guard folded.allSatisfy(\.isFinite), bias.allSatisfy(\.isFinite) else {
            throw ModelError(
                .tensor, "front-end layer \(index): its batch normalisation folded into the convolution overflows "
                    + "(norm.weight too large for norm.running_var)")
        }
        weights = folded
        self.bias = bias
    }

    /// One timestep for one stream: moves `history` ([Cin, k], each channel's last k inputs,
    /// oldest first: a row of `weights`' layout) one timestep on, puts `input` [Cin] in each
    /// channel's last place, and writes `relu(W'·history + b')` [F] to `output`.
    @inline(__always)
    func step(_ input: UnsafePointer<Float>, history: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>) {
        push(input, into: history)
        weights.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                denseForward(
                    output, weights: w.baseAddress!, bias: b.baseAddress!, input: history, rows: filters,
                    count: kernel * inputs, relu: true)
            }
        }
    }

    /// One timestep for `rows` streams at once (`BatchStepper`): each row of `histories`
    /// [rows, Cin·k] is one stream's history, moved on by that row of `input` [rows, Cin] as in
    /// `step`, then `output [rows, F] = relu(histories · W'ᵀ + b')`, one matrix product that reads
    /// the weights once for every row.
    func stepRows(
        _ input: UnsafePointer<Float>, rows: Int, histories: UnsafeMutablePointer<Float>,
        output: UnsafeMutablePointer<Float>
    ) {
        let width = inputs * kernel
        guard rows >= Self.smallestProduct else {
            for row in 0..<rows { step(input + row * inputs, history: histories + row * width, output: output + row * filters) }
            return
        }
        for row in 0..<rows { push(input + row * inputs, into: histories + row * width) }
        product(histories, rows: rows, into: output)
    }

    /// Rows from which `stepRows` uses one matrix product: below, a matrix–vector product per row
    /// is faster (`lstmctl bench e2e --front-end 64x5,64x5`, H=64 L=2, engine ceiling on a Zen 5,
    /// timesteps/s: 4 streams 205k with the product, 408k without; 8: 339k, 433k; 15 without
    /// 455k, 16 with 494k).
    static let smallestProduct = 16

    /// Moves one history [Cin, k] a timestep on and puts `input` [Cin] in each channel's last place.
    @inline(__always)
    private func push(_ input: UnsafePointer<Float>, into history: UnsafeMutablePointer<Float>) {
        // One shift of the whole buffer: channel c's oldest value lands in channel c-1's newest
        // place, which the loop below overwrites.
        if kernel > 1 { memmove(history, history + 1, (inputs * kernel - 1) * MemoryLayout<Float>.size) }
        for c in 0..<inputs { history[c * kernel + kernel - 1] = input[c] }
    }

    /// `output [B·T, F] = relu(causal conv(x) + b')` for `x [B·T, Cin]` (sample-major rows).
    /// - Parameter columns: scratch of `B · T · Cin · k` floats.
    func apply(
        _ x: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, columns: UnsafeMutablePointer<Float>,
        batch: Int, timesteps: Int
    ) {
        causalColumns(x, into: columns, batch: batch, timesteps: timesteps, channels: inputs, kernel: kernel)
        product(columns, rows: batch * timesteps, into: output)
    }

    /// `output [rows, F] = relu(columns · W'ᵀ + b')` for `columns [rows, Cin·k]`.
    private func product(_ columns: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>) {
        let width = inputs * kernel
        bias.withUnsafeBufferPointer { b in
            for row in 0..<rows { (output + row * filters).update(from: b.baseAddress!, count: filters) }
        }
        weights.withUnsafeBufferPointer { w in
            BLAS.sgemm(
                transposeA: false, transposeB: true, m: rows, n: filters, k: width, a: columns, lda: width,
                b: w.baseAddress!, ldb: width, beta: 1, c: output, ldc: filters)
        }
        for i in 0..<(rows * filters) { output[i] = max(output[i], 0) }
    }
}
