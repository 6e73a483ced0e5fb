/// One stream's recurrent state for a unidirectional model: per layer the hidden `h` and cell `c`
/// vectors (padded to `Hp`), the running attention pool when the head attends, and scratch space
/// for the head, all in one 64-byte-aligned allocation made once.
///
/// Not `Sendable`: a state belongs to one stream and is advanced by one thread at a time.
public final class LSTMState {
    /// Layers `L`.
    let layers: Int
    /// Floats in `storage`.
    let total: Int
    /// All vectors. Per layer `l`: `z_l = [x_l | h_l]` at `zOffset(l)`, then `c_l`.
    let storage: UnsafeMutablePointer<Float>
    /// [2L + 3] offsets into storage: z_0, c_0, z_1, c_1, …, top output, attention pool, scratch.
    let offsets: UnsafeMutablePointer<Int>
    let inputWidths: [Int]
    /// Timesteps consumed since creation or the last `reset()`.
    public internal(set) var steps: Int = 0

    init(model: LSTMModel) {
        let hp = model.paddedHidden
        layers = model.architecture.numLayers
        inputWidths = model.layers.map { $0[0].inputWidth }
        offsets = .allocate(capacity: 2 * layers + 3)
        var offset = 0
        func take(_ count: Int) -> Int {
            defer { offset += (count + 15) / 16 * 16 }
            return offset
        }
        for (layer, width) in inputWidths.enumerated() {
            offsets[2 * layer] = take(width + hp)
            offsets[2 * layer + 1] = take(hp)
        }
        offsets[2 * layers] = take(hp)  // top layer output
        offsets[2 * layers + 1] = take(hp + 2)  // attention: Σ w·y [Hp], running max, Σ w
        offsets[2 * layers + 2] = take(2 * model.head.widest + model.classCount)  // head scratch
        total = offset
        let raw = UnsafeMutableRawPointer.allocate(byteCount: total * 4, alignment: 64)
        storage = raw.bindMemory(to: Float.self, capacity: total)
        storage.initialize(repeating: 0, count: total)
    }

    deinit {
        storage.deinitialize(count: total)
        storage.deallocate()
        offsets.deallocate()
    }

    /// Returns the state to zero, as at creation.
    public func reset() {
        storage.update(repeating: 0, count: total)
        steps = 0
    }

    /// Copies another state of the same model into this one.
    public func copy(from other: LSTMState) {
        precondition(other.total == total, "states belong to different models")
        storage.update(from: other.storage, count: total)
        steps = other.steps
    }

    /// The hidden state `h` of `layer` (unpadded, [H]).
    public func hidden(layer: Int, hiddenSize: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: storage + offsets[2 * layer] + inputWidths[layer], count: hiddenSize))
    }

    /// The cell state `c` of `layer` (unpadded, [H]).
    public func cell(layer: Int, hiddenSize: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: storage + offsets[2 * layer + 1], count: hiddenSize))
    }

    /// Bytes held by this state (its allocations and object header).
    public var byteCount: Int { total * 4 + (2 * layers + 3) * 8 + 64 }
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

    /// Scales one timestep of `C` raw values as at training.
    @inline(__always)
    func scale(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        let plan = stepPlan
        for channel in 0..<channels {
            output[channel] = (input[channel] - plan.scaleOffset[channel]) / plan.scaleDivisor[channel]
        }
    }

    /// Advances `state` by one timestep of `C` raw values; the scaler is applied exactly as at
    /// training. O(1): no allocation, no work proportional to any window.
    public func step(_ state: LSTMState, input: UnsafePointer<Float>) {
        scale(input, into: state.storage + state.offsets[0])
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
        scale(input, into: scratch)
        let first = stepPlan.layers[0]
        lstmProject(
            projection, weights: first.fused, blockStride: first.blockStride,
            input: scratch, count: first.inputWidth, preactivation: first.bias, blocks: paddedHidden / 16)
    }

    /// Advances `state` by one timestep whose first-layer projection was computed by
    /// `projectInput(_:into:scratch:)`; only the recurrent part is computed here.
    public func step(_ state: LSTMState, projectedInput: UnsafePointer<Float>) {
        advance(state, projected: projectedInput)
    }

    func advance(_ state: LSTMState, projected: UnsafePointer<Float>?) {
        let plan = stepPlan
        let hp = paddedHidden
        let blocks = hp / 16
        let base = state.storage
        let offsets = state.offsets
        let layerCount = state.layers
        for layer in 0..<layerCount {
            let packed = plan.layers[layer]
            let z = base + offsets[2 * layer]
            let out = base + offsets[layer + 1 < layerCount ? 2 * layer + 2 : 2 * layerCount]
            if layer == 0, let projected {
                lstmCellStep(
                    hidden: out, cell: base + offsets[2 * layer + 1],
                    weights: packed.fused + packed.inputWidth * 64, blockStride: packed.blockStride,
                    input: z + packed.inputWidth, count: hp, preactivation: projected, blocks: blocks)
            } else {
                lstmCellStep(
                    hidden: out, cell: base + offsets[2 * layer + 1],
                    weights: packed.fused, blockStride: packed.blockStride,
                    input: z, count: packed.inputWidth + hp, preactivation: packed.bias, blocks: blocks)
            }
            (z + packed.inputWidth).update(from: out, count: hp)
        }
        accumulateAttention(state, top: base + offsets[2 * layerCount])
        state.steps += 1
    }

    /// Folds the top layer's new output into the state's attention pool (online softmax:
    /// running maximum m, weight sum s, weighted sum a). No-op for the `last` head.
    func accumulateAttention(_ state: LSTMState, top: UnsafePointer<Float>) {
        let plan = stepPlan
        guard let weights = plan.attention else { return }
        let hp = paddedHidden
        let pool = state.storage + state.offsets[2 * state.layers + 1]
        var score = plan.attentionBias
        for j in 0..<hp { score += weights[j] * top[j] }
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

    /// The class probabilities [K] for `state`: the head applied to the top layer's last output
    /// (`last`) or to the attention pool over every step since the last reset (`attention`).
    /// No allocation.
    public func classify(_ state: LSTMState, probabilities: UnsafeMutablePointer<Float>) {
        classify(state, top: state.storage + state.offsets[2 * state.layers], probabilities: probabilities)
    }

    /// As `classify(_:probabilities:)` with the top layer's output read from `top`.
    func classify(_ state: LSTMState, top: UnsafePointer<Float>, probabilities: UnsafeMutablePointer<Float>) {
        let layers = state.layers
        let base = state.storage
        let scratch = base + state.offsets[2 * layers + 2]
        var features = top
        if stepPlan.attention != nil {
            // Pooled vector into the second scratch half: the first dense layer reads it before
            // the second one overwrites it.
            let hp = paddedHidden
            let pool = base + state.offsets[2 * layers + 1]
            let total = pool[hp + 1]
            let target = scratch + head.widest
            for j in 0..<hp { target[j] = total > 0 ? pool[j] / total : 0 }
            features = UnsafePointer(target)
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
