import Foundation
import LSTMKit
import Testing

/// The engine against PyTorch and Keras: every committed fixture, batch forward and step by step.
@Suite struct ParityTests {
    static let tolerance: Float = 1e-5

    @Test func fixturesArePresent() {
        #expect(Fixtures.cases.count >= 11, "found \(Fixtures.cases)")
    }

    @Test(arguments: Fixtures.cases)
    func batchForwardMatchesReference(name: String) throws {
        let model = try Fixtures.model(name)
        let expected = try Fixtures.expected(name)
        let shape = expected.entries["input"]!.shape
        let (b, t) = (shape[0], shape[1])
        let lengths = try expected.integers("lengths")
        let result = try model.forward(
            try expected.floats("input"), batchSize: b, timesteps: t, lengths: lengths, keepLayerOutputs: true)
        #expect(maxAbsDifference(result.probabilities, try expected.floats("probabilities")) <= Self.tolerance, "\(name) probabilities")
        #expect(maxAbsDifference(result.logits, try expected.floats("logits")) <= Self.tolerance, "\(name) logits")
        for layer in 0..<model.architecture.numLayers where expected.entries["outputs_l\(layer)"] != nil {
            let difference = maxAbsDifference(result.layerOutputs[layer], try expected.floats("outputs_l\(layer)"))
            #expect(difference <= Self.tolerance, "\(name) layer \(layer) outputs differ by \(difference)")
        }
    }

    @Test(arguments: Fixtures.cases)
    func stepByStepMatchesReference(name: String) throws {
        let model = try Fixtures.model(name)
        guard model.supportsStep else { return }
        let expected = try Fixtures.expected(name)
        let shape = expected.entries["input"]!.shape
        let (b, t, c) = (shape[0], shape[1], shape[2])
        let input = try expected.floats("input")
        let lengths = try expected.integers("lengths")
        let probabilities = try expected.floats("probabilities")
        let h = model.architecture.hiddenSize
        let layerCount = model.architecture.numLayers
        let outputs = try (0..<layerCount).map { try expected.floats("outputs_l\($0)") }
        let state = model.makeState()
        for sample in 0..<b {
            state.reset()
            for step in 0..<lengths[sample] {
                let offset = (sample * t + step) * c
                model.step(state, input: Array(input[offset..<(offset + c)]))
                for layer in 0..<layerCount {
                    let reference = outputs[layer][((sample * t + step) * h)..<((sample * t + step + 1) * h)]
                    let difference = maxAbsDifference(state.hidden(layer: layer, hiddenSize: h), reference)
                    #expect(difference <= Self.tolerance, "\(name) sample \(sample) step \(step) layer \(layer): \(difference)")
                }
            }
            let k = model.classCount
            let difference = maxAbsDifference(model.classify(state), probabilities[(sample * k)..<((sample + 1) * k)])
            #expect(difference <= Self.tolerance, "\(name) sample \(sample) probabilities differ by \(difference)")
        }
    }

    @Test(arguments: Fixtures.cases)
    func sharedInputProjectionMatchesFusedStep(name: String) throws {
        let model = try Fixtures.model(name)
        guard model.sharesInputProjection else { return }
        let expected = try Fixtures.expected(name)
        let shape = expected.entries["input"]!.shape
        let (t, c) = (shape[1], shape[2])
        let input = try expected.floats("input")
        let lengths = try expected.integers("lengths")
        let fused = model.makeState(), shared = model.makeState()
        var projection = [Float](repeating: 0, count: 4 * model.paddedHidden)
        var scratch = [Float](repeating: 0, count: c)
        for step in 0..<lengths[0] {
            let x = Array(input[(step * c)..<((step + 1) * c)])
            model.step(fused, input: x)
            x.withUnsafeBufferPointer { x in
                model.projectInput(x.baseAddress!, into: &projection, scratch: &scratch)
            }
            projection.withUnsafeBufferPointer { model.step(shared, projectedInput: $0.baseAddress!) }
        }
        let difference = maxAbsDifference(model.classify(fused), model.classify(shared))
        #expect(difference <= 1e-6, "\(name): \(difference)")
        _ = t
    }

    @Test(arguments: Fixtures.cases)
    func writeReadRoundTripIsBitExact(name: String) throws {
        let original = try ModelFile(
            contentsOf: Fixtures.directory.appendingPathComponent("\(name).safetensors"))
        let bytes = original.serialized()
        let reread = try ModelFile(bytes: bytes)
        #expect(reread.architecture == original.architecture)
        #expect(reread.classes == original.classes)
        #expect(reread.scaler == original.scaler)
        #expect(reread.window == original.window && reread.hop == original.hop && reread.mode == original.mode)
        #expect(reread.provenance == original.provenance)
        #expect(reread.tensors.keys.sorted() == original.tensors.keys.sorted())
        for (key, tensor) in original.tensors {
            #expect(reread.tensors[key]!.shape == tensor.shape)
            #expect(reread.tensors[key]!.scalars.map(\.bitPattern) == tensor.scalars.map(\.bitPattern), "\(key)")
        }
        #expect(reread.serialized() == bytes, "serialisation is deterministic")
    }
}
