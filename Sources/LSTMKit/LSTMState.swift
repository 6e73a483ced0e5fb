/// One stream's recurrent state for a unidirectional model: per layer the hidden `h` and cell `c`
/// vectors (padded to `Hp`), the running attention pool when the head attends, and scratch space
/// for the head, all in one 64-byte-aligned allocation made once.
///
/// Not `Sendable`: a state belongs to one stream and is advanced by one thread at a time.
public final class LSTMState {
    let layout: Layout
    let storage: UnsafeMutablePointer<Float>
    /// Timesteps consumed since creation or the last `reset()`.
    public internal(set) var steps: Int = 0

    struct Layout {
        let layers: Int
        let inputWidths: [Int]
        let paddedHidden: Int
        /// Offsets of each layer's `z = [x | h]` vector and cell vector.
        let z: [Int]
        let cell: [Int]
        let top: Int
        let attention: Int  // [Hp] weighted sum, then max score, then sum of weights
        let scratch: Int
        let total: Int

        init(model: LSTMModel) {
            let hp = model.paddedHidden
            layers = model.architecture.numLayers
            inputWidths = model.layers.map { $0[0].inputWidth }
            paddedHidden = hp
            var offset = 0
            var z: [Int] = []
            var cell: [Int] = []
            func take(_ count: Int) -> Int {
                defer { offset += (count + 15) / 16 * 16 }
                return offset
            }
            for width in inputWidths {
                z.append(take(width + hp))
                cell.append(take(hp))
            }
            self.z = z
            self.cell = cell
            top = take(hp)
            attention = take(hp + 2)
            scratch = take(2 * model.head.widest + model.classCount)
            total = offset
        }
    }

    init(model: LSTMModel) {
        layout = Layout(model: model)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: layout.total * 4, alignment: 64)
        storage = raw.bindMemory(to: Float.self, capacity: layout.total)
        storage.initialize(repeating: 0, count: layout.total)
    }

    deinit {
        storage.deinitialize(count: layout.total)
        storage.deallocate()
    }

    /// Returns the state to zero, as at creation.
    public func reset() {
        storage.update(repeating: 0, count: layout.total)
        steps = 0
    }

    /// Copies another state of the same model into this one.
    public func copy(from other: LSTMState) {
        precondition(other.layout.total == layout.total, "states belong to different models")
        storage.update(from: other.storage, count: layout.total)
        steps = other.steps
    }

    /// The hidden state `h` of `layer` (unpadded, [H]).
    public func hidden(layer: Int, hiddenSize: Int) -> [Float] {
        let base = storage + layout.z[layer] + layout.inputWidths[layer]
        return Array(UnsafeBufferPointer(start: base, count: hiddenSize))
    }

    /// The cell state `c` of `layer` (unpadded, [H]).
    public func cell(layer: Int, hiddenSize: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: storage + layout.cell[layer], count: hiddenSize))
    }

    /// Bytes held by this state.
    public var byteCount: Int { layout.total * 4 + MemoryLayout<Int>.size * 4 }
}

extension LSTMModel {
    /// A zeroed state for one stream.
    ///
    /// Requires a unidirectional model (`supportsStep`): a backward direction needs the whole
    /// window and is run by `forward` instead.
    public func makeState() -> LSTMState {
        precondition(supportsStep, "step-wise states need a unidirectional model")
        return LSTMState(model: self)
    }

    /// Advances `state` by one timestep of `C` raw values; the scaler is applied exactly as at
    /// training. O(1): no allocation, no work proportional to any window.
    public func step(_ state: LSTMState, input: UnsafePointer<Float>) {
        file.scaler.apply(input, into: state.storage + state.layout.z[0])
        advance(state, projected: nil)
    }

    /// Advances `state` by one timestep of `C` raw values given as an array.
    public func step(_ state: LSTMState, input: [Float]) {
        precondition(input.count == channels, "step needs \(channels) values, got \(input.count)")
        input.withUnsafeBufferPointer { step(state, input: $0.baseAddress!) }
    }

    /// The first layer's gate preactivations `W_ih·scale(x) + b` for one timestep of raw values,
    /// into `projection` [4·Hp]. Several states that consume the same timestep (the staggered
    /// windows of one stream) share it through `step(_:projectedInput:)`.
    /// - Parameter scratch: at least `C` floats.
    public func projectInput(
        _ input: UnsafePointer<Float>, into projection: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>
    ) {
        file.scaler.apply(input, into: scratch)
        let first = layers[0][0]
        first.fused.withUnsafeBufferPointer { w in
            first.bias.withUnsafeBufferPointer { bias in
                lstmProject(
                    projection, weights: w.baseAddress!, blockStride: first.blockStride,
                    input: scratch, count: first.inputWidth, preactivation: bias.baseAddress!,
                    blocks: paddedHidden / 16)
            }
        }
    }

    /// Advances `state` by one timestep whose first-layer projection was computed by
    /// `projectInput(_:into:scratch:)`; only the recurrent part is computed here.
    public func step(_ state: LSTMState, projectedInput: UnsafePointer<Float>) {
        advance(state, projected: projectedInput)
    }

    func advance(_ state: LSTMState, projected: UnsafePointer<Float>?) {
        let layout = state.layout
        let hp = paddedHidden
        let base = state.storage
        for layer in 0..<layout.layers {
            let packed = layers[layer][0]
            let z = base + layout.z[layer]
            let out = layer + 1 < layout.layers ? base + layout.z[layer + 1] : base + layout.top
            packed.fused.withUnsafeBufferPointer { w in
                if layer == 0, let projected {
                    lstmCellStep(
                        hidden: out, cell: base + layout.cell[layer],
                        weights: w.baseAddress! + packed.inputWidth * 64, blockStride: packed.blockStride,
                        input: z + packed.inputWidth, count: hp, preactivation: projected, blocks: hp / 16)
                } else {
                    packed.bias.withUnsafeBufferPointer { bias in
                        lstmCellStep(
                            hidden: out, cell: base + layout.cell[layer],
                            weights: w.baseAddress!, blockStride: packed.blockStride,
                            input: z, count: packed.inputWidth + hp, preactivation: bias.baseAddress!,
                            blocks: hp / 16)
                    }
                }
            }
            (z + packed.inputWidth).update(from: out, count: hp)
        }
        if head.attention != nil {
            // Online softmax pooling: running maximum m, weight sum s, weighted sum a.
            let top = base + layout.top
            let pool = base + layout.attention
            let score = attentionScore(top)
            if state.steps == 0 {
                pool.update(from: top, count: hp)
                pool[hp] = score
                pool[hp + 1] = 1
            } else {
                let largest = max(pool[hp], score)
                let decay = expf(pool[hp] - largest), weight = expf(score - largest)
                for j in 0..<hp { pool[j] = pool[j] * decay + top[j] * weight }
                pool[hp] = largest
                pool[hp + 1] = pool[hp + 1] * decay + weight
            }
        }
        state.steps += 1
    }

    /// The class probabilities [K] for `state`: the head applied to the top layer's last output
    /// (`last`) or to the attention pool over every step since the last reset (`attention`).
    /// No allocation.
    public func classify(_ state: LSTMState, probabilities: UnsafeMutablePointer<Float>) {
        let layout = state.layout
        let base = state.storage
        let scratch = base + layout.scratch
        var features = UnsafePointer(base + layout.top)
        if head.attention != nil {
            let hp = paddedHidden
            let pool = base + layout.attention
            let total = pool[hp + 1]
            // The pooled vector goes to the second scratch half's tail; dense layers use the rest.
            let target = scratch + head.widest
            for j in 0..<hp { target[j] = total > 0 ? pool[j] / total : 0 }
            features = UnsafePointer(target)
            applyHead(features: features, logits: nil, probabilities: probabilities, scratch: scratch)
            return
        }
        applyHead(features: features, logits: nil, probabilities: probabilities, scratch: scratch)
    }

    /// The class probabilities for `state` as an array (allocates; for tools and tests).
    public func classify(_ state: LSTMState) -> [Float] {
        [Float](unsafeUninitializedCapacity: classCount) { buffer, count in
            classify(state, probabilities: buffer.baseAddress!)
            count = classCount
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
