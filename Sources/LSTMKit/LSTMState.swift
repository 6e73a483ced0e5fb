/// One stream's recurrent state for a unidirectional model: per layer the hidden `h` and cell `c`
/// vectors (padded to `Hp`), the running attention pool when the head attends, scratch space for
/// the head, and for a convolutional front end each layer's last `k` inputs, all in one
/// 64-byte-aligned allocation made once.
///
/// `LSTMModel.step` advances it in place. Batched code (`BatchStepper`) does not read this layout:
/// it copies each layer's `h` and `c` (and each front-end layer's input history) into a row of
/// its own matrices with `gather` and back with `scatter`.
///
/// An ensemble's state is member 0's with one such state per other member (`members`), advanced
/// and reset together.
///
/// Not `Sendable`: a state belongs to one stream and is advanced by one thread at a time.
public final class LSTMState {
    /// Layers `L`.
    let layers: Int
    /// Floats in `storage`.
    let total: Int
    /// All vectors. Per layer `l`: `z_l = [x_l | h_l]` at `zOffset(l)`, then `c_l`.
    let storage: UnsafeMutablePointer<Float>
    /// [3L + 4 + P]: offsets into storage (z_0, c_0, z_1, c_1, …, top output, attention pool,
    /// scratch), then each layer's input width `N_in` (where `h_l` starts in `z_l`), then the
    /// offsets of the `P` front-end layers' input histories and of the front-end scratch. In one raw
    /// allocation rather than arrays, so the hot accessors cost no retain.
    let offsets: UnsafeMutablePointer<Int>
    /// `Hp`.
    let paddedHidden: Int
    /// Timesteps consumed since creation or the last `reset()`.
    public internal(set) var steps: Int = 0
    /// The states of ensemble members 1..<N (empty for a single model).
    let members: [LSTMState]
    /// Convolutional front-end layers `P` (0 without a front end).
    let frontEndLayers: Int
    /// Floats in each of the two front-end scratch buffers (`frontEndScratch`).
    let frontEndWidth: Int

    init(model: LSTMModel) {
        members = model.otherMembers.map { LSTMState(model: $0) }
        let hp = model.paddedHidden
        paddedHidden = hp
        layers = model.architecture.numLayers
        frontEndLayers = model.frontEnd.count
        let inputWidths = model.layers.map { $0[0].inputWidth }
        offsets = .allocate(capacity: 3 * layers + 4 + frontEndLayers)
        var offset = 0
        func take(_ count: Int) -> Int {
            defer { offset += (count + 15) / 16 * 16 }
            return offset
        }
        for (layer, width) in inputWidths.enumerated() {
            offsets[2 * layer] = take(width + hp)
            offsets[2 * layer + 1] = take(hp)
            offsets[2 * layers + 3 + layer] = width
        }
        offsets[2 * layers] = take(hp)  // top layer output
        offsets[2 * layers + 1] = take(hp + 2)  // attention: Σ w·y [Hp], running max, Σ w
        offsets[2 * layers + 2] = take(2 * model.head.widest + model.classCount)  // head scratch
        for (index, convolution) in model.frontEnd.enumerated() {
            offsets[3 * layers + 3 + index] = take(convolution.kernel * convolution.inputs)  // input history
        }
        // Front-end scratch: two buffers of its widest input or output.
        let widest = model.frontEnd.reduce(0) { max($0, $1.inputs, $1.filters) }
        frontEndWidth = (widest + 15) / 16 * 16
        offsets[3 * layers + 3 + frontEndLayers] = take(2 * frontEndWidth)
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
        for member in members { member.reset() }
    }

    /// Copies another state of the same model into this one.
    public func copy(from other: LSTMState) {
        precondition(other.total == total && other.members.count == members.count, "states belong to different models")
        storage.update(from: other.storage, count: total)
        steps = other.steps
        for (member, source) in zip(members, other.members) { member.copy(from: source) }
    }

    /// The hidden state `h` of `layer` (unpadded, [H]).
    public func hidden(layer: Int, hiddenSize: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: hiddenVector(layer), count: hiddenSize))
    }

    /// The cell state `c` of `layer` (unpadded, [H]).
    public func cell(layer: Int, hiddenSize: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: cellVector(layer), count: hiddenSize))
    }

    /// Bytes held by this state (its allocations and object header), every member's included.
    public var byteCount: Int {
        total * 4 + (3 * layers + 4 + frontEndLayers) * 8 + 64 + members.reduce(0) { $0 + $1.byteCount }
    }
}

// MARK: Layout

extension LSTMState {
    /// `z_l = [x_l | h_l]` of `layer`: its input (`N_in`) followed by its hidden state (`Hp`).
    @inline(__always)
    func layerInput(_ layer: Int) -> UnsafeMutablePointer<Float> { storage + offsets[2 * layer] }

    /// The hidden state `h` of `layer` [Hp] (the recurrent half of `z_l`).
    @inline(__always)
    func hiddenVector(_ layer: Int) -> UnsafeMutablePointer<Float> { storage + offsets[2 * layer] + offsets[2 * layers + 3 + layer] }

    /// The cell state `c` of `layer` [Hp].
    @inline(__always)
    func cellVector(_ layer: Int) -> UnsafeMutablePointer<Float> { storage + offsets[2 * layer + 1] }

    /// Where a step writes the new `h` of `layer` [Hp]: the next layer's input `x_{l+1}`, or the
    /// top output for the last layer. The step then copies it into `z_l` as well.
    @inline(__always)
    func layerOutput(_ layer: Int) -> UnsafeMutablePointer<Float> {
        storage + offsets[layer + 1 < layers ? 2 * layer + 2 : 2 * layers]
    }

    /// Front-end layer `index`'s input history `[Cin, k]`: each channel's inputs of the last `k`
    /// steps, oldest first, zeros before the first step (the causal padding); see
    /// `FoldedConvolution.step`.
    @inline(__always)
    func frontEndHistory(_ index: Int) -> UnsafeMutablePointer<Float> { storage + offsets[3 * layers + 3 + index] }

    /// Front-end scratch buffer `index` (0 or 1) of `frontEndWidth` floats: a step's scaled input
    /// and the outputs of all but the last front-end layer, alternating.
    @inline(__always)
    func frontEndScratch(_ index: Int) -> UnsafeMutablePointer<Float> {
        storage + offsets[3 * layers + 3 + frontEndLayers] + index * frontEndWidth
    }

    /// The top layer's output `y` [Hp] after the last step.
    @inline(__always)
    var topOutput: UnsafeMutablePointer<Float> { storage + offsets[2 * layers] }

    /// The attention pool [Hp + 2]: `Σ e_t·y_t` [Hp], the largest score, `Σ e_t` (see `AttentionPooling`).
    @inline(__always)
    var attentionPool: UnsafeMutablePointer<Float> { storage + offsets[2 * layers + 1] }

    /// Scratch for the head: two buffers of the head's widest layer, then [K].
    @inline(__always)
    var headScratch: UnsafeMutablePointer<Float> { storage + offsets[2 * layers + 2] }

    /// The last [K] of the head scratch: where an ensemble member's probabilities are put before
    /// they are added to the mean (`LSTMModel.classify`).
    @inline(__always)
    func memberProbabilities(widest: Int) -> UnsafeMutablePointer<Float> { headScratch + 2 * widest }
}

// MARK: Rows

extension LSTMState {
    /// Copies `layer`'s hidden state `h` and cell state `c` (each [Hp]) into one row of a batch.
    ///
    /// With `scatter(layer:hidden:cell:)`, this is how batched code runs the step math on many
    /// states: gather every layer of every state into row matrices, step the matrices, scatter
    /// back. The attention pool and the step count stay in the state; `LSTMModel.completeStep`
    /// updates them once per timestep from the top row.
    @inline(__always)
    func gather(layer: Int, hidden: UnsafeMutablePointer<Float>, cell: UnsafeMutablePointer<Float>) {
        hidden.update(from: hiddenVector(layer), count: paddedHidden)
        cell.update(from: cellVector(layer), count: paddedHidden)
    }

    /// Sets `layer`'s `h` and `c` (each [Hp]) from one row of a batch, together with every copy of
    /// `h` the state keeps (the next layer's input, or the top output), so the state is exactly as
    /// `LSTMModel.step` would have left it.
    @inline(__always)
    func scatter(layer: Int, hidden: UnsafePointer<Float>, cell: UnsafePointer<Float>) {
        hiddenVector(layer).update(from: hidden, count: paddedHidden)
        layerOutput(layer).update(from: hidden, count: paddedHidden)
        cellVector(layer).update(from: cell, count: paddedHidden)
    }

    /// Copies front-end layer `index`'s input history ([Cin·k]) into one row of a batch.
    @inline(__always)
    func gather(frontEnd index: Int, history: UnsafeMutablePointer<Float>, count: Int) {
        history.update(from: frontEndHistory(index), count: count)
    }

    /// Sets front-end layer `index`'s input history ([Cin·k]) from one row of a batch.
    @inline(__always)
    func scatter(frontEnd index: Int, history: UnsafePointer<Float>, count: Int) {
        frontEndHistory(index).update(from: history, count: count)
    }
}
