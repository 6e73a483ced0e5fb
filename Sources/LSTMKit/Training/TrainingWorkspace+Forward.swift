import Foundation

extension TrainingWorkspace {
    /// Runs the network over the prepared batch: LSTM layers, head, class layer, softmax.
    ///
    /// Afterwards `logits` and `probabilities` hold [B, K]. With `training`, dropout is applied at
    /// the positions the architecture records (input, between layers, before each head layer)
    /// with masks drawn from `generator`; without it the pass equals inference.
    /// - Parameter parameters: the flat buffer laid out by `layout`.
    public func forward(parameters p: UnsafePointer<Float>, training: Bool, generator: inout SplitMix64) {
        let arch = layout.architecture
        let c = arch.inputSize, dh = arch.featureSize
        let rows = batchSize * timesteps
        trainingMode = training
        var x = UnsafePointer(input)
        if training && arch.dropout.input > 0 {
            applyDropout(
                inputDropped, mask: inputMask, source: input, count: rows * c, probability: arch.dropout.input,
                generator: &generator)
            x = UnsafePointer(inputDropped)
        }
        validRows = 0
        for sample in 0..<batchSize { validRows += lengths[sample] }
        usedBatchStatistics = training
        for index in convolutions.indices {
            x = forwardConvolution(index, input: x, parameters: p, training: training)
        }
        for layer in 0..<arch.numLayers {
            if layer > 0 {
                x = UnsafePointer(layers[layer - 1].output)
                if training && arch.dropout.betweenLayers > 0, let dropped = layers[layer].dropped {
                    applyDropout(
                        dropped, mask: layers[layer].mask!, source: x, count: rows * dh,
                        probability: arch.dropout.betweenLayers, generator: &generator)
                    x = UnsafePointer(dropped)
                }
            }
            for direction in 0..<arch.directions {
                forwardDirection(layer: layer, direction: direction, input: x, parameters: p)
            }
        }
        forwardHead(parameters: p, training: training, generator: &generator)
    }

    /// Front-end layer `index`: causal convolution, batch normalisation (over the valid rows'
    /// statistics in training, the running ones otherwise), ReLU. Returns its output.
    private func forwardConvolution(
        _ index: Int, input x: UnsafePointer<Float>, parameters p: UnsafePointer<Float>, training: Bool
    ) -> UnsafePointer<Float> {
        let offsets = layout.frontEnd[index], buffers = convolutions[index]
        let b = batchSize, t = timesteps, rows = b * t, f = offsets.filters
        let channels = offsets.inputs, k = offsets.kernel, width = channels * k
        let weight = p + offsets.weight, taps = buffers.taps
        for filter in 0..<f {
            for c in 0..<channels {
                for j in 0..<k { taps[filter * width + j * channels + c] = weight[filter * width + c * k + j] }
            }
        }
        tapColumns(x, into: buffers.columns, batch: b, timesteps: t, channels: channels, kernel: k)
        let z = buffers.normalized
        BLAS.sgemm(
            transposeA: false, transposeB: true, m: rows, n: f, k: width, a: buffers.columns, lda: width,
            b: taps, ldb: width, beta: 0, c: z, ldc: f)
        if training && validRows > 0 {
            // Mean and biased variance over the valid rows: each timestep's rows summed in Float,
            // the timesteps in Double.
            let sum = statisticsScratch, square = statisticsScratch + f
            sum.update(repeating: 0, count: 2 * f)
            let n = Double(validRows)
            let partial = partialScratch, mean = partialScratch + f
            for time in 0..<t {
                partial.update(repeating: 0, count: f)
                for sample in 0..<b where time < lengths[sample] {
                    let row = z + (time * b + sample) * f
                    for j in 0..<f { partial[j] += row[j] }
                }
                for j in 0..<f { sum[j] += Double(partial[j]) }
            }
            for j in 0..<f {
                sum[j] /= n
                mean[j] = Float(sum[j])
            }
            for time in 0..<t {
                partial.update(repeating: 0, count: f)
                for sample in 0..<b where time < lengths[sample] {
                    let row = z + (time * b + sample) * f
                    for j in 0..<f {
                        let centred = row[j] - mean[j]
                        partial[j] += centred * centred
                    }
                }
                for j in 0..<f { square[j] += Double(partial[j]) }
            }
            for j in 0..<f {
                buffers.mean[j] = mean[j]
                buffers.variance[j] = Float(square[j] / n)
            }
        } else {
            buffers.mean.update(from: p + offsets.runningMean, count: f)
            buffers.variance.update(from: p + offsets.runningVariance, count: f)
        }
        for j in 0..<f { buffers.inverseDeviation[j] = 1 / (buffers.variance[j] + Architecture.normalizationEpsilon).squareRoot() }
        let gamma = p + offsets.scale, beta = p + offsets.shift
        for time in 0..<t {
            for sample in 0..<b {
                let row = (time * b + sample) * f
                let normalized = z + row, out = buffers.output + row
                if time < lengths[sample] {
                    for j in 0..<f {
                        let value = (normalized[j] - buffers.mean[j]) * buffers.inverseDeviation[j]
                        normalized[j] = value
                        out[j] = max(gamma[j] * value + beta[j], 0)
                    }
                } else {
                    normalized.update(repeating: 0, count: f)
                    out.update(repeating: 0, count: f)
                }
            }
        }
        return UnsafePointer(buffers.output)
    }

    /// Layers with fewer inputs than this run their input projection inside the per-step product.
    static let fusedInputLimit = 16

    /// One direction of one layer over every timestep of the batch.
    private func forwardDirection(layer: Int, direction: Int, input x: UnsafePointer<Float>, parameters p: UnsafePointer<Float>) {
        let arch = layout.architecture
        let h = arch.hiddenSize, dh = arch.featureSize
        let b = batchSize, t = timesteps, rows = b * t
        let offsets = layout.lstm[layer][direction]
        let buffers = layers[layer].directions[direction]
        let output = layers[layer].output
        let inputs = offsets.inputSize

        // [W_ih | W_hh]ᵀ [In+H, 4H] (the parameters change between batches); the summed bias
        // (b_ih + b_hh) is added per step, while the row is in cache.
        for j in 0..<(4 * h) { bias[j] = p[offsets.biasIH + j] + p[offsets.biasHH + j] }
        let width = inputs + h
        let inputWeights = p + offsets.weightIH, recurrent = p + offsets.weightHH
        let stacked = buffers.stackedTransposed, recurrentTransposed = stacked + inputs * 4 * h
        for gate in 0..<(4 * h) {
            for j in 0..<inputs { stacked[j * 4 * h + gate] = inputWeights[gate * inputs + j] }
            for j in 0..<h { recurrentTransposed[j * 4 * h + gate] = recurrent[gate * h + j] }
        }
        // Z = [X | H_prev]: the inputs now, each step's starting state as the step begins.
        let combined = buffers.combined
        for row in 0..<rows { (combined + row * width).update(from: x + row * inputs, count: inputs) }
        let ownKernel = (4 * h) % 16 == 0
        // A layer with few inputs (the first, on a handful of channels) multiplies [x_t | h_prev]
        // in one per-step product: BLIS's whole-window projection runs at a fraction of its rate
        // when k is that small. Otherwise G = X·W_ihᵀ for all rows at once.
        let fused = ownKernel && inputs < Self.fusedInputLimit
        if !fused {
            BLAS.sgemm(
                transposeA: false, transposeB: false, m: rows, n: 4 * h, k: inputs, a: x, lda: inputs,
                b: stacked, ldb: 4 * h, beta: 0, c: buffers.gates, ldc: 4 * h)
        }

        let block = b * h
        let zeroBlock = direction == 0 ? 0 : t
        (buffers.hidden + zeroBlock * block).update(repeating: 0, count: block)
        (buffers.cell + zeroBlock * block).update(repeating: 0, count: block)
        for step in 0..<t {
            let time = direction == 0 ? step : t - 1 - step
            let previous = direction == 0 ? time : time + 1
            let current = direction == 0 ? time + 1 : time
            let hPrevious = buffers.hidden + previous * block, cPrevious = buffers.cell + previous * block
            let hCurrent = buffers.hidden + current * block, cCurrent = buffers.cell + current * block
            let gates = buffers.gates + time * b * 4 * h
            let z = combined + time * b * width
            for sample in 0..<b { (z + sample * width + inputs).update(from: hPrevious + sample * h, count: h) }
            if fused {
                recurrentProduct(
                    gates, ldc: 4 * h, z, lda: width, stacked, ldb: 4 * h, m: b, k: width, n: 4 * h, accumulate: false)
            } else if step > 0 && ownKernel {
                recurrentProduct(
                    gates, ldc: 4 * h, z + inputs, lda: width, recurrentTransposed, ldb: 4 * h, m: b, k: h, n: 4 * h,
                    accumulate: true)
            } else if step > 0 {
                BLAS.sgemm(
                    transposeA: false, transposeB: true, m: b, n: 4 * h, k: h, a: hPrevious, lda: h,
                    b: p + offsets.weightHH, ldb: h, beta: 1, c: gates, ldc: 4 * h)
            }
            for sample in 0..<b {
                let out = output + (time * b + sample) * dh + direction * h
                if time < lengths[sample] {
                    lstmCellForward(
                        hidden: hCurrent + sample * h, cell: cCurrent + sample * h,
                        tanhCell: buffers.tanhCell + (time * b + sample) * h, gates: gates + sample * 4 * h,
                        bias: bias, previousCell: cPrevious + sample * h, hiddenSize: h)
                    out.update(from: hCurrent + sample * h, count: h)
                } else {
                    (hCurrent + sample * h).update(from: hPrevious + sample * h, count: h)
                    (cCurrent + sample * h).update(from: cPrevious + sample * h, count: h)
                    out.update(repeating: 0, count: h)
                }
            }
        }
    }

    /// Pooling, dense layers and the class layer.
    private func forwardHead(parameters p: UnsafePointer<Float>, training: Bool, generator: inout SplitMix64) {
        let arch = layout.architecture
        let h = arch.hiddenSize, dh = arch.featureSize, k = arch.numClasses
        let b = batchSize, t = timesteps
        let top = layers[arch.numLayers - 1]
        switch arch.head {
        case .last:
            let final = top.directions[0].hidden + t * b * h
            for sample in 0..<b {
                (features + sample * dh).update(from: final + sample * h, count: h)
                if arch.bidirectional {
                    (features + sample * dh + h).update(from: top.output + sample * dh + h, count: h)
                }
            }
        case .attention:
            // The engine's pooling (`AttentionPooling`), then the softmax weights a_t the backward
            // pass needs, from the same running maximum and sum.
            let (weightOffset, biasOffset) = layout.attention!
            let pooling = AttentionPooling(weights: p + weightOffset, bias: p[biasOffset], width: dh)
            for sample in 0..<b {
                let length = lengths[sample]
                let pooled = features + sample * dh
                var largest: Float = 0, total: Float = 0
                for time in 0..<length {
                    attention[time * b + sample] = pooling.fold(
                        sum: pooled, largest: &largest, total: &total, top.output + (time * b + sample) * dh,
                        first: time == 0)
                }
                pooling.finish(pooled, sum: pooled, total: total)
                for time in 0..<t {
                    attention[time * b + sample] =
                        time < length ? pooling.weight(score: attention[time * b + sample], largest: largest, total: total) : 0
                }
            }
        }

        let dropout = training && arch.dropout.head > 0
        for (index, layer) in layout.dense.enumerated() {
            let stage = stages[index]
            let source: UnsafePointer<Float>
            if index == 0 {
                source = UnsafePointer(features)
            } else {
                // ReLU of the previous layer's output.
                let z = stage.preActivation!
                for i in 0..<(b * layer.inputs) { stage.input[i] = max(z[i], 0) }
                source = UnsafePointer(stage.input)
            }
            if dropout {
                applyDropout(
                    stage.input, mask: stage.mask, source: source, count: b * layer.inputs,
                    probability: arch.dropout.head, generator: &generator)
            } else if index == 0 {
                stage.input.update(from: source, count: b * layer.inputs)
            }
            let isLast = index == layout.dense.count - 1
            let out = isLast ? logits : stages[index + 1].preActivation!
            for sample in 0..<b { (out + sample * layer.rows).update(from: p + layer.bias, count: layer.rows) }
            BLAS.sgemm(
                transposeA: false, transposeB: true, m: b, n: layer.rows, k: layer.inputs, a: stage.input,
                lda: layer.inputs, b: p + layer.weight, ldb: layer.inputs, beta: 1, c: out, ldc: layer.rows)
        }
        // Probabilities exactly as the inference engine computes them.
        probabilities.update(from: logits, count: b * k)
        for sample in 0..<b { softmaxInPlace(probabilities + sample * k, count: k) }
    }

    /// Cross-entropy of the last forward pass against `labels`.
    /// - Parameter classWeights: [K] per-class loss weights, or `nil` for 1.
    /// - Returns: `Σ_b w[y_b]·(-log p_b[y_b])`, `Σ_b w[y_b]`, and how many argmax predictions
    ///   equal the label.
    public func loss(classWeights: UnsafePointer<Float>?) -> (weightedSum: Double, weightSum: Double, correct: Int) {
        let k = layout.architecture.numClasses
        var total = 0.0, weights = 0.0, correct = 0
        for sample in 0..<batchSize {
            let label = labels[sample]
            let row = probabilities + sample * k
            let w = Double(classWeights?[label] ?? 1)
            total += w * Self.negativeLogLikelihood(logits + sample * k, label: label, count: k)
            weights += w
            var best = 0
            for j in 1..<k where row[j] > row[best] { best = j }
            if best == label { correct += 1 }
        }
        return (total, weights, correct)
    }

    /// `logsumexp(z) - z[label]` in `Double`.
    static func negativeLogLikelihood(_ z: UnsafePointer<Float>, label: Int, count: Int) -> Double {
        var maximum = z[0]
        for j in 1..<count { maximum = max(maximum, z[j]) }
        var sum = 0.0
        for j in 0..<count { sum += Foundation.exp(Double(z[j] - maximum)) }
        return Foundation.log(sum) + Double(maximum) - Double(z[label])
    }
}
