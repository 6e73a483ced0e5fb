import Foundation
import Testing

@testable import LSTMKit

/// Ensemble files: N members in one safetensors file, validated on load; the engine runs every
/// member and returns the mean of their probabilities, on the batch and the step paths alike.
@Suite struct EnsembleTests {
    static let tolerance: Float = 1e-6

    static func members(_ architecture: Architecture, count: Int, window: Int = 12) -> [ModelFile] {
        let c = architecture.inputSize
        let scaler = Scaler.zscore(mean: (0..<c).map { Float($0) * 0.3 - 0.4 }, std: (0..<c).map { 0.7 + Float($0) * 0.4 })
        return (0..<count).map {
            ModelFile.randomlyInitialized(
                architecture: architecture, classes: (0..<architecture.numClasses).map { "k\($0)" }, window: window, hop: 3,
                scaler: scaler, seed: 100 + UInt64($0))
        }
    }

    static let architectures = [
        Architecture(inputSize: 3, hiddenSize: 8, numClasses: 4),
        Architecture(inputSize: 2, hiddenSize: 12, numLayers: 2, head: .attention, dense: [5], numClasses: 3),
        Architecture(inputSize: 3, hiddenSize: 6, numLayers: 2, bidirectional: true, head: .attention, numClasses: 3),
    ]

    @Test func fileRoundTripKeepsMemberZeroUnderThePlainNames() throws {
        let members = Self.members(Self.architectures[1], count: 3)
        var file = try ModelFile(ensemble: members, provenance: .object(["trainer": .string("test")]))
        #expect(file.ensemble == 3 && file.parameterCount == 3 * Self.architectures[1].parameterCount)
        #expect(file.metadata["format_version"] == "3" && file.metadata["ensemble"] == "3")
        for (name, tensor) in members[0].tensors { #expect(file.tensors[name] == tensor, "\(name)") }
        for (name, tensor) in members[2].tensors { #expect(file.tensors["ensemble.2." + name] == tensor, "\(name)") }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try file.write(to: url)
        let reread = try ModelFile(contentsOf: url)
        #expect(reread.ensemble == 3 && reread.integrity == .verified)
        for index in 0..<3 { #expect(reread.member(index).tensors == members[index].tensors) }
        // A single model stays exactly as before: version 1, no ensemble key.
        #expect(members[0].metadata["format_version"] == "1" && members[0].metadata["ensemble"] == nil)
        #expect(try ModelFile(bytes: members[0].serialized()).ensemble == 1)
    }

    @Test func badEnsembleFilesAreRefusedWithTheirProblemNamed() throws {
        let members = Self.members(Self.architectures[0], count: 3)
        let good = try ModelFile(ensemble: members, provenance: .object([:]))
        func bytes(metadata changes: [String: String?] = [:], tensors edit: (inout [String: Tensor]) -> Void = { _ in }) -> [UInt8] {
            var metadata = good.metadata
            for (key, value) in changes { metadata[key] = value }
            var tensors = good.tensors
            edit(&tensors)
            return SafeTensors.serialize(tensors.map { .float32($0.key, shape: $0.value.shape, $0.value.scalars) }, metadata: metadata)
        }
        #expect(try ModelFile(bytes: bytes()).ensemble == 3)
        expectError(.tensor, containing: "'ensemble.2.lstm.weight_hh_l0' is missing") {
            _ = try ModelFile(bytes: bytes { $0["ensemble.2.lstm.weight_hh_l0"] = nil })
        }
        expectError(.tensor, containing: "member 2 of 3") {
            _ = try ModelFile(bytes: bytes { $0["ensemble.2.classifier.bias"] = nil })
        }
        expectError(.tensor, containing: "'ensemble.1.classifier.weight' has shape [4, 7]") {
            _ = try ModelFile(bytes: bytes { $0["ensemble.1.classifier.weight"] = Tensor(shape: [4, 7], scalars: .init(repeating: 0, count: 28)) })
        }
        expectError(.tensor, containing: "unexpected tensor 'ensemble.3.classifier.bias'") {
            _ = try ModelFile(bytes: bytes { $0["ensemble.3.classifier.bias"] = Tensor(shape: [4], scalars: [0, 0, 0, 0]) })
        }
        expectError(.tensor, containing: "unexpected tensor 'ensemble.1.classifier.bias'") {
            _ = try ModelFile(bytes: bytes(metadata: ["ensemble": "1", "format_version": "1"]))
        }
        expectError(.metadata, containing: "'ensemble' is 17, expected 1...16") { _ = try ModelFile(bytes: bytes(metadata: ["ensemble": "17"])) }
        expectError(.metadata, containing: "'ensemble' is 0") { _ = try ModelFile(bytes: bytes(metadata: ["ensemble": "0"])) }
        expectError(.metadata, containing: "'ensemble' must be an integer") { _ = try ModelFile(bytes: bytes(metadata: ["ensemble": "\"three\""])) }
        expectError(.metadata, containing: "needs format_version 3") { _ = try ModelFile(bytes: bytes(metadata: ["format_version": "2"])) }
        // Without the key, the members' tensors are unexpected (an ensemble is never read as member 0 alone).
        expectError(.tensor, containing: "unexpected tensor 'ensemble.1.") { _ = try ModelFile(bytes: bytes(metadata: ["ensemble": nil])) }
        // Members must differ only in their weights.
        var other = Self.members(Self.architectures[0], count: 1, window: 24)[0]
        expectError(.metadata, containing: "member 1 differs") { _ = try ModelFile(ensemble: [members[0], other], provenance: .null) }
        other = Self.members(Self.architectures[1], count: 1)[0]
        expectError(.metadata, containing: "member 1 differs") { _ = try ModelFile(ensemble: [members[0], other], provenance: .null) }
        expectError(.metadata, containing: "1...16 members, got 17") {
            _ = try ModelFile(ensemble: Array(repeating: members[0], count: 17), provenance: .null)
        }
        var file = good
        file.ensemble = 17
        expectError(.metadata, containing: "ensemble 17 must be in 1...16") { try file.validate() }
    }

    /// The batch forward of an ensemble equals the mean of its members' forwards run as separate
    /// single models (variable lengths, every head).
    @Test(arguments: architectures)
    func forwardIsTheMeanOfTheMembersForwards(_ architecture: Architecture) throws {
        let members = Self.members(architecture, count: 3)
        let model = try LSTMModel(try ModelFile(ensemble: members, provenance: .object([:])))
        #expect(model.ensemble == 3)
        let singles = try members.map { try LSTMModel($0) }
        var generator = SplitMix64(seed: 5)
        let b = 5, t = 12, c = architecture.inputSize, k = architecture.numClasses
        let input = (0..<(b * t * c)).map { _ in generator.normal() }
        let lengths = [12, 3, 7, 12, 1]
        let result = try model.forward(input, batchSize: b, timesteps: t, lengths: lengths, threads: 1)
        let outputs = try singles.map { try $0.forward(input, batchSize: b, timesteps: t, lengths: lengths, threads: 1).probabilities }
        var largest: Float = 0, spread: Float = 0
        for index in 0..<(b * k) {
            let mean = (outputs[0][index] + outputs[1][index] + outputs[2][index]) / 3
            largest = max(largest, abs(result.probabilities[index] - mean))
            spread = max(spread, abs(outputs[0][index] - outputs[1][index]))
            // The logits are the logarithms of the mean, so softmax of them gives it back.
            #expect(abs(exp(result.logits[index]) - result.probabilities[index]) <= 1e-6)
        }
        #expect(largest <= Self.tolerance, "ensemble forward differs from the members' mean by \(largest)")
        #expect(spread > 1e-3, "the members must disagree for the test to mean anything")
        // member(_:) gives the members back as single models.
        for index in 0..<3 {
            let single = try model.member(index)
            #expect(single.ensemble == 1)
            let probabilities = try single.forward(input, batchSize: b, timesteps: t, lengths: lengths, threads: 1).probabilities
            #expect(probabilities == outputs[index])
        }
    }

    /// The step path of an ensemble (plain steps, and shared first-layer projections as the
    /// staggered windows use) equals the mean of the members stepped as separate single models.
    @Test(arguments: architectures.filter { !$0.bidirectional })
    func stepIsTheMeanOfTheMembersSteps(_ architecture: Architecture) throws {
        let members = Self.members(architecture, count: 4)
        let model = try LSTMModel(try ModelFile(ensemble: members, provenance: .object([:])))
        let singles = try members.map { try LSTMModel($0) }
        let state = model.makeState(), projectedState = model.makeState()
        let singleStates = singles.map { $0.makeState() }
        #expect(state.byteCount == singleStates.reduce(0) { $0 + $1.byteCount })
        #expect(model.stepWeightBytes == singles.reduce(0) { $0 + $1.stepWeightBytes })
        var generator = SplitMix64(seed: 9)
        let c = architecture.inputSize
        var projection = [Float](repeating: 0, count: model.projectionCount)
        var scratch = [Float](repeating: 0, count: c)
        #expect(projection.count == 4 * 4 * model.paddedHidden)
        for step in 0..<15 {
            let x = (0..<c).map { _ in generator.normal() }
            model.step(state, input: x)
            x.withUnsafeBufferPointer { input in
                model.projectInput(input.baseAddress!, into: &projection, scratch: &scratch)
            }
            projection.withUnsafeBufferPointer { model.step(projectedState, projectedInput: $0.baseAddress!) }
            for (single, singleState) in zip(singles, singleStates) { single.step(singleState, input: x) }
            let outputs = zip(singles, singleStates).map { $0.classify($1) }
            let mean = (0..<model.classCount).map { j in outputs.reduce(Float(0)) { $0 + $1[j] } / 4 }
            let stepped = model.classify(state), projected = model.classify(projectedState)
            for j in 0..<model.classCount {
                #expect(abs(stepped[j] - mean[j]) <= Self.tolerance, "step \(step) class \(j)")
                #expect(abs(projected[j] - mean[j]) <= Self.tolerance, "projected step \(step) class \(j)")
            }
        }
        // Reset and copy cover every member.
        let copy = model.makeState()
        copy.copy(from: state)
        #expect(model.classify(copy) == model.classify(state))
        state.reset()
        #expect(model.classify(state) == model.classify(model.makeState()))
    }
}
