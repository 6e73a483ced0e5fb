import Foundation

/// The result of a batch forward pass.
public struct ForwardResult: Sendable {
    /// Batch size `B`.
    public var batchSize: Int
    /// Classes `K`.
    public var classCount: Int
    /// [B, K] logits before softmax (an ensemble: the logarithms of the mean probabilities).
    public var logits: [Float]
    /// [B, K] class probabilities.
    public var probabilities: [Float]
    /// Per layer, [B, T, H·D] outputs at valid timesteps (zeros at padding); only when requested.
    public var layerOutputs: [[Float]]

    /// The probabilities of sample `index`.
    public func probabilities(of index: Int) -> ArraySlice<Float> {
        probabilities[index * classCount..<(index + 1) * classCount]
    }

    /// The most probable class index of sample `index` (ties: the lowest index).
    public func predictedClass(of index: Int) -> Int {
        let row = probabilities(of: index)
        return row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }! - index * classCount
    }
}

/// Where parallel chunks of one forward pass write their disjoint rows.
///
/// `@unchecked Sendable`: each chunk writes only the rows of its own samples, and the buffers
/// outlive the parallel section that uses them.
struct ForwardSink: @unchecked Sendable {
    let input: UnsafePointer<Float>
    let logits: UnsafeMutablePointer<Float>
    let probabilities: UnsafeMutablePointer<Float>
    let layerOutputs: [UnsafeMutablePointer<Float>]
}

extension LSTMModel {
    /// Largest number of samples processed together inside `forward`: bounds temporary memory.
    public static let forwardChunk = 256

    /// Threads a batch forward uses (one per core).
    public static let parallelism = ProcessInfo.processInfo.activeProcessorCount

    /// Classifies a batch of windows.
    ///
    /// Inputs are raw (unscaled): the model's preprocessing (`ModelFile.preprocessing`: per-sample
    /// normalisation and downsampling of each sample's valid timesteps) and scaler are applied
    /// first. Each sample `b` uses its first `lengths[b]` timesteps; the rest is padding and is
    /// ignored (PyTorch `pack_padded_sequence` semantics). With downsampling by `K`, the layer
    /// outputs have `⌊T/K⌋` (at least 1) timesteps.
    /// - Parameters:
    ///   - input: [B, T, C] row-major raw values.
    ///   - lengths: [B] valid timesteps per sample, each in 1...T; nil means all T.
    ///   - keepLayerOutputs: also return every layer's outputs (for tests and debugging).
    ///   - threads: chunks of the batch processed in parallel (default: one per core).
    /// - Throws: `ModelError(.input)` when sizes do not match or a value is not finite.
    public func forward(
        _ input: [Float], batchSize: Int, timesteps: Int, lengths: [Int]? = nil,
        keepLayerOutputs: Bool = false, threads: Int = LSTMModel.parallelism
    ) throws -> ForwardResult {
        let c = channels
        guard batchSize >= 0, timesteps >= 1, input.count == batchSize * timesteps * c else {
            throw ModelError(.input, "input holds \(input.count) values, expected B·T·C = \(batchSize)·\(timesteps)·\(c)")
        }
        let lengths = lengths ?? Array(repeating: timesteps, count: batchSize)
        guard lengths.count == batchSize else {
            throw ModelError(.input, "\(lengths.count) lengths given for \(batchSize) samples")
        }
        if let bad = lengths.firstIndex(where: { !(1...timesteps).contains($0) }) {
            throw ModelError(.input, "sample \(bad) has length \(lengths[bad]), expected 1...\(timesteps)")
        }
        for b in 0..<batchSize {
            let base = b * timesteps * c
            if let bad = input[base..<(base + lengths[b] * c)].firstIndex(where: { !$0.isFinite }) {
                throw ModelError(.input, "sample \(b) timestep \((bad - base) / c) channel \((bad - base) % c) is not finite")
            }
        }
        let preprocessing = file.preprocessing
        guard preprocessing.isIdentity else {
            // Each sample's valid timesteps through the model's preprocessing, then padded again.
            let steps = preprocessing.outputLength(timesteps)
            var prepared = [Float](repeating: 0, count: batchSize * steps * c)
            var scratch = [Float](repeating: 0, count: timesteps * c)
            input.withUnsafeBufferPointer { raw in
                prepared.withUnsafeMutableBufferPointer { out in
                    scratch.withUnsafeMutableBufferPointer { s in
                        for b in 0..<batchSize {
                            preprocessing.apply(
                                raw.baseAddress! + b * timesteps * c, length: lengths[b], channels: c,
                                into: out.baseAddress! + b * steps * c, scratch: s.baseAddress!)
                        }
                    }
                }
            }
            return run(
                prepared, batchSize: batchSize, timesteps: steps, lengths: lengths.map { preprocessing.outputLength($0) },
                keepLayerOutputs: keepLayerOutputs, threads: threads)
        }
        return run(
            input, batchSize: batchSize, timesteps: timesteps, lengths: lengths, keepLayerOutputs: keepLayerOutputs,
            threads: threads)
    }

    /// `forward` after the checks and the preprocessing: `input` holds the model's steps. An
    /// ensemble runs every member and averages their probabilities: summed in member order, then
    /// divided by N; its logits are the logarithms of those means (so softmax of them gives them
    /// back), and its layer outputs are member 0's.
    private func run(
        _ input: [Float], batchSize: Int, timesteps: Int, lengths: [Int], keepLayerOutputs: Bool, threads: Int
    ) -> ForwardResult {
        var result = runMember(
            input, batchSize: batchSize, timesteps: timesteps, lengths: lengths, keepLayerOutputs: keepLayerOutputs,
            threads: threads)
        guard !otherMembers.isEmpty else { return result }
        for member in otherMembers {
            let other = member.runMember(
                input, batchSize: batchSize, timesteps: timesteps, lengths: lengths, keepLayerOutputs: false, threads: threads)
            for index in result.probabilities.indices { result.probabilities[index] += other.probabilities[index] }
        }
        let count = Float(ensemble)
        for index in result.probabilities.indices {
            result.probabilities[index] /= count
            result.logits[index] = log(max(result.probabilities[index], .leastNormalMagnitude))
        }
        return result
    }

    /// `run` for this model's own weights (member 0 of an ensemble).
    private func runMember(
        _ input: [Float], batchSize: Int, timesteps: Int, lengths: [Int], keepLayerOutputs: Bool, threads: Int
    ) -> ForwardResult {
        let c = channels, k = classCount
        var result = ForwardResult(
            batchSize: batchSize, classCount: k,
            logits: [Float](repeating: 0, count: batchSize * k),
            probabilities: [Float](repeating: 0, count: batchSize * k),
            layerOutputs: [])
        // Chunks run in parallel, one per core, each with single-threaded BLAS: better than
        // splitting each small per-timestep sgemm across threads.
        let chunk = max(1, min(Self.forwardChunk, (batchSize + threads - 1) / max(1, threads)))
        let starts = Array(stride(from: 0, to: batchSize, by: chunk))
        let width = architecture.featureSize
        let layerCount = keepLayerOutputs ? architecture.numLayers : 0
        let outputs = (0..<layerCount).map { _ in
            let pointer = UnsafeMutablePointer<Float>.allocate(capacity: batchSize * timesteps * width)
            pointer.initialize(repeating: 0, count: batchSize * timesteps * width)
            return pointer
        }
        result.logits.withUnsafeMutableBufferPointer { logits in
            result.probabilities.withUnsafeMutableBufferPointer { probabilities in
                input.withUnsafeBufferPointer { raw in
                    let sink = ForwardSink(
                        input: raw.baseAddress!, logits: logits.baseAddress!,
                        probabilities: probabilities.baseAddress!, layerOutputs: outputs)
                    let work: @Sendable (Int) -> Void = { index in
                        let start = starts[index]
                        let count = min(chunk, batchSize - start)
                        self.forwardChunk(
                            sink.input + start * timesteps * c, batchSize: count, timesteps: timesteps,
                            lengths: Array(lengths[start..<(start + count)]), first: start, sink: sink)
                    }
                    if starts.count == 1 {
                        work(0)
                    } else {
                        DispatchQueue.concurrentPerform(iterations: starts.count, execute: work)
                    }
                }
            }
        }
        for pointer in outputs {
            result.layerOutputs.append(Array(UnsafeBufferPointer(start: pointer, count: batchSize * timesteps * width)))
            pointer.deallocate()
        }
        return result
    }

    private func forwardChunk(
        _ raw: UnsafePointer<Float>, batchSize: Int, timesteps: Int, lengths: [Int], first: Int,
        sink: ForwardSink
    ) {
        let c = channels, hp = paddedHidden, d = architecture.directions, k = classCount
        let h = architecture.hiddenSize
        let rows = batchSize * timesteps
        // Longest first: the samples still running at step s are a prefix of `order`.
        let order = (0..<batchSize).sorted { lengths[$0] > lengths[$1] || (lengths[$0] == lengths[$1] && $0 < $1) }

        var layerInput = [Float](repeating: 0, count: rows * c)
        layerInput.withUnsafeMutableBufferPointer { out in
            for b in 0..<batchSize {
                for t in 0..<lengths[b] {
                    let offset = (b * timesteps + t) * c
                    scale(raw + offset, into: out.baseAddress! + offset)
                }
            }
        }
        var inputWidth = c
        // The convolutional front end, layer by layer over every row (causal: a sample's padding
        // never reaches its valid timesteps).
        for convolution in frontEnd {
            var columns = [Float](repeating: 0, count: rows * convolution.inputs * convolution.kernel)
            var convolved = [Float](repeating: 0, count: rows * convolution.filters)
            layerInput.withUnsafeBufferPointer { x in
                columns.withUnsafeMutableBufferPointer { scratch in
                    convolved.withUnsafeMutableBufferPointer { out in
                        convolution.apply(
                            x.baseAddress!, into: out.baseAddress!, columns: scratch.baseAddress!,
                            batch: batchSize, timesteps: timesteps)
                    }
                }
            }
            layerInput = convolved
            inputWidth = convolution.filters
        }
        var gates = [Float](repeating: 0, count: rows * 4 * hp)
        var recurrent = [Float](repeating: 0, count: batchSize * 4 * hp)
        var hidden = [Float](repeating: 0, count: batchSize * hp)
        var cell = [Float](repeating: 0, count: batchSize * hp)
        var output = [Float]()
        // Per active row, where its input pre-activations of the current timestep start (the
        // fused AVX-512 step reads them through these).
        let preRows = UnsafeMutablePointer<UnsafePointer<Float>?>.allocate(capacity: max(1, batchSize))
        defer { preRows.deallocate() }
        for (layerIndex, directions) in layers.enumerated() {
            output = [Float](repeating: 0, count: rows * d * hp)
            for (direction, packed) in directions.enumerated() {
                gates.withUnsafeMutableBufferPointer { g in
                    // G = bias + X·W_ihᵀ for every row at once.
                    packed.bias.withUnsafeBufferPointer { bias in
                        for row in 0..<rows {
                            (g.baseAddress! + row * 4 * hp).update(from: bias.baseAddress!, count: 4 * hp)
                        }
                    }
                    layerInput.withUnsafeBufferPointer { x in
                        packed.inputWeights.withUnsafeBufferPointer { w in
                            BLAS.sgemm(
                                m: rows, n: 4 * hp, k: inputWidth, a: x.baseAddress!, lda: inputWidth,
                                b: w.baseAddress!, ldb: 4 * hp, beta: 1, c: g.baseAddress!, ldc: 4 * hp)
                        }
                    }
                }
                for index in hidden.indices { hidden[index] = 0 }
                for index in cell.indices { cell[index] = 0 }
                gates.withUnsafeBufferPointer { g in
                    recurrent.withUnsafeMutableBufferPointer { r in
                        hidden.withUnsafeMutableBufferPointer { hs in
                            cell.withUnsafeMutableBufferPointer { cs in
                                output.withUnsafeMutableBufferPointer { out in
                                    packed.recurrentWeights.withUnsafeBufferPointer { whh in
                                        var active = batchSize
                                        for step in 0..<timesteps {
                                            while active > 0 && lengths[order[active - 1]] <= step { active -= 1 }
                                            if active == 0 { break }
                                            if ComputePath.avx512Kernels {
                                                // One fused kernel: the recurrent product stays in
                                                // registers and goes straight into the cell update.
                                                for slot in 0..<active {
                                                    let b = order[slot]
                                                    let t = direction == 0 ? step : lengths[b] - 1 - step
                                                    preRows[slot] = UnsafePointer(g.baseAddress! + (b * timesteps + t) * 4 * hp)
                                                }
                                                fusedWindowStepAVX512(
                                                    hidden: hs.baseAddress!, cell: cs.baseAddress!, pre: preRows,
                                                    recurrentWeights: whh.baseAddress!, rows: active, paddedHidden: hp,
                                                    first: step == 0, scratch: r.baseAddress!)
                                                for slot in 0..<active {
                                                    let b = order[slot]
                                                    let t = direction == 0 ? step : lengths[b] - 1 - step
                                                    (out.baseAddress! + (b * timesteps + t) * d * hp + direction * hp)
                                                        .update(from: hs.baseAddress! + slot * hp, count: hp)
                                                }
                                                continue
                                            }
                                            if step > 0 {
                                                // The register-blocked kernel, not a BLAS call: at a
                                                // batch shard × H × 4H per timestep, packing dominates.
                                                recurrentProduct(
                                                    r.baseAddress!, ldc: 4 * hp, hs.baseAddress!, lda: hp, whh.baseAddress!,
                                                    ldb: 4 * hp, m: active, k: hp, n: 4 * hp, accumulate: false)
                                            }
                                            for slot in 0..<active {
                                                let b = order[slot]
                                                let t = direction == 0 ? step : lengths[b] - 1 - step
                                                let hRow = hs.baseAddress! + slot * hp
                                                lstmCellBlocks(
                                                    hidden: hRow, cell: cs.baseAddress! + slot * hp,
                                                    g.baseAddress! + (b * timesteps + t) * 4 * hp,
                                                    step > 0 ? UnsafePointer(r.baseAddress! + slot * 4 * hp) : nil,
                                                    blocks: hp / 16)
                                                (out.baseAddress! + (b * timesteps + t) * d * hp + direction * hp)
                                                    .update(from: hRow, count: hp)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if layerIndex < sink.layerOutputs.count {
                let width = h * d
                let target = sink.layerOutputs[layerIndex]
                for b in 0..<batchSize {
                    for t in 0..<lengths[b] {
                        for direction in 0..<d {
                            for u in 0..<h {
                                target[((first + b) * timesteps + t) * width + direction * h + u] =
                                    output[(b * timesteps + t) * d * hp + direction * hp + u]
                            }
                        }
                    }
                }
            }
            layerInput = output
            inputWidth = d * hp
        }

        // Head: pool the top layer's outputs, then dense layers and softmax.
        let featureWidth = d * hp
        var features = [Float](repeating: 0, count: featureWidth)
        var scratch = [Float](repeating: 0, count: 2 * head.widest)
        output.withUnsafeBufferPointer { out in
            features.withUnsafeMutableBufferPointer { f in
                for b in 0..<batchSize {
                    let length = lengths[b]
                    let rowBase = out.baseAddress! + b * timesteps * featureWidth
                    if let attention = stepPlan.attention {
                        var largest: Float = 0, total: Float = 0
                        for t in 0..<length {
                            attention.fold(
                                sum: f.baseAddress!, largest: &largest, total: &total, rowBase + t * featureWidth,
                                first: t == 0)
                        }
                        attention.finish(f.baseAddress!, sum: f.baseAddress!, total: total)
                    } else {
                        (f.baseAddress!).update(from: rowBase + (length - 1) * featureWidth, count: hp)
                        if d == 2 {
                            (f.baseAddress! + hp).update(from: rowBase + hp, count: hp)
                        }
                    }
                    scratch.withUnsafeMutableBufferPointer { s in
                        applyHead(
                            features: f.baseAddress!, logits: sink.logits + (first + b) * k,
                            probabilities: sink.probabilities + (first + b) * k, scratch: s.baseAddress!)
                    }
                }
            }
        }
    }
}
