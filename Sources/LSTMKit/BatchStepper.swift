/// Advances many streams' states together: at each timestep the states with input left are
/// stacked into matrices and every layer's gates are computed with two `sgemm` calls
/// (`X·W_ihᵀ` and `H·W_hhᵀ`) instead of one matrix–vector product per stream, so the weights
/// are read once per timestep for the whole batch. Results equal `LSTMModel.step` to within
/// float rounding (the summation order differs).
///
/// Owned by one thread; its buffers grow to the largest batch seen and are then reused, so a
/// steady stream of batches allocates nothing.
public final class BatchStepper {
    /// One stream's work: its state and `timesteps` raw timesteps at `input` (T × C).
    public struct Request {
        public var state: LSTMState
        public var input: UnsafePointer<Float>
        public var timesteps: Int

        public init(state: LSTMState, input: UnsafePointer<Float>, timesteps: Int) {
            self.state = state
            self.input = input
            self.timesteps = timesteps
        }
    }

    /// The model whose states are advanced.
    public let model: LSTMModel
    private var capacity = 0
    private var order: [Int] = []
    private var inputs: [Float] = []
    private var gates: [Float] = []
    private var hidden: [[Float]]
    private var cells: [[Float]]
    private var probabilities: [Float]

    /// - Precondition: the model is unidirectional.
    public init(model: LSTMModel) {
        precondition(model.supportsStep, "batched steps need a unidirectional model")
        self.model = model
        hidden = Array(repeating: [], count: model.architecture.numLayers)
        cells = Array(repeating: [], count: model.architecture.numLayers)
        probabilities = [Float](repeating: 0, count: model.classCount)
    }

    private func reserve(_ rows: Int) {
        guard rows > capacity else { return }
        capacity = max(rows, capacity * 2)
        let hp = model.paddedHidden
        inputs = [Float](repeating: 0, count: capacity * model.channels)
        gates = [Float](repeating: 0, count: capacity * 4 * hp)
        for layer in hidden.indices {
            hidden[layer] = [Float](repeating: 0, count: capacity * hp)
            cells[layer] = [Float](repeating: 0, count: capacity * hp)
        }
    }

    /// Advances every request's state by its timesteps, in order. After each timestep at which
    /// `shouldLabel(request, timestep)` is true, the class probabilities [K] of that state are
    /// passed to `emit(request, timestep, probabilities)`.
    public func run(
        _ requests: [Request],
        shouldLabel: (Int, Int) -> Bool,
        emit: (Int, Int, UnsafePointer<Float>) -> Void
    ) {
        let count = requests.count
        guard count > 0 else { return }
        reserve(count)
        let hp = model.paddedHidden, c = model.channels
        let plan = model.stepPlan
        let layers = model.architecture.numLayers
        order = (0..<count).sorted { requests[$0].timesteps > requests[$1].timesteps }
        // Gather the states into rows (slot = position in `order`).
        for (slot, index) in order.enumerated() {
            let state = requests[index].state
            for layer in 0..<layers {
                let z = state.storage + state.offsets[2 * layer] + state.inputWidths[layer]
                hidden[layer].withUnsafeMutableBufferPointer { ($0.baseAddress! + slot * hp).update(from: z, count: hp) }
                cells[layer].withUnsafeMutableBufferPointer {
                    ($0.baseAddress! + slot * hp).update(from: state.storage + state.offsets[2 * layer + 1], count: hp)
                }
            }
        }
        var active = count
        let longest = requests[order[0]].timesteps
        for t in 0..<longest {
            while active > 0 && requests[order[active - 1]].timesteps <= t { active -= 1 }
            inputs.withUnsafeMutableBufferPointer { x in
                for slot in 0..<active {
                    model.scale(requests[order[slot]].input + t * c, into: x.baseAddress! + slot * c)
                }
            }
            for layer in 0..<layers {
                let packed = model.layers[layer][0]
                gates.withUnsafeMutableBufferPointer { g in
                    for slot in 0..<active {
                        (g.baseAddress! + slot * 4 * hp).update(from: plan.layers[layer].bias, count: 4 * hp)
                    }
                    let source = layer == 0 ? inputs : hidden[layer - 1]
                    source.withUnsafeBufferPointer { x in
                        packed.inputWeights.withUnsafeBufferPointer { w in
                            BLAS.sgemm(
                                m: active, n: 4 * hp, k: packed.inputWidth, a: x.baseAddress!, lda: packed.inputWidth,
                                b: w.baseAddress!, ldb: 4 * hp, beta: 1, c: g.baseAddress!, ldc: 4 * hp)
                        }
                    }
                    hidden[layer].withUnsafeMutableBufferPointer { h in
                        packed.recurrentWeights.withUnsafeBufferPointer { w in
                            BLAS.sgemm(
                                m: active, n: 4 * hp, k: hp, a: h.baseAddress!, lda: hp,
                                b: w.baseAddress!, ldb: 4 * hp, beta: 1, c: g.baseAddress!, ldc: 4 * hp)
                        }
                        cells[layer].withUnsafeMutableBufferPointer { cs in
                            for slot in 0..<active {
                                lstmPointwiseForward(
                                    hidden: h.baseAddress! + slot * hp, cell: cs.baseAddress! + slot * hp,
                                    g.baseAddress! + slot * 4 * hp, nil, blocks: hp / 16)
                            }
                        }
                    }
                }
            }
            // Head bookkeeping per state: step count, attention pool, labels.
            hidden[layers - 1].withUnsafeBufferPointer { top in
                for slot in 0..<active {
                    let index = order[slot]
                    let state = requests[index].state
                    let row = top.baseAddress! + slot * hp
                    model.accumulateAttention(state, top: row)
                    state.steps += 1
                    if shouldLabel(index, t) {
                        probabilities.withUnsafeMutableBufferPointer { p in
                            model.classify(state, top: row, probabilities: p.baseAddress!)
                            emit(index, t, UnsafePointer(p.baseAddress!))
                        }
                    }
                }
            }
        }
        // Scatter the rows back into the states.
        for (slot, index) in order.enumerated() {
            let state = requests[index].state
            for layer in 0..<layers {
                let z = state.storage + state.offsets[2 * layer] + state.inputWidths[layer]
                hidden[layer].withUnsafeBufferPointer { z.update(from: $0.baseAddress! + slot * hp, count: hp) }
                cells[layer].withUnsafeBufferPointer {
                    (state.storage + state.offsets[2 * layer + 1]).update(from: $0.baseAddress! + slot * hp, count: hp)
                }
                // Layer inputs of the next layer and the top output mirror h, as `step` leaves them.
                let out = state.storage + state.offsets[layer + 1 < layers ? 2 * layer + 2 : 2 * layers]
                out.update(from: z, count: hp)
            }
        }
    }
}
