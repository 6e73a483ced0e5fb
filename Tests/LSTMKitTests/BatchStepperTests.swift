import Foundation
import Testing

@testable import LSTMKit

/// The batched stepper against the single-stream step (the reference path), for every
/// unidirectional architecture the suite knows: the parity fixtures, the training fixtures and the
/// random architectures below. Several streams with different warm-ups and timestep counts (one
/// with none) run in one batch; labels are compared at the same (stream, timestep) pairs, then the
/// states themselves, then one more step from each.
@Suite struct BatchStepperTests {
    /// |batched − single| allowed on probabilities, `h` and `c`: the gate products sum in another
    /// order (`sgemm` vs SIMD matvec), nothing else differs.
    static let tolerance: Float = 1e-5

    /// Random architectures (besides the fixtures), built with `ModelFile.randomlyInitialized`.
    static let random: [String: Architecture] = [
        "random_l2_h20_last_dense": Architecture(inputSize: 4, hiddenSize: 20, numLayers: 2, head: .last, dense: [6], numClasses: 3),
        "random_l2_h20_attention_dense": Architecture(inputSize: 4, hiddenSize: 20, numLayers: 2, head: .attention, dense: [6], numClasses: 3),
        "random_l3_h32_attention": Architecture(inputSize: 5, hiddenSize: 32, numLayers: 3, head: .attention, numClasses: 4),
        // An ensemble of 3 such members (seeds 8, 9, 10): every member batched on its own rows.
        "random_ensemble3_l2_h20_attention_dense": Architecture(
            inputSize: 4, hiddenSize: 20, numLayers: 2, head: .attention, dense: [6], numClasses: 3),
        // Front ends (histories batched as rows; the second layer's input is the first's output),
        // alone and in an ensemble whose members each convolve their own histories.
        "random_frontend_l2_h20_last": Architecture(
            inputSize: 4, hiddenSize: 20, numLayers: 2, numClasses: 3,
            frontEnd: [.init(filters: 12, kernel: 5), .init(filters: 7, kernel: 3)]),
        "random_ensemble3_frontend_l1_h16_attention": Architecture(
            inputSize: 3, hiddenSize: 16, head: .attention, numClasses: 4, frontEnd: [.init(filters: 9, kernel: 4)]),
    ]

    /// Every model name: parity fixtures, `training/` fixtures, random architectures.
    static var cases: [String] {
        let training = (try? FileManager.default.contentsOfDirectory(
            atPath: Fixtures.directory.appendingPathComponent("training").path)) ?? []
        let trainingCases = training.filter { $0.hasSuffix(".safetensors") && !$0.hasSuffix(".grad.safetensors") }
            .map { "training/" + $0.dropLast(".safetensors".count) }
        return Fixtures.cases + trainingCases.sorted() + random.keys.sorted()
    }

    static func model(_ name: String) throws -> LSTMModel {
        if let architecture = random[name] {
            let channels = (0..<architecture.inputSize).map(Float.init)
            let mean: [Float] = channels.map { $0 * 0.1 - 0.2 }
            let std: [Float] = channels.map { $0 * 0.5 + 0.5 }
            let count = name.contains("ensemble3") ? 3 : 1
            let files = (0..<count).map {
                ModelFile.randomlyInitialized(
                    architecture: architecture, window: 10, hop: 2, scaler: .zscore(mean: mean, std: std), seed: 8 + UInt64($0))
            }
            return try LSTMModel(count == 1 ? files[0] : try ModelFile(ensemble: files, provenance: .object([:])))
        }
        return try LSTMModel(contentsOf: Fixtures.directory.appendingPathComponent("\(name).safetensors"))
    }

    /// One batch: per stream, single steps before it (`warmUp`), then `lengths` timesteps batched.
    struct Workload {
        /// Timesteps in the batch per stream; distinct lengths, so rows are reordered (longest
        /// first) and streams drop out at different timesteps. One stream has none.
        static let lengthPattern = [4, 1, 11, 0, 7, 9, 2]
        /// Single steps before the batch; zero for some, so the batch makes their first step
        /// (the attention pool's first fold happens inside the batch).
        static let warmUpPattern = [3, 0, 1, 5, 0, 2, 4]

        /// The patterns above, repeated.
        let lengths: [Int]
        let warmUps: [Int]
        var warmUp: [[Float]]
        var batch: [[Float]]

        /// Raw inputs whose scaled values are roughly N(0, 1) under the model's scaler; `repeats`
        /// copies of the patterns (3: 21 streams, 18 running at first, so a front end's batched
        /// product runs and then, as streams end, its per-row path; see `FoldedConvolution.stepRows`).
        init(model: LSTMModel, seed: UInt64, repeats: Int = 1) {
            lengths = Array([[Int]](repeating: Self.lengthPattern, count: repeats).joined())
            warmUps = Array([[Int]](repeating: Self.warmUpPattern, count: repeats).joined())
            var generator = SplitMix64(seed: seed)
            let scaler = model.file.scaler
            let c = model.channels
            func values(_ timesteps: Int) -> [Float] {
                (0..<(timesteps * c)).map { scaler.offset[$0 % c] + scaler.divisor[$0 % c] * generator.normal() }
            }
            warmUp = warmUps.map(values)
            batch = lengths.map(values)
        }

        /// Labels at different timesteps per stream, always at a stream's last one.
        func shouldLabel(_ index: Int, _ t: Int) -> Bool {
            (t + index) % 3 == 0 || t == lengths[index] - 1
        }
    }

    /// A label: stream, timestep, probabilities.
    struct Label {
        var stream: Int
        var timestep: Int
        var probabilities: [Float]
    }

    /// Fresh states with each stream's warm-up applied by single steps.
    static func warmedStates(_ model: LSTMModel, _ workload: Workload) -> [LSTMState] {
        workload.warmUp.map { inputs in
            let state = model.makeState()
            for t in 0..<(inputs.count / model.channels) {
                model.step(state, input: Array(inputs[(t * model.channels)..<((t + 1) * model.channels)]))
            }
            return state
        }
    }

    /// The reference: each stream's batch timesteps by single steps, labels where asked.
    static func singleStep(_ model: LSTMModel, _ states: [LSTMState], _ workload: Workload) -> [Label] {
        var labels: [Label] = []
        for (index, state) in states.enumerated() {
            let inputs = workload.batch[index]
            for t in 0..<workload.lengths[index] {
                model.step(state, input: Array(inputs[(t * model.channels)..<((t + 1) * model.channels)]))
                if workload.shouldLabel(index, t) { labels.append(Label(stream: index, timestep: t, probabilities: model.classify(state))) }
            }
        }
        return labels
    }

    /// The batched path; request `i` advances `states[i]` with stream `i`'s inputs.
    static func batched(_ model: LSTMModel, _ states: [LSTMState], _ workload: Workload) -> [Label] {
        var labels: [Label] = []
        let stepper = BatchStepper(model: model)
        workload.batch.withUnsafeBufferPointers { pointers in
            let requests = states.indices.map {
                BatchStepper.Request(state: states[$0], input: pointers[$0], timesteps: workload.lengths[$0])
            }
            stepper.run(requests, shouldLabel: workload.shouldLabel) { index, t, p in
                labels.append(Label(stream: index, timestep: t, probabilities: Array(UnsafeBufferPointer(start: p, count: model.classCount))))
            }
        }
        return labels
    }

    /// Every difference between the reference and the batched run beyond `tolerance`: label
    /// positions, probabilities, step counts, `h` and `c` of every layer, the probabilities of the
    /// states as left, and after one more single step from each. Empty when they agree.
    static func differences(
        _ model: LSTMModel, expected: [Label], emitted: [Label], single: [LSTMState], batched: [LSTMState]
    ) -> [String] {
        var found: [String] = []
        let key = { (label: Label) in label.stream * 1000 + label.timestep }
        let expected = expected.sorted { key($0) < key($1) }, emitted = emitted.sorted { key($0) < key($1) }
        if expected.map(key) != emitted.map(key) {
            found.append("labelled at \(emitted.map { ($0.stream, $0.timestep) }), expected \(expected.map { ($0.stream, $0.timestep) })")
        }
        for (a, b) in zip(expected, emitted) where key(a) == key(b) {
            let difference = maxAbsDifference(a.probabilities, b.probabilities)
            if difference > tolerance { found.append("stream \(a.stream) t \(a.timestep): probabilities differ by \(difference)") }
        }
        let h = model.architecture.hiddenSize
        for index in single.indices {
            if single[index].steps != batched[index].steps {
                found.append("stream \(index): \(batched[index].steps) steps, expected \(single[index].steps)")
            }
            for layer in 0..<model.architecture.numLayers {
                let hidden = maxAbsDifference(single[index].hidden(layer: layer, hiddenSize: h), batched[index].hidden(layer: layer, hiddenSize: h))
                let cell = maxAbsDifference(single[index].cell(layer: layer, hiddenSize: h), batched[index].cell(layer: layer, hiddenSize: h))
                if max(hidden, cell) > tolerance { found.append("stream \(index) layer \(layer): h differs by \(hidden), c by \(cell)") }
            }
            let now = maxAbsDifference(model.classify(single[index]), model.classify(batched[index]))
            if now > tolerance { found.append("stream \(index): probabilities after the batch differ by \(now)") }
            // The states continue identically (the copies of h a step reads were scattered too).
            let next = [Float](repeating: 0.5, count: model.channels)
            model.step(single[index], input: next)
            model.step(batched[index], input: next)
            let after = maxAbsDifference(model.classify(single[index]), model.classify(batched[index]))
            if after > tolerance { found.append("stream \(index): probabilities one step later differ by \(after)") }
        }
        return found
    }

    @Test func everyFixtureArchitectureIsCovered() throws {
        let unidirectional = try Self.cases.map { try Self.model($0).architecture }.filter { !$0.bidirectional }
        // 5 parity fixtures, 4 training fixtures and 6 random architectures are unidirectional;
        // 4 of them have a front end.
        #expect(unidirectional.count >= 15)
        #expect(unidirectional.filter { !$0.frontEnd.isEmpty }.count >= 4)
        #expect(unidirectional.contains { $0.head == .attention } && unidirectional.contains { $0.head == .last })
        #expect(unidirectional.contains { $0.numLayers > 1 } && unidirectional.contains { !$0.dense.isEmpty })
    }

    @Test(arguments: cases)
    func batchedStepsMatchSingleSteps(name: String) throws {
        let model = try Self.model(name)
        guard model.supportsStep else { return }
        // A front end runs 21 streams: its product path (16 rows or more), then its per-row path.
        let workload = Workload(model: model, seed: 1, repeats: model.architecture.frontEnd.isEmpty ? 1 : 3)
        if !model.architecture.frontEnd.isEmpty {
            #expect(workload.lengths.filter { $0 > 0 }.count >= FoldedConvolution.smallestProduct)
        }
        let single = Self.warmedStates(model, workload), batched = Self.warmedStates(model, workload)
        let expected = Self.singleStep(model, single, workload)
        let emitted = Self.batched(model, batched, workload)
        // Every stream with timesteps is labelled, so the comparison cannot pass on empty lists.
        #expect(Set(expected.map(\.stream)) == Set(workload.lengths.indices.filter { workload.lengths[$0] > 0 }))
        let found = Self.differences(model, expected: expected, emitted: emitted, single: single, batched: batched)
        #expect(found.isEmpty, "\(name): \(found.joined(separator: "; "))")
    }

    /// The comparison above catches a wrong row mapping: here request `i` advances the state of
    /// stream `i+1` (as a stepper that scattered rows to the wrong states would).
    @Test(arguments: ["uni_l2_h20_attention_varlen", "uni_l1_h8_last"])
    func comparisonCatchesWrongRowMapping(name: String) throws {
        let model = try Self.model(name)
        let workload = Workload(model: model, seed: 1)
        let single = Self.warmedStates(model, workload), batched = Self.warmedStates(model, workload)
        let expected = Self.singleStep(model, single, workload)
        let rotated = Array(batched[1...] + batched[..<1])
        let emitted = Self.batched(model, rotated, workload)
        let found = Self.differences(model, expected: expected, emitted: emitted, single: single, batched: batched)
        #expect(!found.isEmpty)
        #expect(found.contains { $0.contains("probabilities differ") })
    }
}

extension Array where Element == [Float] {
    /// Calls `body` with a stable base pointer for every inner array.
    func withUnsafeBufferPointers<R>(_ body: ([UnsafePointer<Float>]) throws -> R) rethrows -> R {
        let copies = map { array -> UnsafeMutablePointer<Float> in
            let pointer = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, array.count))
            pointer.initialize(from: array, count: array.count)
            return pointer
        }
        defer { copies.forEach { $0.deallocate() } }
        return try body(copies.map { UnsafePointer($0) })
    }
}
