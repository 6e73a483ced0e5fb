import Foundation
import LSTMKit
import Testing

@testable import LSTMTraining

/// Long univariate series whose class is the number of sine periods (1, 2 or 3), each sample
/// multiplied by a log-uniform amplitude in 10^[-3, 2] and shifted by an offset of the same
/// scale, lengths `length/2 ... length`: the shape of the UCR sets a global scaler cannot serve.
func heavyTailedDataset(samples: Int, length: Int = 600, seed: UInt64 = 5) -> Dataset {
    var generator = SplitMix64(seed: seed)
    let items = (0..<samples).map { index -> Dataset.Sample in
        let label = index % 3
        let t = length / 2 + Int(generator.next() % UInt64(length / 2 + 1))
        let amplitude = pow(10, generator.uniform(-3, 2))
        let offset = amplitude * generator.normal()
        let phase = generator.uniform(0, 6.28)
        let values = (0..<t).map { step in
            offset + amplitude * (sin(Float(label + 1) * 6.28 * Float(step) / Float(t) + phase) + 0.1 * generator.normal())
        }
        return Dataset.Sample(values: values, length: t, label: label)
    }
    return Dataset(samples: items, channels: 1, classNames: ["one", "two", "three"])
}

/// Short series whose class is its level (−1 or +1): learnt within an epoch or two.
func levelDataset(samples: Int, seed: UInt64 = 7) -> Dataset {
    var generator = SplitMix64(seed: seed)
    let items = (0..<samples).map { index -> Dataset.Sample in
        let label = index % 2
        let values = (0..<20).map { _ in Float(label * 2 - 1) + 0.3 * generator.normal() }
        return Dataset.Sample(values: values, length: 20, label: label)
    }
    return Dataset(samples: items, channels: 1, classNames: ["low", "high"])
}

/// A small recipe that trains fast in a debug build: the check runs after `ChanceCheck.epoch`.
private func quickRecipe() -> TrainingConfiguration {
    var configuration = TrainingConfiguration()
    configuration.hiddenSize = 8
    configuration.layers = 1
    configuration.bidirectional = false
    configuration.epochs = ChanceCheck.epoch
    configuration.batchSize = 8
    return configuration
}

@Suite("Diagnostics")
struct DiagnosticsTests {
    @Test("The data summary measures lengths, amplitude spread and balance, and suggests per-sample normalisation and downsampling")
    func summarySuggests() throws {
        let summary = DataSummary(heavyTailedDataset(samples: 60))
        #expect(summary.samples == 60)
        #expect(summary.longest > DataSummary.longSample && summary.shortest >= 300)
        #expect(summary.amplitudeSpread > 100, "spread \(summary.amplitudeSpread)")
        #expect(summary.classCounts == [20, 20, 20])
        #expect(abs(summary.majorityRate - 1.0 / 3) < 1e-12)
        #expect(summary.suggestions.count == 2)
        #expect(summary.suggestions.contains { $0.contains("--normalize per-sample") && $0.contains("differ in amplitude by 10^") })
        #expect(summary.suggestions.contains { $0.contains("--downsample auto") && $0.contains("longest sample \(summary.longest) steps") })
        // Already using them: no suggestion.
        #expect(DataSummary(heavyTailedDataset(samples: 60), normalizesPerSample: true, downsamples: true).suggestions.isEmpty)
        // JSON carries the numbers and the suggestions.
        #expect(summary.json["length_max"]?.numberValue == Double(summary.longest))
        #expect(summary.json["suggestions"].flatMap { if case .array(let items) = $0 { items.count } else { nil } } == 2)
    }

    @Test("A short, evenly scaled, balanced set gets no suggestion; an imbalanced one is told about balancing")
    func summaryQuiet() {
        #expect(DataSummary(levelDataset(samples: 40)).suggestions.isEmpty)
        let amplitudes = DataSummary(levelDataset(samples: 40))
        #expect(amplitudes.amplitudeSpread < 3, "\(amplitudes.amplitudeSpread)")
        let skewed = levelDataset(samples: 40).subset((0..<40).filter { $0 % 2 == 1 || $0 < 8 })
        #expect(DataSummary(skewed).suggestions.contains { $0.contains("--balancing") })
    }

    @Test("Constant samples give a finite summary")
    func constantSamples() {
        let data = Dataset(
            samples: [
                .init(values: [1, 1, 1], length: 3, label: 0), .init(values: [2, 2, 2], length: 3, label: 1),
            ], channels: 1, classNames: ["a", "b"])
        let summary = DataSummary(data)
        #expect(summary.amplitudeP10 == 0 && summary.amplitudeP90 == 0 && summary.amplitudeSpread == 1)
        #expect(summary.suggestions.isEmpty)
    }

    @Test("The chance margin: 0.05 or a tenth of the way to 1")
    func chanceMargin() {
        #expect(ChanceCheck.isNearChance(accuracy: 0.37, majorityRate: 1.0 / 3))
        #expect(!ChanceCheck.isNearChance(accuracy: 0.45, majorityRate: 1.0 / 3))
        #expect(ChanceCheck.isNearChance(accuracy: 0.54, majorityRate: 0.5))
        #expect(!ChanceCheck.isNearChance(accuracy: 0.56, majorityRate: 0.5))
        #expect(ChanceCheck.isNearChance(accuracy: 0.93, majorityRate: 0.9))
    }

    @Test("Long heavy-tailed series the recipe cannot learn raise the near-chance warning, naming the causes")
    func nearChanceWarning() throws {
        var events: [String] = []
        var plan: TrainingPlan?
        let result = try Trainer(configuration: quickRecipe()).train(heavyTailedDataset(samples: 48)) { event in
            switch event {
            case .warning(let epoch, let message): events.append("\(epoch): \(message)")
            case .started(let started): plan = started
            default: break
            }
        }
        let last = try #require(result.history.epochs.last)
        #expect(ChanceCheck.isNearChance(accuracy: last.trainAccuracy, majorityRate: 1.0 / 3), "accuracy \(last.trainAccuracy)")
        #expect(events.count == 1, "\(events)")
        let message = try #require(events.first)
        #expect(message.hasPrefix("\(ChanceCheck.epoch): training accuracy"))
        for cause in ["scaling", "sequence length", "learning rate", "--normalize per-sample", "--downsample auto"] {
            #expect(message.contains(cause), "\(cause) missing from \(message)")
        }
        #expect(result.warnings.count == 1)
        #expect(plan?.data?.suggestions.count == 2)
    }

    @Test("A learnable set raises no warning and no suggestion")
    func learnableQuiet() throws {
        var warnings: [String] = []
        let result = try Trainer(configuration: quickRecipe()).train(levelDataset(samples: 40)) { event in
            if case .warning(_, let message) = event { warnings.append(message) }
        }
        #expect(warnings.isEmpty, "\(warnings)")
        #expect(result.warnings.isEmpty && result.plan.data?.suggestions == [])
        #expect((result.history.epochs.last?.trainAccuracy ?? 0) > 0.9)
    }

    @Test("The report shows the data summary and its suggestions")
    func reportShowsData() {
        let summary = DataSummary(heavyTailedDataset(samples: 30))
        let html = TrainingReport(
            title: "t", history: TrainingHistory(epochs: [], bestEpoch: nil, stoppedEarly: false), classNames: ["a", "b", "c"],
            data: summary
        ).html()
        #expect(html.contains("<section id=\"data\">"))
        #expect(html.contains("length (min / median / max)"))
        #expect(html.contains("Suggestion: samples differ in amplitude"))
    }
}
