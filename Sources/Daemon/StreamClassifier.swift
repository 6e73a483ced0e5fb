import LSTMKit

/// One stream's model state: what the classifier keeps per stream, and nothing else (sequence
/// tracking and counters are the stream table's). Owned by the serving thread.
final class StreamEngine {
    /// Timesteps consumed since the state was last reset.
    var timesteps = 0
    fileprivate var engine: Engine
    /// The raw timesteps of the current downsampling block `[K, C]` (empty without downsampling):
    /// timestep `n` sits at row `n % K`; when the row `K - 1` is written, their mean is one model step.
    fileprivate var block: [Float]

    fileprivate enum Engine {
        /// One state, never reset except on a gap, eviction or explicit reset.
        case continuous(LSTMState)
        /// ⌈W/hop⌉ staggered states; `starts[slot]` is the timestep its window began, or -1.
        /// With a convolutional front end, `frontEnd` is the stream's own front end (reset only
        /// with the stream), whose output the windows share once past `LSTMModel.frontEndReach`.
        case staggered(states: [LSTMState], starts: [Int], frontEnd: LSTMState?)
        /// The last W raw timesteps in a ring, for models that need the whole window.
        case buffered(ring: [Float])
        /// Held only while `process` mutates the taken-out buffers, so they stay uniquely
        /// referenced and are never copied.
        case detached
    }

    fileprivate init(engine: Engine, block: Int) {
        self.engine = engine
        self.block = [Float](repeating: 0, count: block)
    }

    /// Bytes held by the states and buffers (approximate, for memory accounting).
    var byteCount: Int {
        let blockBytes = block.count * 4
        switch engine {
        case .continuous(let state): return state.byteCount + blockBytes
        case .staggered(let states, let starts, let frontEnd):
            return states.reduce(0) { $0 + $1.byteCount } + starts.count * 8 + (frontEnd?.byteCount ?? 0) + blockBytes
        case .buffered(let ring): return ring.count * 4
        case .detached: return 0
        }
    }
}

/// Turns timesteps into labels for every stream, with one model and one streaming policy.
///
/// Costs per timestep (`L` layers, `H` hidden, `C` channels, window `W`, `hop`):
/// - continuous: one step, O(L·H·(H+C)).
/// - window, unidirectional model (last or attention head): one shared first-layer input
///   projection plus ⌈W/hop⌉ recurrent steps (the staggered windows), so the work does not grow
///   with `W` beyond that factor. Each label is exactly the window's offline forward. With a
///   convolutional front end, each stream also steps its own front end (never reset within the
///   stream) and the projection of its output is shared by the windows at least
///   `frontEndReach` (Σ (k − 1)) steps old, whose own front ends would give the same output;
///   a younger window convolves its own history from zeros, a full step: one front end, the
///   projection, ⌈W/hop⌉ recurrent steps and at most ⌈reach·K/hop⌉ full steps per model step
///   (`K`: the downsampling factor below).
/// - window, bidirectional model, or a model with per-sample normalisation (which needs the whole
///   window's statistics): the last `W` raw timesteps are kept; each label runs the batch forward
///   (preprocessing included) over them, O(W) per label, i.e. O(W/hop) per timestep.
///
/// A model that downsamples by `K` (`Preprocessing.downsample`) keeps `window` and `hop` in raw
/// timesteps, both multiples of `K`: in the step-based modes each stream accumulates `K` raw
/// timesteps and then makes one model step from their mean (`Preprocessing.blockMean`), so the
/// costs above are divided by `K` and stay O(1) per raw timestep. Blocks are aligned to the
/// stream's timesteps since its last reset (timesteps `jK ..< (j+1)K`), so every window, which
/// starts at a multiple of `hop`, is made of whole blocks and each label is exactly the offline
/// forward of its raw window. Such models advance continuous streams one by one (no batching).
///
/// An ensemble of `N` members (`LSTMModel.ensemble`) runs every path for each member and labels
/// with the mean of the members' probabilities: N times the work per timestep and N times the
/// state per stream; batched continuous streams step every member on its own row matrices.
final class StreamClassifier {
    let model: LSTMModel
    let mode: StreamingMode
    let window: Int
    let hop: Int
    private let channels: Int
    private let slots: Int
    private var projection: [Float]
    private var scratch: [Float]
    private var probabilities: [Float]
    private var windowValues: [Float]
    /// A unidirectional model's window, preprocessed (`[W/K, C]`), and the state it is stepped
    /// through for one label; nil for a bidirectional model (it runs `forward`).
    private var preprocessedWindow: [Float]
    private var preprocessingScratch: [Float]
    private let windowState: LSTMState?
    private let stepper: BatchStepper?
    /// `K`: raw timesteps per model step.
    private let downsample: Int
    /// Whether each label needs the whole raw window (bidirectional or per-sample normalisation).
    private let buffers: Bool
    /// The mean of a block, `[C]`; owned by the classifier (freed in `deinit`).
    private let blockInput: UnsafeMutablePointer<Float>
    /// Per-stream state by stream-table slot; made when a slot's first frame arrives.
    private var engines: [StreamEngine?] = []
    /// Fewer pending streams than this run one by one (the fused step beats a small sgemm).
    static let smallestBatch = 4

    deinit {
        blockInput.deallocate()
    }

    /// Whether frames of many streams can be advanced together (`processBatch`).
    var batches: Bool { stepper != nil }

    /// - Throws: `ModelError(.input)` when the policy cannot run on this model.
    init(model: LSTMModel, mode: StreamingMode, hop: Int) throws {
        if mode == .continuous && !model.supportsStep {
            throw ModelError(.input, "continuous mode needs a unidirectional model; this one is bidirectional")
        }
        guard hop >= 1 else { throw ModelError(.input, "hop must be at least 1") }
        let preprocessing = model.file.preprocessing
        let buffers = !model.supportsStep || preprocessing.normalization == .perSample
        if mode == .continuous && preprocessing.normalization == .perSample {
            throw ModelError(
                .input, "continuous mode needs a model without per-sample normalisation (it normalises whole windows)")
        }
        if !buffers && hop % preprocessing.downsample != 0 {
            throw ModelError(
                .input, "hop \(hop) must be a multiple of the model's downsampling factor \(preprocessing.downsample)")
        }
        self.buffers = buffers
        downsample = preprocessing.downsample
        blockInput = .allocate(capacity: model.channels)
        blockInput.initialize(repeating: 0, count: model.channels)
        self.model = model
        self.mode = mode
        self.window = model.file.window
        self.hop = hop
        channels = model.channels
        slots = (window + hop - 1) / hop
        projection = [Float](repeating: 0, count: model.projectionCount)
        scratch = [Float](repeating: 0, count: model.channels)
        probabilities = [Float](repeating: 0, count: model.classCount)
        windowValues = [Float](repeating: 0, count: window * model.channels)
        let stepsWindow = buffers && model.supportsStep
        preprocessedWindow = [Float](repeating: 0, count: stepsWindow ? preprocessing.outputLength(window) * model.channels : 0)
        preprocessingScratch = [Float](repeating: 0, count: stepsWindow ? window * model.channels : 0)
        windowState = stepsWindow ? model.makeState() : nil
        stepper =
            mode == .continuous && preprocessing.downsample == 1 && model.supportsStep ? BatchStepper(model: model) : nil
    }

    /// Consumes one frame for each of several distinct streams at once (continuous mode): the
    /// states advance together through `BatchStepper`; `emit(index, timesteps, probabilities)`
    /// is called for each label due, in timestep order per stream (`timesteps`: the stream's
    /// timesteps since its last reset, the labelled one included).
    func processBatch(
        _ slots: [Int], values: [UnsafePointer<Float>], timesteps: [Int],
        emit: (Int, Int, UnsafePointer<Float>) -> Void
    ) {
        let engines = slots.map { engine(slot: $0) }
        guard let stepper, slots.count >= Self.smallestBatch else {
            for index in slots.indices {
                process(engines[index], values: values[index], timesteps: timesteps[index]) { count, probabilities in
                    emit(index, count, probabilities)
                }
            }
            return
        }
        let requests = engines.indices.map { index -> BatchStepper.Request in
            guard case .continuous(let state) = engines[index].engine else {
                preconditionFailure("batched streams are continuous")
            }
            return BatchStepper.Request(state: state, input: values[index], timesteps: timesteps[index])
        }
        let before = engines.map(\.timesteps)
        let hop = self.hop
        stepper.run(requests, shouldLabel: { index, t in (before[index] + t + 1) % hop == 0 }) { index, t, probabilities in
            emit(index, before[index] + t + 1, probabilities)
        }
        for index in engines.indices { engines[index].timesteps = before[index] + timesteps[index] }
    }

    /// The state of the stream in `slot`, made (zero) at its first use.
    func engine(slot: Int) -> StreamEngine {
        if slot >= engines.count { engines.append(contentsOf: repeatElement(nil, count: slot + 1 - engines.count)) }
        if let existing = engines[slot] { return existing }
        let made = makeEngine()
        engines[slot] = made
        return made
    }

    /// Drops the state of the stream in `slot` (evicted or closed).
    func remove(slot: Int) {
        if slot < engines.count { engines[slot] = nil }
    }

    /// Bytes held by every stream's state.
    var byteCount: Int { engines.reduce(0) { $0 + ($1?.byteCount ?? 0) } }

    /// Timesteps the stream in `slot` consumed since its state was last reset.
    func timesteps(slot: Int) -> Int { slot < engines.count ? engines[slot]?.timesteps ?? 0 : 0 }

    /// A state that has seen nothing.
    private func makeEngine() -> StreamEngine {
        let block = downsample > 1 ? downsample * channels : 0
        switch mode {
        case .continuous:
            return StreamEngine(engine: .continuous(model.makeState()), block: block)
        case .window where !buffers:
            return StreamEngine(
                engine: .staggered(
                    states: (0..<slots).map { _ in model.makeState() }, starts: Array(repeating: -1, count: slots),
                    frontEnd: model.sharesInputProjection ? nil : model.makeState()),
                block: block)
        case .window:
            return StreamEngine(engine: .buffered(ring: [Float](repeating: 0, count: window * channels)), block: 0)
        }
    }

    /// Forgets everything the stream in `slot` has seen (a gap, or a control `reset`).
    func reset(slot: Int) {
        guard slot < engines.count, let session = engines[slot] else { return }
        session.timesteps = 0
        switch session.engine {
        case .continuous(let state):
            state.reset()
        case .staggered(let states, _, let frontEnd):
            for state in states { state.reset() }
            // Not needed for the labels (a window uses it only `frontEndReach` steps after its
            // start, when its receptive field holds no timestep before the reset), but a reset
            // stream keeps nothing of its past.
            frontEnd?.reset()
            session.engine = .staggered(states: states, starts: Array(repeating: -1, count: slots), frontEnd: frontEnd)
        case .buffered, .detached:
            break  // the ring is refilled before the next label
        }
    }

    /// Takes over a stream after a model swap (`swap_continuity = replay`): the stream's state is
    /// rebuilt by replaying its last `count` raw timesteps (`values`, `[count, C]`, at most `W`) as
    /// if they were its timesteps `total - count ..< total`, without emitting labels. In window
    /// mode every window still due ends after `total - W`, so it lies in the replayed stretch and
    /// the next label is exactly the new model's forward of its window; in continuous mode the
    /// state is the forward over those `count` timesteps only (an approximation of "everything
    /// since the last reset").
    func prime(slot: Int, values: [Float], count: Int, total: Int) {
        if slot < engines.count { engines[slot] = nil }
        let engine = engine(slot: slot)
        engine.timesteps = max(0, total - count)
        guard count > 0 else { return }
        values.withUnsafeBufferPointer { buffer in
            process(engine, values: buffer.baseAddress!, timesteps: count) { _, _ in }
        }
    }

    /// Advances the stream in `slot` by `count` raw timesteps (`values`, `[count, C]`) without
    /// emitting labels: a state primed before a swap catches up on the timesteps that arrived
    /// while it was primed (the old model labelled them).
    func advance(slot: Int, values: UnsafePointer<Float>, count: Int) {
        guard count > 0 else { return }
        process(engine(slot: slot), values: values, timesteps: count) { _, _ in }
    }

    /// Consumes one frame of the stream in `slot`; see `process(_:values:timesteps:emit:)`.
    func process(
        slot: Int, values: UnsafePointer<Float>, timesteps: Int, emit: (Int, UnsafePointer<Float>) -> Void
    ) {
        process(engine(slot: slot), values: values, timesteps: timesteps, emit: emit)
    }

    /// Consumes `timesteps` raw timesteps ([T, C]) and calls `emit(timesteps, probabilities)`
    /// with the class probabilities [K] each time a label is due (`timesteps`: consumed since the
    /// last reset, the labelled one included).
    func process(
        _ session: StreamEngine, values: UnsafePointer<Float>, timesteps: Int,
        emit: (Int, UnsafePointer<Float>) -> Void
    ) {
        let c = channels
        switch session.engine {
        case .continuous(let state):
            for t in 0..<timesteps {
                guard let input = blockStep(session, values + t * c) else { continue }
                model.step(state, input: input)
                if session.timesteps % hop == 0 { label(state, session.timesteps, emit) }
            }
        case .staggered(let states, var starts, let frontEnd):
            session.engine = .detached
            let k = downsample, reach = model.frontEndReach
            for t in 0..<timesteps {
                guard let input = blockStep(session, values + t * c) else { continue }
                // The model step covers raw timesteps n ..< n + K.
                let n = session.timesteps - k
                if n % hop == 0 {
                    let slot = (n / hop) % slots
                    states[slot].reset()
                    starts[slot] = n
                }
                projection.withUnsafeMutableBufferPointer { p in
                    if let frontEnd {
                        model.projectInput(input, into: p.baseAddress!, frontEndState: frontEnd)
                    } else {
                        scratch.withUnsafeMutableBufferPointer { s in
                            model.projectInput(input, into: p.baseAddress!, scratch: s.baseAddress!)
                        }
                    }
                }
                projection.withUnsafeBufferPointer { p in
                    for slot in 0..<slots where starts[slot] >= 0 {
                        // A window younger than the front end's reach still convolves its own
                        // zeros (its steps so far: (n - start) / K).
                        if (n - starts[slot]) / k < reach {
                            model.step(states[slot], input: input)
                        } else {
                            model.step(states[slot], projectedInput: p.baseAddress!)
                        }
                        if n + k - starts[slot] == window {
                            label(states[slot], session.timesteps, emit)
                            starts[slot] = -1
                        }
                    }
                }
            }
            session.engine = .staggered(states: states, starts: starts, frontEnd: frontEnd)
        case .buffered(var ring):
            session.engine = .detached
            for t in 0..<timesteps {
                let n = session.timesteps
                let slot = n % window
                for j in 0..<c { ring[slot * c + j] = values[t * c + j] }
                session.timesteps += 1
                let seen = n + 1
                if seen >= window && (seen - window) % hop == 0 {
                    // Unroll the ring oldest first and run the whole window.
                    for k in 0..<window {
                        let source = ((seen + k) % window) * c
                        for j in 0..<c { windowValues[k * c + j] = ring[source + j] }
                    }
                    if let state = windowState {
                        labelWindow(state, seen, emit)
                    } else if let result = try? model.forward(windowValues, batchSize: 1, timesteps: window, threads: 1) {
                        result.probabilities.withUnsafeBufferPointer { emit(seen, $0.baseAddress!) }
                    }
                }
            }
            session.engine = .buffered(ring: ring)
        case .detached:
            preconditionFailure("a stream is being processed re-entrantly")
        }
    }

    /// Counts one raw timestep of `session` and returns the model step it completes: the timestep
    /// itself without downsampling, else the mean of its block once the block's last timestep
    /// arrives (nil before). The pointer is valid until the next call.
    private func blockStep(_ session: StreamEngine, _ raw: UnsafePointer<Float>) -> UnsafePointer<Float>? {
        let n = session.timesteps
        session.timesteps += 1
        guard downsample > 1 else { return raw }
        let c = channels, row = n % downsample
        session.block.withUnsafeMutableBufferPointer { block in
            (block.baseAddress! + row * c).update(from: raw, count: c)
        }
        guard row == downsample - 1 else { return nil }
        session.block.withUnsafeBufferPointer { block in
            Preprocessing.blockMean(block.baseAddress!, count: downsample, channels: c, into: blockInput)
        }
        return UnsafePointer(blockInput)
    }

    /// Labels the raw window in `windowValues` with the single-stream step (a unidirectional,
    /// per-sample-normalised model): preprocess it as `forward` does, step a fresh state through
    /// it and classify. The same work as the batch forward of one window, without its batch-of-one
    /// GEMMs and allocations (~8x faster at H=64, L=2, W=100).
    private func labelWindow(_ state: LSTMState, _ timesteps: Int, _ emit: (Int, UnsafePointer<Float>) -> Void) {
        let c = channels, preprocessing = model.file.preprocessing
        windowValues.withUnsafeBufferPointer { raw in
            preprocessedWindow.withUnsafeMutableBufferPointer { out in
                preprocessingScratch.withUnsafeMutableBufferPointer { scratch in
                    preprocessing.apply(
                        raw.baseAddress!, length: window, channels: c, into: out.baseAddress!, scratch: scratch.baseAddress!)
                }
            }
        }
        state.reset()
        preprocessedWindow.withUnsafeBufferPointer { steps in
            for row in 0..<preprocessing.outputLength(window) { model.step(state, input: steps.baseAddress! + row * c) }
        }
        label(state, timesteps, emit)
    }

    private func label(_ state: LSTMState, _ timesteps: Int, _ emit: (Int, UnsafePointer<Float>) -> Void) {
        probabilities.withUnsafeMutableBufferPointer { p in
            model.classify(state, probabilities: p.baseAddress!)
            emit(timesteps, UnsafePointer(p.baseAddress!))
        }
    }
}
