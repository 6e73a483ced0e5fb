import Foundation
import LSTMKit
import Testing

@testable import LSTMTraining

@Suite("Trainer preprocessing")
struct TrainerPreprocessingTests {
    @Test("normalize and downsample are recipe settings: auto, K, per-sample; bad values refused")
    func settings() throws {
        var configuration = TrainingConfiguration()
        #expect(configuration.value(of: "normalize") == "global" && configuration.value(of: "downsample") == "1")
        try configuration.set("normalize", "per-sample")
        try configuration.set("downsample", "auto")
        #expect(configuration.normalize == .perSample && configuration.downsample == 0)
        #expect(configuration.value(of: "downsample") == "auto")
        #expect(configuration.preprocessing(longest: 1344) == Preprocessing(normalization: .perSample, downsample: 7))
        try configuration.set("downsample", "8")
        #expect(configuration.preprocessing(longest: 1344).downsample == 8)
        #expect(throws: TrainingError.self) { try configuration.set("downsample", "0") }
        #expect(throws: TrainingError.self) { try configuration.set("downsample", "fast") }
        #expect(throws: TrainingError.self) { try configuration.set("normalize", "per-window") }
        var file = TrainingConfiguration()
        try file.apply(recipe: "normalize = per-sample\ndownsample = auto\n", path: "r")
        #expect(file.normalize == .perSample && file.downsample == 0)
    }

    @Test("The model carries the preprocessing; evaluation of the written model matches the trainer's own")
    func modelCarriesPreprocessing() throws {
        var configuration = TrainingConfiguration()
        configuration.hiddenSize = 8
        configuration.layers = 1
        configuration.bidirectional = false
        configuration.epochs = 3
        configuration.normalize = .perSample
        configuration.downsample = 0
        let data = heavyTailedDataset(samples: 30, length: 500)
        let validation = heavyTailedDataset(samples: 15, length: 500, seed: 77)
        var plan: TrainingPlan?
        let result = try Trainer(configuration: configuration).train(data, validation: validation) { event in
            if case .started(let started) = event { plan = started }
        }
        let model = result.model
        #expect(model.preprocessing == Preprocessing(normalization: .perSample, downsample: 3))
        #expect(plan?.preprocessing == model.preprocessing)
        #expect(model.scaler == Scaler.identity(channels: 1), "per-sample models keep an identity scaler")
        #expect(model.window % 3 == 0 && model.hop % 3 == 0 && model.window <= data.maxLength)
        // No suggestion for what the recipe already does.
        #expect(plan?.data?.suggestions == [])
        let trainer = try #require(result.validation)
        let written = try ClassificationMetrics(evaluating: try LSTMModel(model), on: validation)
        #expect(written.confusionMatrix == trainer.confusionMatrix)
        // And through the file.
        let reread = try ModelFile(bytes: model.serialized())
        #expect(reread.preprocessing == model.preprocessing)
    }

    @Test("A given window and hop are rounded to whole blocks, with a warning")
    func windowInBlocks() throws {
        var configuration = smallRecipe()
        configuration.epochs = 1
        configuration.downsample = 4
        configuration.window = 22
        configuration.hop = 6
        let result = try Trainer(configuration: configuration).train(toyDataset(samples: 20, length: 24))
        #expect(result.model.window == 20 && result.model.hop == 4)
        #expect(result.plan.warnings.contains { $0.contains("whole blocks of downsample 4") })
    }

    @Test("A downsampling factor beyond the longest sample and a hop beyond the window are refused, not clamped")
    func outOfRangeBlocksAndHops() throws {
        let data = toyDataset(samples: 20, length: 24)
        func message(_ change: (inout TrainingConfiguration) -> Void) -> String? {
            var configuration = smallRecipe()
            configuration.epochs = 1
            change(&configuration)
            do {
                _ = try Trainer(configuration: configuration).train(data)
                return nil
            } catch let error as TrainingError {
                return error.message
            } catch {
                return "\(error)"
            }
        }
        #expect(message { $0.downsample = 100 }?.hasPrefix(
            "--downsample 100 averages blocks longer than the longest training sample (24 timesteps)") == true)
        #expect(message { $0.downsample = 24 } == nil, "one block per sample is still a model")
        #expect(message { $0.hop = 100 }?.hasPrefix(
            "--hop 100 is longer than the window (24 timesteps, the longest training sample)") == true)
        #expect(message { $0.window = 10; $0.hop = 11 }?.hasPrefix("--hop 11 is longer than the window (10 timesteps)") == true)
        #expect(message { $0.window = 10; $0.hop = 10 } == nil)
        // Hop equal to the window, both then rounded to whole blocks of 4 (20 and 20).
        #expect(message { $0.window = 22; $0.hop = 22; $0.downsample = 4 } == nil)
    }
}
