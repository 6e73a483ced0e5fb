import Foundation
import Testing

@testable import LSTMKit

/// Batched steps across streams equal single-stream steps.
@Suite struct BatchStepperTests {
    @Test(arguments: [Architecture.Head.last, .attention])
    func batchedStepsMatchSingleSteps(head: Architecture.Head) throws {
        let architecture = Architecture(inputSize: 4, hiddenSize: 20, numLayers: 2, head: head, dense: [6], numClasses: 3)
        let model = try LSTMModel(ModelFile.randomlyInitialized(
            architecture: architecture, window: 10, hop: 2,
            scaler: .zscore(mean: [0.1, 0, -0.2, 1], std: [1, 2, 0.5, 1]), seed: 8))
        var generator = SplitMix64(seed: 1)
        let streams = 7
        let lengths = (0..<streams).map { _ in Int.random(in: 1...9, using: &generator) }
        let inputs = lengths.map { length in (0..<(length * 4)).map { _ in generator.normal() } }
        let single = (0..<streams).map { _ in model.makeState() }
        let batched = (0..<streams).map { _ in model.makeState() }
        // Warm both sets up with one identical prefix so the gather starts from non-zero state.
        for index in 0..<streams {
            model.step(single[index], input: [0.3, -0.1, 0.2, 0.5])
            model.step(batched[index], input: [0.3, -0.1, 0.2, 0.5])
        }
        var expected: [[Float]] = []
        for index in 0..<streams {
            for t in 0..<lengths[index] {
                model.step(single[index], input: Array(inputs[index][(t * 4)..<((t + 1) * 4)]))
                if (t + 2) % 2 == 0 { expected.append([Float(index), Float(t)] + model.classify(single[index])) }
            }
        }
        var emitted: [[Float]] = []
        let stepper = BatchStepper(model: model)
        inputs.withUnsafeBufferPointers { pointers in
            let requests = (0..<streams).map { BatchStepper.Request(state: batched[$0], input: pointers[$0], timesteps: lengths[$0]) }
            stepper.run(requests, shouldLabel: { index, t in (t + 2) % 2 == 0 }) { index, t, p in
                emitted.append([Float(index), Float(t)] + Array(UnsafeBufferPointer(start: p, count: 3)))
            }
        }
        // Every stream labelled at least once, so the comparison below cannot pass on empty lists.
        #expect(Set(expected.map { Int($0[0]) }) == Set(0..<streams))
        let sortKey = { (row: [Float]) in row[0] * 100 + row[1] }
        expected.sort { sortKey($0) < sortKey($1) }
        emitted.sort { sortKey($0) < sortKey($1) }
        #expect(expected.count == emitted.count)
        for (a, b) in zip(expected, emitted) {
            #expect(a[0..<2] == b[0..<2])
            #expect(maxAbsDifference(a[2...], b[2...]) <= 1e-5, "\(a) vs \(b)")
        }
        for index in 0..<streams {
            #expect(single[index].steps == batched[index].steps)
            for layer in 0..<2 {
                #expect(maxAbsDifference(single[index].hidden(layer: layer, hiddenSize: 20), batched[index].hidden(layer: layer, hiddenSize: 20)) <= 1e-5)
                #expect(maxAbsDifference(single[index].cell(layer: layer, hiddenSize: 20), batched[index].cell(layer: layer, hiddenSize: 20)) <= 1e-5)
            }
            // States continue identically after a batch.
            model.step(single[index], input: [1, 1, 1, 1])
            model.step(batched[index], input: [1, 1, 1, 1])
            #expect(maxAbsDifference(model.classify(single[index]), model.classify(batched[index])) <= 1e-5)
        }
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
