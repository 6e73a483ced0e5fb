import Foundation
import LSTMKit
import Testing

@testable import LSTMTraining

@Suite("Ensembles (ensemble)")
struct EnsembleTrainingTests {
    private func recipe(ensemble: Int, threads: Int = 2) -> TrainingConfiguration {
        var configuration = smallRecipe()
        configuration.epochs = 4
        configuration.validationFraction = 0.25
        configuration.ensemble = ensemble
        configuration.threads = threads
        return configuration
    }

    /// Members differ only by seed: member i is the plain model of its derived seed, trained with
    /// the member's share of the threads, on the same validation hold-out.
    @Test("each member is the single model of its seed; the file is deterministic")
    func membersAreTheSingleModelsOfTheirSeeds() throws {
        let data = toyDataset(samples: 32)
        var configuration = recipe(ensemble: 3)
        configuration.validationFraction = 0
        let result = try Trainer(configuration: configuration).train(data)
        #expect(result.model.ensemble == 3 && result.members.count == 3)
        #expect(result.plan.ensemble == 3 && result.plan.parameters == result.model.parameterCount)
        // threads 2, 3 members: two at a time, one batch thread each.
        for index in 0..<3 {
            var single = configuration
            single.ensemble = 1
            single.threads = 1
            single.seed = TrainingConfiguration.memberSeed(single.seed, member: index)
            let expected = try Trainer(configuration: single).train(data).model
            #expect(result.model.member(index).tensors == expected.tensors, "member \(index)")
        }
        #expect(result.model.member(0).tensors != result.model.member(1).tensors)
        #expect(TrainingConfiguration.memberSeed(7, member: 0) == 7)
        let again = try Trainer(configuration: configuration).train(data)
        #expect(again.model.serialized() == result.model.serialized())
    }

    @Test("members share the validation hold-out; per-member and ensemble metrics are reported")
    func validationPerMemberAndEnsemble() throws {
        let data = toyDataset(samples: 32)
        let result = try Trainer(configuration: recipe(ensemble: 3)).train(data)
        let members = try #require(result.model.provenance["ensemble"]?["members"])
        guard case .array(let list) = members else { Issue.record("members is not an array"); return }
        #expect(list.count == 3)
        #expect(list[1]["seed"]?.stringValue == String(TrainingConfiguration.memberSeed(1, member: 1)))
        let ensembleMetrics = try #require(result.validation)
        #expect(result.members.allSatisfy { $0.validation?.count == ensembleMetrics.count })
        let model = try LSTMModel(result.model)
        let (_, holdout) = Splitting.stratifiedHoldout(
            labels: data.samples.map { $0.label! }, classCount: 2, validationFraction: 0.25, seed: 1)
        let rescored = try ClassificationMetrics(evaluating: model, on: data.subset(holdout))
        #expect(rescored.accuracy == ensembleMetrics.accuracy)
        #expect(result.model.provenance["validation"]?["accuracy"]?.numberValue == ensembleMetrics.accuracy)
        #expect(result.model.provenance["recipe"]?["ensemble"]?.stringValue == "3")
    }

    /// The calling thread trains members 0, P, 2P, … (P = min(members, threads)); their events
    /// reach the caller in turn, each member's after a `member` event, so progress covers the
    /// whole run instead of stopping when member 0 is done.
    @Test("progress reports every member the calling thread trains, each after a member event", arguments: [1, 2])
    func progressCoversEveryMemberOfTheCallingThread(threads: Int) throws {
        let data = toyDataset(samples: 24)
        var configuration = recipe(ensemble: 3, threads: threads)
        configuration.epochs = 2
        var log: [String] = []
        let result = try Trainer(configuration: configuration).train(data) { event in
            switch event {
            case .started(let plan): log.append("started \(plan.ensemble)")
            case .member(let index, let count): log.append("member \(index)/\(count)")
            case .epoch(let record, _): log.append("epoch \(record.epoch)")
            case .batch, .warning: break
            }
        }
        let members = threads == 1 ? [0, 1, 2] : [0, 2]
        let expected = ["started 3"] + members.flatMap { ["member \($0)/3", "epoch 1", "epoch 2"] }
        #expect(log == expected)
        #expect(result.members.count == 3 && result.members.allSatisfy { $0.history.epochs.count == 2 })
    }

    @Test("an ensemble's report charts every member's curve; a single model's has no member chart")
    func reportChartsEveryMember() throws {
        let data = toyDataset(samples: 24)
        var configuration = recipe(ensemble: 3, threads: 1)
        configuration.epochs = 2
        let result = try Trainer(configuration: configuration).train(data)
        var report = TrainingReport(title: "t", history: result.history, classNames: ["a", "b"])
        #expect(report.lineCharts().count == 3)
        report.members = result.members.map(\.history)
        let charts = report.lineCharts()
        #expect(charts.count == 4)
        let chart = try #require(charts.last)
        #expect(chart.series.map(\.name) == ["member 1", "member 2", "member 3"])
        #expect(chart.title.hasPrefix("Validation accuracy"))
        #expect(chart.series[2].values.compactMap { $0 } == result.members[2].history.epochs.compactMap(\.validationAccuracy))
        let page = report.html()
        #expect(page.contains("An ensemble of 3 members"))
        #expect(page.contains(">member 3<"))
    }

    @Test("ensemble 1 is the single model; the recipe JSON leaves the default out")
    func ensembleOneIsTheSingleModel() throws {
        let data = toyDataset(samples: 24)
        var configuration = recipe(ensemble: 1)
        configuration.epochs = 2
        let result = try Trainer(configuration: configuration).train(data)
        #expect(result.model.ensemble == 1 && result.members.isEmpty)
        #expect(result.model.metadata["ensemble"] == nil)
        #expect(configuration.json["ensemble"] == nil)
        configuration.ensemble = 2
        #expect(configuration.json["ensemble"]?.stringValue == "2")
    }

    @Test("ensemble is a recipe key in 1...16")
    func setting() throws {
        var configuration = TrainingConfiguration()
        #expect(configuration.value(of: "ensemble") == "1")
        try configuration.set("ensemble", "4")
        #expect(configuration.ensemble == 4)
        for bad in [0, 17, -1] {
            configuration.ensemble = bad
            #expect(throws: TrainingError.self) { try configuration.validate() }
            do {
                try configuration.validate()
            } catch {
                #expect("\(error)" == "ensemble must be in 1...16, got \(bad)")
            }
        }
    }

    @Test("a warm start must have as many members as the recipe")
    func warmStartMembersMustMatch() throws {
        let data = toyDataset(samples: 24)
        var configuration = recipe(ensemble: 1)
        configuration.epochs = 1
        let single = try Trainer(configuration: configuration).train(data).model
        configuration.ensemble = 2
        #expect(throws: TrainingError.self) { try Trainer(configuration: configuration).train(data, warmStart: single) }
    }
}
