@testable import Daemon
import LSTMKit
import Testing

/// Streaming labels are exactly the offline batch forward of the windows (or prefixes) they
/// stand for, at exactly the timesteps they are due, whatever the frame sizes.
@Suite struct StreamClassifierTests {
    static let tolerance: Float = 1e-5
    static let window = 20

    /// A small random model, named for test output.
    struct ModelCase: CustomTestStringConvertible, Sendable {
        let name: String
        let architecture: Architecture
        var testDescription: String { name }

        /// The engine; a z-score scaler that is not the identity, so scaling is exercised too.
        /// With `ensemble` N > 1: N members of seeds `seed`, `seed + 1`, … in one file.
        func model(
            window: Int = StreamClassifierTests.window, seed: UInt64 = 7, preprocessing: Preprocessing = .none,
            ensemble: Int = 1
        ) throws -> LSTMModel {
            try LSTMModel(file(window: window, seed: seed, preprocessing: preprocessing, ensemble: ensemble))
        }

        func file(
            window: Int = StreamClassifierTests.window, seed: UInt64 = 7, preprocessing: Preprocessing = .none,
            ensemble: Int = 1
        ) throws -> ModelFile {
            let c = architecture.inputSize
            var generator = SplitMix64(seed: seed &+ 1000)
            let scaler = Scaler.zscore(
                mean: (0..<c).map { _ in generator.uniform(-1, 1) },
                std: (0..<c).map { _ in generator.uniform(0.5, 2) })
            let members = (0..<ensemble).map { member in
                var file = ModelFile.randomlyInitialized(
                    architecture: architecture, window: window, hop: preprocessing.downsample * max(1, 5 / preprocessing.downsample),
                    scaler: scaler, seed: seed &+ UInt64(member))
                file.preprocessing = preprocessing
                return file
            }
            return ensemble == 1 ? members[0] : try ModelFile(ensemble: members, provenance: .object([:]))
        }
    }

    static let unidirectional: [ModelCase] = [
        ModelCase(name: "uni L1 H8 last", architecture: Architecture(inputSize: 3, hiddenSize: 8, numClasses: 4)),
        ModelCase(
            name: "uni L1 H12 attention dense",
            architecture: Architecture(inputSize: 3, hiddenSize: 12, head: .attention, dense: [6], numClasses: 3)),
        ModelCase(name: "uni L2 H10 last", architecture: Architecture(inputSize: 4, hiddenSize: 10, numLayers: 2, numClasses: 5)),
        ModelCase(
            name: "uni L2 H17 attention",
            architecture: Architecture(inputSize: 2, hiddenSize: 17, numLayers: 2, head: .attention, numClasses: 2)),
        // A front end steps too: each state keeps its layers' last k inputs; staggered windows
        // share the stream's own front end once past its reach (6 here), continuous streams
        // batch their histories.
        ModelCase(
            name: "front end 2 layers, uni L1 H8 attention",
            architecture: Architecture(
                inputSize: 3, hiddenSize: 8, head: .attention, numClasses: 4,
                frontEnd: [.init(filters: 6, kernel: 5), .init(filters: 4, kernel: 3)])),
    ]

    static let bidirectional: [ModelCase] = [
        ModelCase(name: "bi L1 H8 last", architecture: Architecture(inputSize: 3, hiddenSize: 8, bidirectional: true, numClasses: 4)),
        ModelCase(
            name: "bi L2 H6 attention dense",
            architecture: Architecture(
                inputSize: 3, hiddenSize: 6, numLayers: 2, bidirectional: true, head: .attention, dense: [5], numClasses: 3)),
    ]

    /// A bidirectional model with a convolutional front end: it recomputes its window per label.
    static let frontEnd: [ModelCase] = [
        ModelCase(
            name: "front end, bi L2 H6 last",
            architecture: Architecture(
                inputSize: 2, hiddenSize: 6, numLayers: 2, bidirectional: true, numClasses: 3,
                frontEnd: [.init(filters: 5, kernel: 4)])),
    ]

    /// Every model that recomputes its window per label.
    static let windowOnly = bidirectional + frontEnd

    /// A label as emitted: the timesteps consumed since the last reset, and the probabilities.
    struct Emitted {
        var at: Int
        var probabilities: [Float]
    }

    /// Feeds `values` ([N, C]) to `session` in frames of random sizes (1...maxFrame) and
    /// collects what is emitted.
    static func feed(
        _ classifier: StreamClassifier, _ session: StreamEngine, _ values: [Float], channels: Int,
        generator: inout SplitMix64, maxFrame: Int = 13
    ) -> [Emitted] {
        var emitted: [Emitted] = []
        let n = values.count / channels
        var start = 0
        while start < n {
            let size = min(n - start, Int(generator.next() % UInt64(maxFrame)) + 1)
            values.withUnsafeBufferPointer { buffer in
                classifier.process(session, values: buffer.baseAddress! + start * channels, timesteps: size) { at, p in
                    emitted.append(Emitted(at: at, probabilities: Array(UnsafeBufferPointer(start: p, count: classifier.model.classCount))))
                }
            }
            start += size
        }
        return emitted
    }

    static func randomValues(timesteps: Int, channels: Int, generator: inout SplitMix64) -> [Float] {
        (0..<(timesteps * channels)).map { _ in generator.normal() * 1.5 }
    }

    static func maxAbsDifference(_ a: [Float], _ b: some Collection<Float>) -> Float {
        precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
        return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    /// The offline forward of `values[from..<to]` (timesteps).
    static func offline(_ model: LSTMModel, _ values: [Float], from: Int, to: Int) throws -> [Float] {
        let c = model.channels
        return try model.forward(Array(values[(from * c)..<(to * c)]), batchSize: 1, timesteps: to - from, threads: 1).probabilities
    }

    /// Checks window-mode labels of one stretch of `values` fed since the last reset.
    static func checkWindows(_ emitted: [Emitted], model: LSTMModel, values: [Float], hop: Int, context: String) throws {
        let w = window
        let n = values.count / model.channels
        let due = Array(stride(from: w, through: n, by: hop))
        #expect(emitted.map(\.at) == due, "\(context): labels at \(emitted.map(\.at)), expected \(due)")
        for label in emitted where label.at >= w && label.at <= n {
            let expected = try offline(model, values, from: label.at - w, to: label.at)
            let difference = maxAbsDifference(label.probabilities, expected)
            #expect(difference <= tolerance, "\(context): label at \(label.at) differs by \(difference)")
        }
    }

    /// Runs one `processBatch` over `frames` (one per slot, as the serving loop passes them) and
    /// hands each label to `emit` with the index of its slot in `slots`.
    static func processBatch(
        _ classifier: StreamClassifier, slots: [Int], frames: [[Float]], channels: Int, classes k: Int,
        emit: (Int, Emitted) -> Void
    ) {
        let pointers = frames.map { frame in
            let pointer = UnsafeMutablePointer<Float>.allocate(capacity: frame.count)
            pointer.initialize(from: frame, count: frame.count)
            return pointer
        }
        defer { for pointer in pointers { pointer.deallocate() } }
        classifier.processBatch(slots, values: pointers.map { UnsafePointer($0) }, timesteps: frames.map { $0.count / channels }) {
            index, timestep, p in
            emit(index, Emitted(at: timestep, probabilities: Array(UnsafeBufferPointer(start: p, count: k))))
        }
    }

    @Test(arguments: unidirectional + windowOnly, [1, 5, 7, 20, 25])
    func windowLabelsEqualOfflineForward(_ modelCase: ModelCase, hop: Int) throws {
        let model = try modelCase.model()
        let classifier = try StreamClassifier(model: model, mode: .window, hop: hop)
        #expect(classifier.window == Self.window)
        var generator = SplitMix64(seed: UInt64(hop) * 31 + 5)
        let values = Self.randomValues(timesteps: 97, channels: model.channels, generator: &generator)
        let session = classifier.engine(slot: 0)
        let emitted = Self.feed(classifier, session, values, channels: model.channels, generator: &generator)
        #expect(session.timesteps == 97)
        try Self.checkWindows(emitted, model: model, values: values, hop: hop, context: "\(modelCase.name) hop \(hop)")
    }

    /// An ensemble streams every member: each label is the offline forward of its window (the
    /// members' mean), and equals the mean of the members' own offline forwards run as separate
    /// single models.
    @Test(arguments: unidirectional + windowOnly, [1, 7])
    func ensembleWindowLabelsEqualOfflineForward(_ modelCase: ModelCase, hop: Int) throws {
        let file = try modelCase.file(seed: 41, ensemble: 3)
        let model = try LSTMModel(file)
        #expect(model.ensemble == 3)
        let members = try (0..<3).map { try LSTMModel(file.member($0)) }
        let classifier = try StreamClassifier(model: model, mode: .window, hop: hop)
        var generator = SplitMix64(seed: UInt64(hop) * 37 + 3)
        let values = Self.randomValues(timesteps: 61, channels: model.channels, generator: &generator)
        let emitted = Self.feed(classifier, classifier.engine(slot: 0), values, channels: model.channels, generator: &generator)
        try Self.checkWindows(emitted, model: model, values: values, hop: hop, context: "\(modelCase.name) ensemble hop \(hop)")
        #expect(!emitted.isEmpty)
        for label in emitted {
            let outputs = try members.map { try Self.offline($0, values, from: label.at - Self.window, to: label.at) }
            let mean = (0..<model.classCount).map { j in outputs.reduce(Float(0)) { $0 + $1[j] } / 3 }
            let difference = Self.maxAbsDifference(label.probabilities, mean)
            #expect(difference <= Self.tolerance, "\(modelCase.name) label at \(label.at) differs from the members' mean by \(difference)")
            // The members disagree, so the mean is not any one member's output.
            #expect(outputs.contains { Self.maxAbsDifference($0, label.probabilities) > 1e-4 })
        }
    }

    /// Continuous mode with an ensemble: frames of many streams are advanced together
    /// (`BatchStepper`, every member on its own rows) and every label equals the forward over
    /// everything since the reset.
    @Test(arguments: unidirectional, [1, 4])
    func ensembleContinuousLabelsEqualForward(_ modelCase: ModelCase, hop: Int) throws {
        let model = try modelCase.model(seed: 43, ensemble: 2)
        let classifier = try StreamClassifier(model: model, mode: .continuous, hop: hop)
        #expect(classifier.batches)
        let c = model.channels, k = model.classCount
        var generator = SplitMix64(seed: 19)
        let streams = 5
        var history = [[Float]](repeating: [], count: streams)
        var emitted = [[Emitted]](repeating: [], count: streams)
        for _ in 0..<6 {
            let frames = (0..<streams).map { _ in
                Self.randomValues(timesteps: 1 + Int(generator.next() % 7), channels: c, generator: &generator)
            }
            Self.processBatch(classifier, slots: Array(0..<streams), frames: frames, channels: c, classes: k) { index, label in
                emitted[index].append(label)
            }
            for stream in 0..<streams { history[stream] += frames[stream] }
        }
        for stream in 0..<streams {
            let length = history[stream].count / c
            #expect(emitted[stream].map(\.at) == Array(stride(from: hop, through: length, by: hop)))
            for label in emitted[stream] {
                let expected = try Self.offline(model, history[stream], from: 0, to: label.at)
                let difference = Self.maxAbsDifference(label.probabilities, expected)
                #expect(difference <= Self.tolerance, "\(modelCase.name) stream \(stream) label at \(label.at) differs by \(difference)")
            }
        }
    }

    /// Per-sample normalisation with an ensemble runs the buffered path (whole window per label).
    @Test(arguments: unidirectional.prefix(2) + bidirectional.prefix(1) + frontEnd.prefix(1), [1, 5])
    func ensemblePerSampleWindowLabelsEqualOfflineForward(_ modelCase: ModelCase, hop: Int) throws {
        let model = try modelCase.model(
            seed: 47, preprocessing: Preprocessing(normalization: .perSample, downsample: 1), ensemble: 2)
        let classifier = try StreamClassifier(model: model, mode: .window, hop: hop)
        var generator = SplitMix64(seed: UInt64(hop) + 91)
        let values = Self.randomValues(timesteps: 53, channels: model.channels, generator: &generator)
        let emitted = Self.feed(classifier, classifier.engine(slot: 0), values, channels: model.channels, generator: &generator)
        try Self.checkWindows(emitted, model: model, values: values, hop: hop, context: "\(modelCase.name) per-sample ensemble")
    }

    @Test(arguments: unidirectional + windowOnly, [1, 6])
    func windowResetRestartsTheWindows(_ modelCase: ModelCase, hop: Int) throws {
        let model = try modelCase.model(seed: 11)
        let classifier = try StreamClassifier(model: model, mode: .window, hop: hop)
        var generator = SplitMix64(seed: 99)
        let session = classifier.engine(slot: 0)
        // A stretch cut short mid-window, then a reset, then a fresh stretch.
        let before = Self.randomValues(timesteps: 33, channels: model.channels, generator: &generator)
        let first = Self.feed(classifier, session, before, channels: model.channels, generator: &generator)
        try Self.checkWindows(first, model: model, values: before, hop: hop, context: "\(modelCase.name) before reset")
        classifier.reset(slot: 0)
        #expect(session.timesteps == 0)
        let after = Self.randomValues(timesteps: 51, channels: model.channels, generator: &generator)
        let second = Self.feed(classifier, session, after, channels: model.channels, generator: &generator)
        try Self.checkWindows(second, model: model, values: after, hop: hop, context: "\(modelCase.name) after reset")
    }

    @Test(arguments: unidirectional)
    func sessionsAreIndependent(_ modelCase: ModelCase) throws {
        let model = try modelCase.model(seed: 3)
        let classifier = try StreamClassifier(model: model, mode: .window, hop: 4)
        var generator = SplitMix64(seed: 4)
        let c = model.channels
        let a = Self.randomValues(timesteps: 60, channels: c, generator: &generator)
        let b = Self.randomValues(timesteps: 60, channels: c, generator: &generator)
        let sa = classifier.engine(slot: 0), sb = classifier.engine(slot: 1)
        var emittedA: [Emitted] = [], emittedB: [Emitted] = []
        // Interleave timestep by timestep.
        for t in 0..<60 {
            a.withUnsafeBufferPointer { p in
                classifier.process(sa, values: p.baseAddress! + t * c, timesteps: 1) {
                    emittedA.append(Emitted(at: $0, probabilities: Array(UnsafeBufferPointer(start: $1, count: model.classCount))))
                }
            }
            b.withUnsafeBufferPointer { p in
                classifier.process(sb, values: p.baseAddress! + t * c, timesteps: 1) {
                    emittedB.append(Emitted(at: $0, probabilities: Array(UnsafeBufferPointer(start: $1, count: model.classCount))))
                }
            }
        }
        try Self.checkWindows(emittedA, model: model, values: a, hop: 4, context: "\(modelCase.name) stream a")
        try Self.checkWindows(emittedB, model: model, values: b, hop: 4, context: "\(modelCase.name) stream b")
    }

    @Test(arguments: unidirectional, [1, 5])
    func continuousLabelsEqualForwardOverEverythingSinceReset(_ modelCase: ModelCase, hop: Int) throws {
        let model = try modelCase.model(seed: 21)
        let classifier = try StreamClassifier(model: model, mode: .continuous, hop: hop)
        var generator = SplitMix64(seed: 8)
        let session = classifier.engine(slot: 0)
        let c = model.channels
        for (stretch, length) in [63, 41].enumerated() {
            let values = Self.randomValues(timesteps: length, channels: c, generator: &generator)
            let emitted = Self.feed(classifier, session, values, channels: c, generator: &generator)
            let due = Array(stride(from: hop, through: length, by: hop))
            #expect(emitted.map(\.at) == due, "\(modelCase.name) stretch \(stretch): labels at \(emitted.map(\.at))")
            for label in emitted where label.at <= length {
                let expected = try Self.offline(model, values, from: 0, to: label.at)
                let difference = Self.maxAbsDifference(label.probabilities, expected)
                #expect(difference <= Self.tolerance, "\(modelCase.name) stretch \(stretch) label at \(label.at) differs by \(difference)")
            }
            classifier.reset(slot: 0)
            #expect(session.timesteps == 0)
        }
    }

    /// Continuous mode advances the frames of many streams together (`processBatch`, one frame
    /// per stream per batch, uneven frame sizes); every label still equals the forward over
    /// everything since the stream's reset, at exactly the due timesteps.
    @Test(arguments: unidirectional, [1, 4])
    func batchedContinuousLabelsEqualForwardOverEverythingSinceReset(_ modelCase: ModelCase, hop: Int) throws {
        let model = try modelCase.model(seed: 23)
        let classifier = try StreamClassifier(model: model, mode: .continuous, hop: hop)
        #expect(classifier.batches)
        let c = model.channels, k = model.classCount
        var generator = SplitMix64(seed: 17)
        let streams = 7
        let sessions = (0..<streams).map { classifier.engine(slot: $0) }
        var history = [[Float]](repeating: [], count: streams)
        var emitted = [[Emitted]](repeating: [], count: streams)
        for round in 0..<9 {
            // A random subset of at least `smallestBatch` streams, each with a frame of 0...9 timesteps.
            let members = (0..<streams).filter { _ in generator.next() % 4 != 0 }
            guard members.count >= StreamClassifier.smallestBatch else { continue }
            let frames = members.map { _ in Self.randomValues(timesteps: 1 + Int(generator.next() % 9), channels: c, generator: &generator) }
            Self.processBatch(classifier, slots: members, frames: frames, channels: c, classes: k) { index, label in
                emitted[members[index]].append(label)
            }
            for (slot, member) in members.enumerated() {
                history[member] += frames[slot]
                #expect(sessions[member].timesteps == history[member].count / c, "round \(round) stream \(member)")
            }
        }
        for stream in 0..<streams {
            let length = history[stream].count / c
            let due = Array(stride(from: hop, through: length, by: hop))
            #expect(emitted[stream].map(\.at) == due, "\(modelCase.name) stream \(stream): labels at \(emitted[stream].map(\.at))")
            for label in emitted[stream] where label.at <= length {
                let expected = try Self.offline(model, history[stream], from: 0, to: label.at)
                let difference = Self.maxAbsDifference(label.probabilities, expected)
                #expect(difference <= Self.tolerance, "\(modelCase.name) stream \(stream) label at \(label.at) differs by \(difference)")
            }
        }
    }

    @Test(arguments: windowOnly)
    func continuousModeRefusesWindowOnlyModels(_ modelCase: ModelCase) throws {
        let model = try modelCase.model()
        #expect(throws: ModelError.self) { try StreamClassifier(model: model, mode: .continuous, hop: 5) }
    }

    @Test func hopBelowOneIsRefused() throws {
        let model = try Self.unidirectional[0].model()
        #expect(throws: ModelError.self) { try StreamClassifier(model: model, mode: .window, hop: 0) }
    }

    @Test func staggeredSessionsHoldOneStatePerOpenWindow() throws {
        let model = try Self.unidirectional[0].model()
        let everyTimestep = try StreamClassifier(model: model, mode: .window, hop: 1).engine(slot: 0)
        let oncePerWindow = try StreamClassifier(model: model, mode: .window, hop: Self.window).engine(slot: 0)
        let state = model.makeState().byteCount
        // ⌈W/hop⌉ states: 20 against 1.
        #expect(everyTimestep.byteCount - oncePerWindow.byteCount >= 19 * state)
        let bidirectional = try StreamClassifier(model: try Self.bidirectional[0].model(), mode: .window, hop: 5)
        #expect(bidirectional.engine(slot: 0).byteCount >= Self.window * 3 * 4)
    }

    // MARK: Preprocessing in the model

    /// A model that downsamples by 4 (window 20 raw timesteps = 5 model steps): window labels
    /// are the offline forward of the raw window, at the same timesteps, whatever the frames.
    /// Window mode with downsampling by K. With K = 2 a window is 10 model steps, longer than the
    /// front-end case's reach (6): its windows take full steps, then the shared projection.
    @Test(arguments: unidirectional, [(k: 4, hop: 4), (k: 4, hop: 8), (k: 4, hop: 20), (k: 2, hop: 2), (k: 2, hop: 10)])
    func downsampledWindowLabelsEqualOfflineForward(_ modelCase: ModelCase, setting: (k: Int, hop: Int)) throws {
        let hop = setting.hop
        let model = try modelCase.model(preprocessing: Preprocessing(downsample: setting.k))
        let classifier = try StreamClassifier(model: model, mode: .window, hop: hop)
        var generator = SplitMix64(seed: UInt64(hop) * 13 + UInt64(setting.k))
        let session = classifier.engine(slot: 0)
        let values = Self.randomValues(timesteps: 93, channels: model.channels, generator: &generator)
        let emitted = Self.feed(classifier, session, values, channels: model.channels, generator: &generator)
        try Self.checkWindows(emitted, model: model, values: values, hop: hop, context: "\(modelCase.name) K \(setting.k) hop \(hop)")
        // After a reset the blocks start again at the stream's first timestep.
        classifier.reset(slot: 0)
        let after = Self.randomValues(timesteps: 47, channels: model.channels, generator: &generator)
        let second = Self.feed(classifier, session, after, channels: model.channels, generator: &generator)
        try Self.checkWindows(second, model: model, values: after, hop: hop, context: "\(modelCase.name) K \(setting.k) after reset")
    }

    /// Continuous mode with downsampling: a label every `hop` raw timesteps equals the forward
    /// over everything since the reset; such a classifier does not batch.
    @Test(arguments: unidirectional, [4, 12])
    func downsampledContinuousLabelsEqualForward(_ modelCase: ModelCase, hop: Int) throws {
        let model = try modelCase.model(seed: 5, preprocessing: Preprocessing(downsample: 4))
        let classifier = try StreamClassifier(model: model, mode: .continuous, hop: hop)
        #expect(!classifier.batches)
        var generator = SplitMix64(seed: 12)
        let session = classifier.engine(slot: 0)
        let values = Self.randomValues(timesteps: 70, channels: model.channels, generator: &generator)
        let emitted = Self.feed(classifier, session, values, channels: model.channels, generator: &generator)
        #expect(emitted.map(\.at) == Array(stride(from: hop, through: 70, by: hop)))
        for label in emitted {
            let difference = Self.maxAbsDifference(label.probabilities, try Self.offline(model, values, from: 0, to: label.at))
            #expect(difference <= Self.tolerance, "\(modelCase.name) label at \(label.at) differs by \(difference)")
        }
    }

    /// A per-sample-normalised model (with and without downsampling) runs on the raw window like
    /// a bidirectional one: every label is the offline forward of the raw window.
    @Test(arguments: unidirectional + windowOnly, [1, 5])
    func perSampleWindowLabelsEqualOfflineForward(_ modelCase: ModelCase, hop: Int) throws {
        for downsample in [1, 5] {
            let model = try modelCase.model(seed: 9, preprocessing: Preprocessing(normalization: .perSample, downsample: downsample))
            let classifier = try StreamClassifier(model: model, mode: .window, hop: hop)
            var generator = SplitMix64(seed: UInt64(hop) * 7 + UInt64(downsample))
            let session = classifier.engine(slot: 0)
            #expect(session.byteCount >= Self.window * model.channels * 4)
            // Streams at very different levels and amplitudes.
            let values = Self.randomValues(timesteps: 61, channels: model.channels, generator: &generator).map { 1000 + 300 * $0 }
            let emitted = Self.feed(classifier, session, values, channels: model.channels, generator: &generator)
            try Self.checkWindows(emitted, model: model, values: values, hop: hop, context: "\(modelCase.name) per-sample K \(downsample)")
        }
    }

    @Test func perSampleConstantStreamGivesFiniteLabels() throws {
        let model = try Self.unidirectional[0].model(preprocessing: Preprocessing(normalization: .perSample))
        let classifier = try StreamClassifier(model: model, mode: .window, hop: 5)
        var generator = SplitMix64(seed: 1)
        let values = [Float](repeating: 42, count: 40 * model.channels)
        let emitted = Self.feed(classifier, classifier.engine(slot: 0), values, channels: model.channels, generator: &generator)
        #expect(emitted.count == 5)
        #expect(emitted.allSatisfy { $0.probabilities.allSatisfy { $0.isFinite } })
        // A constant window is all zeros after normalisation: the same as a zero window.
        let zeros = try model.forward([Float](repeating: 0, count: 20 * model.channels), batchSize: 1, timesteps: 20, threads: 1)
        // (The stream steps the window; the offline forward runs it as a batch: equal within the tolerance.)
        let difference = zip(emitted[0].probabilities, zeros.probabilities).map { abs($0 - $1) }.max() ?? .infinity
        #expect(difference <= Self.tolerance, "\(emitted[0].probabilities) vs \(zeros.probabilities)")
    }

    @Test func preprocessingPoliciesThatCannotStreamAreRefused() throws {
        let perSample = try Self.unidirectional[0].model(preprocessing: Preprocessing(normalization: .perSample))
        #expect(throws: ModelError.self) { try StreamClassifier(model: perSample, mode: .continuous, hop: 5) }
        let downsampled = try Self.unidirectional[0].model(preprocessing: Preprocessing(downsample: 4))
        #expect(throws: ModelError.self) { try StreamClassifier(model: downsampled, mode: .window, hop: 6) }
        #expect(throws: ModelError.self) { try StreamClassifier(model: downsampled, mode: .continuous, hop: 2) }
        // The buffered path takes any hop.
        _ = try StreamClassifier(model: perSample, mode: .window, hop: 3)
    }
}
