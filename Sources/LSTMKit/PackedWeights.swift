/// One LSTM layer direction's weights in the packed layouts the kernels use (see `LSTMKernels`).
struct PackedDirection: Sendable {
    /// Padded input width `N_in` (C for layer 0, D·Hp above).
    let inputWidth: Int
    /// [Hp/16][N_in + Hp][4][16]: the fused [W_ih | W_hh] for single-stream steps.
    let fused: [Float]
    /// [N_in][4Hp] row-major: `W_ihᵀ` for the batched input projection (`sgemm`).
    let inputWeights: [Float]
    /// [Hp][4Hp] row-major: `W_hhᵀ` for the batched recurrent product (`sgemm`).
    let recurrentWeights: [Float]
    /// [4Hp]: `b_ih + b_hh`.
    let bias: [Float]

    /// Floats between consecutive blocks in `fused`.
    var blockStride: Int { (inputWidth + recurrentWidth) * 64 }
    let recurrentWidth: Int

    /// Packs PyTorch-layout tensors.
    /// - Parameters:
    ///   - inputColumn: maps an original input column to its padded column.
    init(
        weightIH: [Float], weightHH: [Float], biasIH: [Float], biasHH: [Float],
        hidden: Int, paddedHidden: Int, originalInputs: Int, inputWidth: Int,
        inputColumn: (Int) -> Int
    ) {
        let hp = paddedHidden
        self.inputWidth = inputWidth
        self.recurrentWidth = hp
        let columns = inputWidth + hp
        var fused = [Float](repeating: 0, count: hp / 16 * columns * 64)
        var inputWeights = [Float](repeating: 0, count: inputWidth * 4 * hp)
        var recurrentWeights = [Float](repeating: 0, count: hp * 4 * hp)
        var bias = [Float](repeating: 0, count: 4 * hp)
        for gate in 0..<4 {
            for unit in 0..<hidden {
                let row = gate * hidden + unit
                let block = unit / 16, lane = unit % 16
                let position = block * 64 + gate * 16 + lane
                bias[position] = biasIH[row] + biasHH[row]
                for j in 0..<originalInputs {
                    let column = inputColumn(j)
                    let value = weightIH[row * originalInputs + j]
                    inputWeights[column * 4 * hp + position] = value
                    fused[((block * columns + column) * 4 + gate) * 16 + lane] = value
                }
                for j in 0..<hidden {
                    let value = weightHH[row * hidden + j]
                    recurrentWeights[j * 4 * hp + position] = value
                    fused[((block * columns + inputWidth + j) * 4 + gate) * 16 + lane] = value
                }
            }
        }
        self.fused = fused
        self.inputWeights = inputWeights
        self.recurrentWeights = recurrentWeights
        self.bias = bias
    }
}

/// The head's weights with inputs remapped to the padded feature layout [forward Hp | backward Hp].
struct PackedHead: Sendable {
    struct Dense: Sendable {
        let weights: [Float]  // [rows][inputs] row-major
        let bias: [Float]
        let rows: Int
        let inputs: Int
    }

    /// Attention scoring weights over the padded features, and its bias.
    let attention: (weights: [Float], bias: Float)?
    /// Hidden ReLU layers, then the class layer (last, no ReLU).
    let layers: [Dense]
    /// Largest layer width, for scratch buffers.
    let widest: Int
}
