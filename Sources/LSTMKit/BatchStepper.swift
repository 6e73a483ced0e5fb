/// Advances many streams' states together: at each timestep the states with input left are
/// stacked into matrices and every layer's gates are computed with matrix products over the
/// rows (`X·W_ihᵀ` and `H·W_hhᵀ`: on AVX-512 one fused kernel that keeps the gates in registers
/// through the cell update, on AVX2 two `sgemm` calls) instead of one matrix–vector product per
/// stream, so the weights are read once per timestep for the whole batch.
///
/// The step is the single-stream step on rows: each state's `h` and `c` are gathered into a row
/// (`LSTMState.gather`), the cell update is the same kernel (`lstmCellIFGO`), the end of each
/// timestep is the same `LSTMModel.completeStep` (attention pool, step count) and the labels come
/// from the same head, then the rows are scattered back (`LSTMState.scatter`). Results equal
/// `LSTMModel.step` to within float rounding (the summation order of the gate products differs);
/// `BatchStepperTests` checks this for every fixture architecture.
///
/// A convolutional front end is stepped on rows too: each state's input histories are gathered
/// into `[rows, Cin·k]` matrices, moved on in place each timestep and multiplied by the folded
/// weights in one product per layer (`FoldedConvolution.stepRows`), the last layer's output rows
/// being the first LSTM layer's input.
///
/// An ensemble steps every member on its own row matrices (the members' states are gathered and
/// scattered like member 0's) and labels with `LSTMModel.classify`, the members' mean.
///
/// Owned by one thread; its row matrices grow to the largest batch seen and are then reused. Each
/// batch allocates only its small index arrays (row order, inputs, lengths, states: one entry
/// per stream), not per timestep.
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
    /// Request indices, longest first: row `r` belongs to request `order[r]`, and the requests
    /// still running at timestep t are a prefix.
    private var order: [Int] = []
    /// The ensemble's members, member 0 (`model`) first; `[model]` for a single model.
    private let members: [LSTMModel]
    /// Per member, the row matrices, grown to the largest batch seen.
    private var rows: [Rows]
    /// [K] probabilities handed to `emit`.
    private let probabilities: UnsafeMutablePointer<Float>

    /// The batch's row matrices, in one 64-byte-aligned allocation.
    private struct Rows {
        /// Rows each matrix holds.
        let capacity: Int
        let arena: UnsafeMutableRawPointer
        /// [rows, C] scaled inputs of one timestep.
        let inputs: UnsafeMutablePointer<Float>
        /// [rows, 4Hp] gate preactivations of one layer (packed blocks, see `LSTMKernels`).
        let gates: UnsafeMutablePointer<Float>
        /// Per layer: [rows, Hp] hidden states `h` and [rows, Hp] cell states `c`.
        let hidden: [UnsafeMutablePointer<Float>]
        let cells: [UnsafeMutablePointer<Float>]
        /// Per front-end layer: [rows, Cin·k] input histories and [rows, F] outputs.
        let histories: [UnsafeMutablePointer<Float>]
        let features: [UnsafeMutablePointer<Float>]

        init(capacity: Int, model: LSTMModel) {
            let hp = model.paddedHidden, layers = model.architecture.numLayers
            let aligned = { (count: Int) in (count + 15) / 16 * 16 }
            let sizes = [aligned(capacity * model.channels), capacity * 4 * hp]
                + Array(repeating: capacity * hp, count: 2 * layers)
                + model.frontEnd.flatMap { [aligned(capacity * $0.inputs * $0.kernel), aligned(capacity * $0.filters)] }
            let total = sizes.reduce(0, +)
            arena = UnsafeMutableRawPointer.allocate(byteCount: max(total, 16) * 4, alignment: 64)
            let floats = arena.bindMemory(to: Float.self, capacity: max(total, 16))
            floats.initialize(repeating: 0, count: max(total, 16))
            var starts: [UnsafeMutablePointer<Float>] = []
            var offset = 0
            for size in sizes {
                starts.append(floats + offset)
                offset += size
            }
            self.capacity = capacity
            inputs = starts[0]
            gates = starts[1]
            hidden = (0..<layers).map { starts[2 + 2 * $0] }
            cells = (0..<layers).map { starts[3 + 2 * $0] }
            let convolutions = model.frontEnd.indices
            histories = convolutions.map { starts[2 + 2 * layers + 2 * $0] }
            features = convolutions.map { starts[3 + 2 * layers + 2 * $0] }
        }
    }

    /// - Precondition: the model is unidirectional.
    public init(model: LSTMModel) {
        precondition(model.supportsStep, "batched steps need a unidirectional model")
        self.model = model
        members = [model] + model.otherMembers
        rows = members.map { Rows(capacity: 1, model: $0) }
        probabilities = .allocate(capacity: model.classCount)
        probabilities.initialize(repeating: 0, count: model.classCount)
    }

    deinit {
        for matrices in rows { matrices.arena.deallocate() }
        probabilities.deallocate()
    }

    private func reserve(_ count: Int) {
        guard count > rows[0].capacity else { return }
        let capacity = max(count, rows[0].capacity * 2)
        for matrices in rows { matrices.arena.deallocate() }
        rows = members.map { Rows(capacity: capacity, model: $0) }
    }

    /// Member `member`'s part of an ensemble state (the state itself for member 0).
    @inline(__always)
    private static func memberState(_ state: LSTMState, _ member: Int) -> LSTMState {
        member == 0 ? state : state.members[member - 1]
    }

    /// Advances every request's state by its timesteps, in order. After each timestep at which
    /// `shouldLabel(request, timestep)` is true, the class probabilities [K] of that state are
    /// passed to `emit(request, timestep, probabilities)`.
    /// - Precondition: no state appears in two requests.
    public func run(
        _ requests: [Request],
        shouldLabel: (Int, Int) -> Bool,
        emit: (Int, Int, UnsafePointer<Float>) -> Void
    ) {
        let count = requests.count
        guard count > 0 else { return }
        reserve(count)
        let hp = model.paddedHidden, c = model.channels
        let layers = model.architecture.numLayers
        let rows = self.rows, members = self.members
        // Members share the scaler, so the scaled inputs are computed once, in member 0's rows.
        let inputs = rows[0].inputs
        // Everything read per row is looked up once per batch, in row order: each lookup of a
        // request or a member inside the timestep loop cost a retain and a release (16% of the
        // engine at 1,000 streams and one timestep per frame).
        let lengths = requests.map(\.timesteps)
        order = Array(0..<count)
        if lengths.contains(where: { $0 != lengths[0] }) { order.sort { lengths[$0] > lengths[$1] } }
        let rowInputs = order.map { requests[$0].input }
        let rowLengths = order.map { lengths[$0] }
        // Per member, the rows' states (member 0's are the requests' own).
        // Held unretained: `requests` keeps every state alive for the call, and a strong
        // reference per row and visit cost an atomic retain and release each (12% of the engine
        // at 1,000 streams and one timestep per frame).
        let memberStates = members.indices.map { member in
            order.map { Unmanaged.passUnretained(Self.memberState(requests[$0].state, member)) }
        }
        let states = memberStates[0]
        let tops = rows.map { $0.hidden[layers - 1] }
        // Per member, its front end (empty without one), read once per batch, not per timestep.
        let frontEnds = members.map(\.frontEnd)
        /// Calls `body` with every member's state of every row and that row's `h` and `c` in the
        /// member's matrices, per layer.
        func forEachRowLayer(_ body: (LSTMState, Int, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
            for member in members.indices {
                let matrices = rows[member]
                for (row, state) in memberStates[member].enumerated() {
                    state._withUnsafeGuaranteedRef { state in
                        for layer in 0..<layers {
                            body(state, layer, matrices.hidden[layer] + row * hp, matrices.cells[layer] + row * hp)
                        }
                    }
                }
            }
        }
        /// Calls `body` with every member's state of every row, each of its front-end layers and
        /// that layer's history row and width.
        func forEachRowHistory(_ body: (LSTMState, Int, UnsafeMutablePointer<Float>, Int) -> Void) {
            for member in members.indices {
                let matrices = rows[member], convolutions = frontEnds[member]
                guard !convolutions.isEmpty else { continue }
                for (row, state) in memberStates[member].enumerated() {
                    state._withUnsafeGuaranteedRef { state in
                        for (index, convolution) in convolutions.enumerated() {
                            let width = convolution.inputs * convolution.kernel
                            body(state, index, matrices.histories[index] + row * width, width)
                        }
                    }
                }
            }
        }
        forEachRowLayer { state, layer, hidden, cell in state.gather(layer: layer, hidden: hidden, cell: cell) }
        forEachRowHistory { state, index, history, width in state.gather(frontEnd: index, history: history, count: width) }
        var active = count
        for t in 0..<rowLengths[0] {
            while active > 0 && rowLengths[active - 1] <= t { active -= 1 }
            for row in 0..<active {
                model.scale(rowInputs[row] + t * c, into: inputs + row * c)
            }
            for member in members.indices {
                let matrices = rows[member]
                // The first LSTM layer reads the scaled inputs, or the front end's last output.
                var first = UnsafePointer(inputs)
                for (index, convolution) in frontEnds[member].enumerated() {
                    convolution.stepRows(
                        first, rows: active, histories: matrices.histories[index], output: matrices.features[index])
                    first = UnsafePointer(matrices.features[index])
                }
                for layer in 0..<layers {
                    members[member].stepRows(
                        layer: layer, rows: active, input: layer == 0 ? first : UnsafePointer(matrices.hidden[layer - 1]),
                        hidden: matrices.hidden[layer], cell: matrices.cells[layer], gates: matrices.gates)
                }
            }
            for member in members.indices {
                let step = members[member], top = tops[member]
                for (row, state) in memberStates[member].prefix(active).enumerated() {
                    state._withUnsafeGuaranteedRef { step.completeStep($0, top: top + row * hp) }
                }
            }
            for row in 0..<active {
                let index = order[row]
                if shouldLabel(index, t) {
                    states[row]._withUnsafeGuaranteedRef { state in
                        model.classify(state, probabilities: probabilities) { member in UnsafePointer(tops[member] + row * hp) }
                    }
                    emit(index, t, probabilities)
                }
            }
        }
        forEachRowLayer { state, layer, hidden, cell in state.scatter(layer: layer, hidden: hidden, cell: cell) }
        forEachRowHistory { state, index, history, width in state.scatter(frontEnd: index, history: history, count: width) }
    }
}

extension LSTMModel {
    /// One timestep of one layer for `rows` stacked states:
    /// `gates = b + X·W_ihᵀ + H·W_hhᵀ`, then the cell update of every row.
    /// - Parameters:
    ///   - input: [rows, N_in] the layer's input (scaled values, or the layer below's new `h`).
    ///   - hidden: [rows, Hp] `h`, replaced by `h'`.
    ///   - cell: [rows, Hp] `c`, replaced by `c'`.
    ///   - gates: scratch [rows, 4Hp].
    func stepRows(
        layer: Int, rows: Int, input: UnsafePointer<Float>, hidden: UnsafeMutablePointer<Float>,
        cell: UnsafeMutablePointer<Float>, gates: UnsafeMutablePointer<Float>
    ) {
        let hp = paddedHidden
        let packed = layers[layer][0]
        let bias = stepPlan.layers[layer].bias
        // On the AVX-512 path one fused kernel keeps each row's gates in registers from the
        // products to the cell update (bench e2e's engine ceiling on a Zen 5, 1,000 streams T=10:
        // 62% -> 75-78% of the sgemm rate); same bits as the unfused AVX-512 path it
        // replaced (bias, two register-blocked products, the cell kernel).
        if ComputePath.avx512Kernels {
            packed.inputWeights.withUnsafeBufferPointer { wx in
                packed.recurrentWeights.withUnsafeBufferPointer { wh in
                    fusedStepRowsAVX512(
                        hidden: hidden, cell: cell, input: input, inputWidth: packed.inputWidth,
                        inputWeights: wx.baseAddress!, recurrentWeights: wh.baseAddress!, bias: bias, rows: rows,
                        paddedHidden: hp, scratch: gates)
                }
            }
            return
        }
        // AVX2: gates = X·W_x, += H·W_h with BLIS (our register-blocked AVX2 kernel, and a fused
        // AVX2 C kernel like the one above, measured slower at these shapes), then the cell
        // update adds the bias as its second term (no pass that copies the bias into every row).
        func product(_ a: UnsafePointer<Float>, k: Int, _ weights: [Float], beta: Float) {
            weights.withUnsafeBufferPointer { w in
                BLAS.sgemm(
                    m: rows, n: 4 * hp, k: k, a: a, lda: k, b: w.baseAddress!, ldb: 4 * hp, beta: beta, c: gates,
                    ldc: 4 * hp)
            }
        }
        product(input, k: packed.inputWidth, packed.inputWeights, beta: 0)
        product(hidden, k: hp, packed.recurrentWeights, beta: 1)
        for row in 0..<rows {
            lstmCellBlocks(
                hidden: hidden + row * hp, cell: cell + row * hp, gates + row * 4 * hp, bias, blocks: hp / 16)
        }
    }
}
