import Foundation
import LSTMKit
import Testing

@testable import LSTMTraining

/// What the trainer says about its data and plan: faults named with file, line and sample;
/// validation data with some of the classes; the parameter count; balancing; the kept epoch.
@Suite("Training checks")
struct TrainingChecksTests {
    /// CSV text of `samples` (id, class) with `channels` channels and 4 rows each.
    static func csv(_ samples: [(String, String?)], channels: Int = 2, labelled: Bool = true) -> String {
        var generator = SplitMix64(seed: 5)
        var text = "sample," + (0..<channels).map { "c\($0)" }.joined(separator: ",") + (labelled ? ",label" : "") + "\n"
        for (id, label) in samples {
            for _ in 0..<4 {
                text += id + "," + (0..<channels).map { _ in String(generator.normal()) }.joined(separator: ",")
                text += labelled ? "," + (label ?? "") : ""
                text += "\n"
            }
        }
        return text
    }

    func recipe() -> TrainingConfiguration {
        var configuration = smallRecipe()
        configuration.epochs = 2
        configuration.validationFraction = 0
        return configuration
    }

    func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "(no error)"
        } catch {
            return "\(error)"
        }
    }

    @Test("CSV samples keep their ids, first lines and the file name")
    func csvKeepsIDsAndLines() throws {
        let data = try CSVDatasetParser.parse(Self.csv([("walk-01", "a"), ("run-07", "b")]), source: "t.csv")
        #expect(data.samples.map(\.id) == ["walk-01", "run-07"])
        #expect(data.samples.map(\.line) == [2, 6])
        #expect(data.source == "t.csv")
        let scaled = data.subset([1]).scaled(by: .zscore(mean: [0, 0], std: [1, 1]))
        #expect(scaled.samples[0].id == "run-07" && scaled.samples[0].line == 6 && scaled.source == "t.csv")
        let ts = try TSFileParser.parse(contentsOf: FixtureFiles.url("BasicMotions_TRAIN.ts"))
        #expect(ts.samples[0].id == nil && ts.samples[0].line != nil && ts.source == FixtureFiles.url("BasicMotions_TRAIN.ts").path)
    }

    @Test("An unlabelled training CSV names its file, line and sample")
    func unlabelledTrainingData() throws {
        let data = try CSVDatasetParser.parse(Self.csv([("a1", nil), ("b1", nil)], labelled: false), source: "u.csv")
        let text = message { _ = try Trainer(configuration: recipe()).train(data) }
        #expect(text.hasPrefix("u.csv:2: sample 'a1' has no label"), "\(text)")
        let partly = try CSVDatasetParser.parse(Self.csv([("a1", "x"), ("b1", nil), ("c1", "y")]), source: "p.csv")
        let second = message { _ = try Trainer(configuration: recipe()).train(partly) }
        #expect(second.hasPrefix("p.csv:6: sample 'b1' has no label"), "\(second)")
    }

    @Test("Validation faults are told apart: channels, unknown class, one class")
    func validationFaults() throws {
        let train = try CSVDatasetParser.parse(
            Self.csv([("a1", "a"), ("b1", "b"), ("c1", "c"), ("a2", "a"), ("b2", "b"), ("c2", "c")]), source: "t.csv")
        let trainer = try Trainer(configuration: recipe())
        let channels = try CSVDatasetParser.parse(Self.csv([("a1", "a"), ("b1", "b")], channels: 3), source: "v.csv")
        #expect(message { _ = try trainer.train(train, validation: channels) }
            == "validation data v.csv has 3 channels, the training data (t.csv) has 2")
        let unknown = try CSVDatasetParser.parse(Self.csv([("a1", "a"), ("z1", "zebra")]), source: "v.csv")
        let unknownText = message { _ = try trainer.train(train, validation: unknown) }
        #expect(unknownText.hasPrefix("v.csv:6: sample 'z1' of the validation data has class 'zebra'"), "\(unknownText)")
        let one = try CSVDatasetParser.parse(Self.csv([("a1", "a"), ("a2", "a")]), source: "v.csv")
        let oneText = message { _ = try trainer.train(train, validation: one) }
        #expect(oneText.contains("v.csv holds samples of only one class ('a', 2 samples)"), "\(oneText)")
        let unlabelled = try CSVDatasetParser.parse(Self.csv([("a1", "a"), ("b1", nil)]), source: "v.csv")
        let unlabelledText = message { _ = try trainer.train(train, validation: unlabelled) }
        #expect(unlabelledText.hasPrefix("v.csv:6: sample 'b1' has no label"), "\(unlabelledText)")
    }

    @Test("Validation data with some of the training classes, in another order, is scored with a note")
    func validationWithSomeClasses() throws {
        let train = try CSVDatasetParser.parse(
            Self.csv([("a1", "a"), ("b1", "b"), ("c1", "c"), ("a2", "a"), ("b2", "b"), ("c2", "c")]), source: "t.csv")
        let validation = try CSVDatasetParser.parse(Self.csv([("c9", "c"), ("a9", "a"), ("c8", "c")]), source: "v.csv")
        let result = try Trainer(configuration: recipe()).train(train, validation: validation)
        #expect(result.plan.validationSamples == 3)
        #expect(result.plan.notes.count == 1)
        #expect(result.plan.notes.first?.contains("holds 2 of the 3 training classes (none of: b)") == true, "\(result.plan.notes)")
        let metrics = try #require(result.validation)
        #expect(metrics.classNames == ["a", "b", "c"])
        #expect(metrics.support == [1, 0, 2], "labels renumbered to the training classes by name")
    }

    @Test("The plan counts parameters as the model file does, and balanced samples")
    func planCounts() throws {
        let data = toyDataset(samples: 40).subset(Array(0..<40).filter { $0 % 2 == 0 || $0 < 12 })
        var configuration = recipe()
        configuration.balancing = .oversample
        configuration.head = .attention
        configuration.dense = [5]
        let result = try Trainer(configuration: configuration).train(data)
        let elements = result.model.tensors.values.reduce(0) { $0 + $1.scalars.count }
        #expect(result.plan.parameters == elements)
        #expect(result.plan.parameters == result.model.parameterCount)
        #expect(result.plan.trainSamples == 26 && result.plan.balancedSamples == 40)
        #expect(result.plan.balancing == .oversample)
    }

    @Test("Without validation data the last epoch is kept and said to be the last, not the best")
    func keptEpoch() throws {
        let data = toyDataset(samples: 20)
        let last = try Trainer(configuration: recipe()).train(data).history
        #expect(last.selection == .last)
        #expect(last.keptSummary.hasPrefix("last epoch (no validation data to pick a best one)"), "\(last.keptSummary)")
        #expect(last.markedEpoch == nil)
        var configuration = recipe()
        configuration.validationFraction = 0.3
        let best = try Trainer(configuration: configuration).train(data).history
        #expect(best.selection == .bestValidationLoss)
        #expect(best.keptSummary.hasPrefix("best epoch "), "\(best.keptSummary)")
    }

    @Test("A window that differs from the training samples' lengths is warned about")
    func windowWarning() throws {
        let data = toyDataset(samples: 20, length: 24)
        var configuration = recipe()
        #expect(try Trainer(configuration: configuration).train(data).plan.warnings.isEmpty)
        configuration.window = 12
        let short = try Trainer(configuration: configuration).train(data)
        #expect(short.model.window == 12)
        let warning = try #require(short.plan.warnings.first)
        #expect(warning.contains("window 12 is shorter than the training samples (24 timesteps)"), "\(warning)")
        #expect(warning.contains("last 12 timesteps"), "\(warning)")
        configuration.window = 48
        let long = try #require(try Trainer(configuration: configuration).train(data).plan.warnings.first)
        #expect(long.contains("window 48 is longer than the training samples"), "\(long)")
    }

    @Test("Evaluation names an unknown class with its file, line and sample")
    func evaluationUnknownClass() throws {
        let result = try Trainer(configuration: recipe()).train(toyDataset(samples: 20))
        let model = try LSTMModel(result.model)
        let data = try CSVDatasetParser.parse(Self.csv([("x1", "class0"), ("x2", "other")]), source: "e.csv")
        let text = message { _ = try ClassificationMetrics(evaluating: model, on: data) }
        #expect(text.hasPrefix("e.csv:6: sample 'x2' of the evaluation data has class 'other', which the model does not have"), "\(text)")
    }

    @Test("Ordered JSON keeps per-class members in class order")
    func orderedJSON() {
        let metrics = ClassificationMetrics(predictions: [0, 1, 2], labels: [0, 1, 2], classNames: ["z", "a", "m"])
        let text = metrics.orderedJSON.jsonText
        let z = text.range(of: "\"z\":")!.lowerBound, a = text.range(of: "\"a\":")!.lowerBound
        let m = text.range(of: "\"m\":")!.lowerBound
        #expect(z < a && a < m, "\(text)")
        #expect(text.hasPrefix("{\"accuracy\":1,"), "\(text)")
        #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8))) != nil, "valid JSON: \(text)")
    }
}
