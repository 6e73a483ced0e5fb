import Foundation
import Testing

@testable import LSTMKit

/// The training engine's loss, logits and every gradient against PyTorch autograd in Float64
/// (fixtures from `deploy/tools/gen_training_fixtures.py`, `Tests/LSTMKitTests/Fixtures/training`).
/// Tolerance: |ours − PyTorch| ≤ 1e-4 · max(1, max |PyTorch|) per tensor.
/// A case whose metadata says `"batch_norm": "batch"` (a convolutional front end) runs the forward
/// pass in training mode, so the front end normalises with the batch statistics of the valid
/// timesteps (dropout is 0 in every fixture, so nothing else changes), and then checks the
/// running statistics after the momentum-0.1 update against `after.*` (1e-5 · max(1, |PyTorch|)
/// per element).
@Suite("Training engine against PyTorch autograd")
struct TrainingParityTests {
    static var directory: URL { Fixtures.directory.appendingPathComponent("training") }

    static var cases: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".grad.safetensors") }.map { String($0.dropLast(".grad.safetensors".count)) }.sorted()
    }

    @Test("The fixture set is complete")
    func fixturesPresent() {
        #expect(Self.cases.count == 6, "\(Self.cases)")
    }

    @Test("Loss, logits, parameter and input gradients match", arguments: cases)
    func parity(_ name: String) throws {
        let file = try ModelFile(contentsOf: Self.directory.appendingPathComponent("\(name).safetensors"))
        let expected = try SafeTensors(contentsOf: Self.directory.appendingPathComponent("\(name).grad.safetensors"))
        let arch = file.architecture
        let layout = ParameterLayout(arch)
        var parameters = layout.parameters(from: file)
        let batchNormalization = expected.metadata["batch_norm"] == "batch"
        let input = try expected.floats("input")
        let lengths = try expected.integers("lengths"), labels = try expected.integers("labels")
        let weights = try expected.floats("class_weights")
        let b = lengths.count, c = arch.inputSize, k = arch.numClasses
        let t = input.count / (b * c)

        let workspace = TrainingWorkspace(layout: layout, batchCapacity: b, timestepCapacity: t)
        workspace.prepare(batchSize: b, timesteps: t)
        for sample in 0..<b {
            workspace.lengths[sample] = lengths[sample]
            workspace.labels[sample] = labels[sample]
            for time in 0..<t {
                for channel in 0..<c {
                    workspace.input[(time * b + sample) * c + channel] = input[(sample * t + time) * c + channel]
                }
            }
        }
        var gradients = [Float](repeating: 0, count: layout.count)
        var generator = SplitMix64(seed: 0)
        let loss = parameters.withUnsafeBufferPointer { p in
            weights.withUnsafeBufferPointer { w in
                workspace.forward(parameters: p.baseAddress!, training: batchNormalization, generator: &generator)
                let loss = workspace.loss(classWeights: w.baseAddress!)
                gradients.withUnsafeMutableBufferPointer { g in
                    workspace.backward(
                        parameters: p.baseAddress!, gradients: g.baseAddress!, classWeights: w.baseAddress!,
                        normalizer: Float(loss.weightSum), inputGradient: true)
                }
                return loss.weightedSum / loss.weightSum
            }
        }

        func check(_ what: String, _ ours: [Float], _ theirs: [Float]) {
            let scale = max(1, theirs.map(abs).max() ?? 0)
            let difference = maxAbsDifference(ours, theirs)
            #expect(difference <= 1e-4 * scale, "\(name) \(what): max |diff| \(difference)")
        }
        #expect(abs(loss - Double(try expected.floats("loss")[0])) <= 1e-5, "\(name) loss \(loss)")
        check("logits", (0..<(b * k)).map { workspace.logits[$0] }, try expected.floats("logits"))
        for entry in layout.entries {
            let ours = Array(gradients[entry.offset..<(entry.offset + entry.count)])
            check("grad.\(entry.name)", ours, try expected.floats("grad.\(entry.name)"))
        }
        var inputGradient = [Float](repeating: 0, count: b * t * c)
        for sample in 0..<b {
            for time in 0..<t {
                for channel in 0..<c {
                    inputGradient[(sample * t + time) * c + channel] = workspace.inputGradient[(time * b + sample) * c + channel]
                }
            }
        }
        check("grad.input", inputGradient, try expected.floats("grad.input"))

        guard batchNormalization else { return }
        layout.updateRunningStatistics(&parameters, workspaces: [workspace][...])
        for index in arch.frontEnd.indices {
            for statistic in ["running_mean", "running_var"] {
                let name = "frontend.\(index).norm.\(statistic)"
                let entry = try #require(layout.entry(name), "\(name) is not in the layout")
                let ours = Array(parameters[entry.offset..<(entry.offset + entry.count)])
                let theirs = try expected.floats("after.\(name)")
                #expect(ours.count == theirs.count, "\(name) size")
                for (element, (got, want)) in zip(ours, theirs).enumerated() {
                    #expect(abs(got - want) <= 1e-5 * max(1, abs(want)), "\(name)[\(element)] after the update: \(got) vs \(want)")
                }
            }
        }
    }
}
