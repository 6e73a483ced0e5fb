extension TrainingWorkspace {
    /// Back-propagates the weighted cross-entropy of the last forward pass.
    ///
    /// The loss is `Σ_b w[y_b]·(-log p_b[y_b]) / normalizer`; with `normalizer = Σ w[y_b]` over the
    /// whole batch (all shards) this is PyTorch's `cross_entropy(weight=w)` mean. Gradients are
    /// added to `gradients` (the caller zeroes them), laid out like the parameters.
    /// `parameters` must be the ones the last forward pass ran with: the front end's backward
    /// pass reuses that pass's tap-major weights (`Convolution.taps`).
    /// - Parameters:
    ///   - classWeights: [K] per-class weights, or `nil` for 1.
    ///   - inputGradient: also fill `inputGradient` [T, B, C].
    public func backward(
        parameters p: UnsafePointer<Float>, gradients g: UnsafeMutablePointer<Float>,
        classWeights: UnsafePointer<Float>?, normalizer: Float, inputGradient wantsInputGradient: Bool = false
    ) {
        let arch = layout.architecture
        let k = arch.numClasses, b = batchSize
        for sample in 0..<b {
            let label = labels[sample]
            let scale = (classWeights?[label] ?? 1) / normalizer
            for j in 0..<k {
                logitGradient[sample * k + j] = scale * (probabilities[sample * k + j] - (j == label ? 1 : 0))
            }
        }
        backwardHead(parameters: p, gradients: g)
        let rows = b * timesteps
        for layer in (0..<arch.numLayers).reversed() {
            let inputs = layer == 0 ? arch.lstmInputSize : arch.featureSize
            let inputGradient: UnsafeMutablePointer<Float>? =
                layer > 0
                ? layers[layer - 1].outputGradient
                : (convolutions.last?.gradient ?? (wantsInputGradient ? self.inputGradient : nil))
            inputGradient?.update(repeating: 0, count: rows * inputs)
            for direction in 0..<arch.directions {
                backwardDirection(
                    layer: layer, direction: direction, parameters: p, gradients: g, inputGradient: inputGradient,
                    finalHidden: layer == arch.numLayers - 1 && direction == 0 && arch.head == .last)
            }
            // Through the dropout that produced this layer's input (the network input's is
            // before the front end, when there is one).
            if let inputGradient, trainingMode, layer > 0 || convolutions.isEmpty {
                let mask: UnsafeMutablePointer<Float>? =
                    layer > 0 ? (arch.dropout.betweenLayers > 0 ? layers[layer].mask : nil)
                    : (arch.dropout.input > 0 ? inputMask : nil)
                if let mask {
                    for i in 0..<(rows * inputs) { inputGradient[i] *= mask[i] }
                }
            }
        }
        for index in convolutions.indices.reversed() {
            let target: UnsafeMutablePointer<Float>? =
                index > 0 ? convolutions[index - 1].gradient : (wantsInputGradient ? self.inputGradient : nil)
            backwardConvolution(index, parameters: p, gradients: g, inputGradient: target)
            if index == 0, let target, trainingMode, arch.dropout.input > 0 {
                for i in 0..<(rows * arch.inputSize) { target[i] *= inputMask[i] }
            }
        }
    }

    /// Front-end layer `index` from d loss / d output (`gradient`) to its parameters' gradients
    /// and, when `inputGradient` is given, d loss / d its input (overwritten).
    private func backwardConvolution(
        _ index: Int, parameters p: UnsafePointer<Float>, gradients g: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?
    ) {
        let offsets = layout.frontEnd[index], buffers = convolutions[index]
        let b = batchSize, t = timesteps, rows = b * t, f = offsets.filters
        let channels = offsets.inputs, k = offsets.kernel, width = channels * k
        let gamma = p + offsets.scale
        let dy = buffers.gradient
        // Through ReLU (padded rows get nothing); dγ = Σ dy·x̂ and dβ = Σ dy over the valid rows,
        // each timestep's rows summed in Float, the timesteps in Double.
        let sums = statisticsScratch, partials = partialScratch
        let dGamma = sums, dBeta = sums + f
        sums.update(repeating: 0, count: 2 * f)
        for time in 0..<t {
            partials.update(repeating: 0, count: 2 * f)
            for sample in 0..<b {
                let row = (time * b + sample) * f
                let d = dy + row
                guard time < lengths[sample] else {
                    d.update(repeating: 0, count: f)
                    continue
                }
                let out = buffers.output + row, normalized = buffers.normalized + row
                let partialGamma = partials, partialBeta = partials + f
                for j in 0..<f {
                    let value = out[j] > 0 ? d[j] : 0
                    d[j] = value
                    partialGamma[j] += value * normalized[j]
                    partialBeta[j] += value
                }
            }
            for j in 0..<(2 * f) { sums[j] += Double(partials[j]) }
        }
        for j in 0..<f {
            g[offsets.scale + j] += Float(dGamma[j])
            g[offsets.shift + j] += Float(dBeta[j])
        }
        // d z: with batch statistics, dz = γ/σ·(dy - mean(dy) - x̂·mean(dy·x̂)) over the valid rows;
        // with running statistics the normalisation is affine, dz = γ/σ·dy.
        let n = Double(max(validRows, 1))
        let scale = partials, meanDy = partials + f, meanDyX = partials + 2 * f
        for j in 0..<f {
            scale[j] = gamma[j] * buffers.inverseDeviation[j]
            meanDy[j] = usedBatchStatistics ? Float(dBeta[j] / n) : 0
            meanDyX[j] = usedBatchStatistics ? Float(dGamma[j] / n) : 0
        }
        for time in 0..<t {
            for sample in 0..<b where time < lengths[sample] {
                let row = (time * b + sample) * f
                let d = dy + row, normalized = buffers.normalized + row
                for j in 0..<f { d[j] = scale[j] * (d[j] - meanDy[j] - normalized[j] * meanDyX[j]) }
            }
        }
        // dW [F, Cin, k] += dZᵀ · columns, computed tap-major and added back in PyTorch's order.
        BLAS.sgemm(
            transposeA: true, transposeB: false, m: f, n: width, k: rows, a: dy, lda: f, b: buffers.columns, ldb: width,
            beta: 0, c: tapGradient, ldc: width)
        let weightGradient = g + offsets.weight
        for filter in 0..<f {
            for c in 0..<channels {
                for j in 0..<k { weightGradient[filter * width + c * k + j] += tapGradient[filter * width + j * channels + c] }
            }
        }
        guard let inputGradient else { return }
        // d x: tap j reads the input `shift = k − 1 − j` timesteps back, and in time-major rows a
        // timestep is B rows, so d x[rows of s] += d z[rows of s + shift] · taps_j [F, Cin], one
        // product per tap over the rows it reaches (the first, shift 0, covers every row).
        for shift in 0..<min(k, t) {
            BLAS.sgemm(
                transposeA: false, transposeB: false, m: (t - shift) * b, n: channels, k: f, a: dy + shift * b * f,
                lda: f, b: buffers.taps + (k - 1 - shift) * channels, ldb: width, beta: shift == 0 ? 0 : 1,
                c: inputGradient, ldc: channels)
        }
    }

    /// Class layer, dense layers and pooling; leaves d loss / d top-layer output in
    /// `layers[top].outputGradient` (and the final forward state's gradient in `featureGradient`).
    private func backwardHead(parameters p: UnsafePointer<Float>, gradients g: UnsafeMutablePointer<Float>) {
        let arch = layout.architecture
        let h = arch.hiddenSize, dh = arch.featureSize
        let b = batchSize, t = timesteps
        let dropout = trainingMode && arch.dropout.head > 0
        var upstream = UnsafePointer(logitGradient)
        for (index, layer) in layout.dense.enumerated().reversed() {
            let stage = stages[index]
            BLAS.sgemm(
                transposeA: true, transposeB: false, m: layer.rows, n: layer.inputs, k: b, a: upstream,
                lda: layer.rows, b: stage.input, ldb: layer.inputs, beta: 1, c: g + layer.weight, ldc: layer.inputs)
            addColumnSums(g + layer.bias, upstream, count: b, width: layer.rows, stride: layer.rows)
            BLAS.sgemm(
                transposeA: false, transposeB: false, m: b, n: layer.inputs, k: layer.rows, a: upstream,
                lda: layer.rows, b: p + layer.weight, ldb: layer.inputs, beta: 0, c: stage.gradient, ldc: layer.inputs)
            let count = b * layer.inputs
            if dropout {
                for i in 0..<count { stage.gradient[i] *= stage.mask[i] }
            }
            if let z = stage.preActivation {
                for i in 0..<count where z[i] <= 0 { stage.gradient[i] = 0 }
            }
            upstream = UnsafePointer(stage.gradient)
        }
        featureGradient.update(from: upstream, count: b * dh)

        let top = layers[arch.numLayers - 1]
        top.outputGradient.update(repeating: 0, count: t * b * dh)
        switch arch.head {
        case .last:
            if arch.bidirectional {
                for sample in 0..<b {
                    (top.outputGradient + sample * dh + h).update(from: featureGradient + sample * dh + h, count: h)
                }
            }
        case .attention:
            let (weightOffset, biasOffset) = layout.attention!
            let w = p + weightOffset
            for sample in 0..<b {
                let length = lengths[sample]
                let dPooled = featureGradient + sample * dh
                // da_t = dPooled·y_t; ds_t = a_t (da_t - Σ_u a_u da_u).
                var weighted: Float = 0
                for time in 0..<length {
                    let y = top.output + (time * b + sample) * dh
                    var dot: Float = 0
                    for j in 0..<dh { dot += dPooled[j] * y[j] }
                    weighted += attention[time * b + sample] * dot
                    attentionGradient[time * b + sample] = dot
                }
                for time in 0..<length {
                    let a = attention[time * b + sample]
                    let y = top.output + (time * b + sample) * dh
                    let ds = a * (attentionGradient[time * b + sample] - weighted)
                    let dy = top.outputGradient + (time * b + sample) * dh
                    for j in 0..<dh {
                        dy[j] += a * dPooled[j] + ds * w[j]
                        g[weightOffset + j] += ds * y[j]
                    }
                    g[biasOffset] += ds
                }
            }
        }
    }

    /// One direction of one layer, from the last processed timestep back to the first.
    private func backwardDirection(
        layer: Int, direction: Int, parameters p: UnsafePointer<Float>, gradients g: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, finalHidden: Bool
    ) {
        let arch = layout.architecture
        let h = arch.hiddenSize, dh = arch.featureSize
        let b = batchSize, t = timesteps, rows = b * t
        let offsets = layout.lstm[layer][direction]
        let buffers = layers[layer].directions[direction]
        let outputGradient = layers[layer].outputGradient
        let inputs = offsets.inputSize
        let block = b * h

        nextCellGradient.update(repeating: 0, count: block)
        if finalHidden {
            for sample in 0..<b {
                (nextHiddenGradient + sample * h).update(from: featureGradient + sample * dh, count: h)
            }
        } else {
            nextHiddenGradient.update(repeating: 0, count: block)
        }
        for step in 0..<t {
            let time = direction == 0 ? t - 1 - step : step
            let previous = direction == 0 ? time : time + 1
            let gateGradient = buffers.gateGradient + time * b * 4 * h
            for sample in 0..<b {
                let dh0 = hiddenGradient + sample * h
                let carried = nextHiddenGradient + sample * h
                let row = time * b + sample
                if time < lengths[sample] {
                    let fromAbove = outputGradient + row * dh + direction * h
                    var j = 0
                    while j + 16 <= h {
                        store16(load16(fromAbove + j) + load16(carried + j), dh0 + j)
                        j += 16
                    }
                    while j < h {
                        dh0[j] = fromAbove[j] + carried[j]
                        j += 1
                    }
                    lstmCellBackward(
                        gateGradient: gateGradient + sample * 4 * h, cellGradient: nextCellGradient + sample * h,
                        hiddenGradient: dh0, gates: buffers.gates + row * 4 * h,
                        tanhCell: buffers.tanhCell + row * h,
                        previousCell: buffers.cell + previous * block + sample * h, hiddenSize: h)
                } else {
                    dh0.update(from: carried, count: h)
                    (gateGradient + sample * 4 * h).update(repeating: 0, count: 4 * h)
                }
            }
            if h % 16 == 0 {
                recurrentProduct(
                    nextHiddenGradient, ldc: h, gateGradient, lda: 4 * h, p + offsets.weightHH, ldb: h, m: b, k: 4 * h,
                    n: h, accumulate: false)
            } else {
                BLAS.sgemm(
                    transposeA: false, transposeB: false, m: b, n: h, k: 4 * h, a: gateGradient, lda: 4 * h,
                    b: p + offsets.weightHH, ldb: h, beta: 0, c: nextHiddenGradient, ldc: h)
            }
            for sample in 0..<b where time >= lengths[sample] {
                (nextHiddenGradient + sample * h).update(from: hiddenGradient + sample * h, count: h)
            }
        }

        // [dW_ih | dW_hh] = dGatesᵀ·[X | H_prev] over all T·B rows: one product (`combined` holds
        // the forward pass's [x_t | h_prev] rows), then added to the two gradients.
        let width = inputs + h
        let scratch = weightGradientScratch
        BLAS.sgemm(
            transposeA: true, transposeB: false, m: 4 * h, n: width, k: rows, a: buffers.gateGradient, lda: 4 * h,
            b: buffers.combined, ldb: width, beta: 0, c: scratch, ldc: width)
        for gate in 0..<(4 * h) {
            let source = scratch + gate * width
            let inputRow = g + offsets.weightIH + gate * inputs, recurrentRow = g + offsets.weightHH + gate * h
            for j in 0..<inputs { inputRow[j] += source[j] }
            for j in 0..<h { recurrentRow[j] += source[inputs + j] }
        }
        // Both biases enter every gate row unchanged: each gets the column sums.
        bias.update(repeating: 0, count: 4 * h)
        addColumnSums(bias, buffers.gateGradient, count: rows, width: 4 * h, stride: 4 * h)
        for j in 0..<(4 * h) {
            g[offsets.biasIH + j] += bias[j]
            g[offsets.biasHH + j] += bias[j]
        }
        if let inputGradient {
            BLAS.sgemm(
                transposeA: false, transposeB: false, m: rows, n: inputs, k: 4 * h, a: buffers.gateGradient,
                lda: 4 * h, b: p + offsets.weightIH, ldb: inputs, beta: 1, c: inputGradient, ldc: inputs)
        }
    }
}
