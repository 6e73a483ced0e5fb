import Foundation
import LSTMKit
import LSTMTraining
import Testing

/// The bundled default model, run on the public BasicMotions TEST split, gives the float64 reference's
/// probabilities (the oracle in `Tests/LSTMKitTests/Fixtures/basicmotions_expected.json`: numpy,
/// its LSTM layers checked against PyTorch by `deploy/tools/default_model.py`).
@Suite struct DefaultModelParityTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Expected: Decodable {
        struct Sample: Decodable {
            var index: Int
            var predicted: Int
            var probabilities: [Double]
        }
        var classes: [String]
        var test_accuracy: Double
        var samples: [Sample]
    }

    @Test func defaultModelMatchesTheReferenceOnBasicMotions() throws {
        let model = try LSTMModel(contentsOf: Self.repository.appendingPathComponent("Sources/Daemon/Resources/default.safetensors"))
        let expected = try JSONDecoder().decode(
            Expected.self,
            from: Data(contentsOf: Self.repository.appendingPathComponent("Tests/LSTMKitTests/Fixtures/basicmotions_expected.json")))
        let dataset = try TSFileParser.parse(contentsOf: Self.repository.appendingPathComponent("Tests/LSTMTrainingTests/Fixtures/BasicMotions_TEST.ts"))
        #expect(model.classes == expected.classes)
        let batch = dataset.paddedBatch(dataset.samples.indices)
        let result = try model.forward(batch.values, batchSize: dataset.samples.count, timesteps: batch.timesteps, lengths: batch.lengths)
        var correct = 0
        for sample in expected.samples {
            let probabilities = result.probabilities(of: sample.index)
            let difference = zip(probabilities, sample.probabilities).map { abs(Double($0) - $1) }.max()!
            #expect(difference <= 1e-5, "sample \(sample.index) differs by \(difference)")
            #expect(result.predictedClass(of: sample.index) == sample.predicted)
            if model.classes[sample.predicted] == dataset.classNames[dataset.samples[sample.index].label!] { correct += 1 }
        }
        #expect(Double(correct) / Double(expected.samples.count) == expected.test_accuracy)
    }
}
