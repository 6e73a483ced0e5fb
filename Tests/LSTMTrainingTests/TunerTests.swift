import LSTMKit
import Testing

@testable import LSTMTraining

/// `lstmctl tune`'s scheduler on fake scores, costs and a manual clock (no training), and its
/// search space.
@Suite("Tuner")
struct TunerTests {
    /// A clock the fake evaluations advance.
    final class ManualClock {
        var now = 0.0
    }

    static func scheduler(
        scores: Int, plan: HalvingPlan, budget: Double = 1e9, cost: [StreamingCost]? = nil, finalEpochs: Int = 1
    ) -> SuccessiveHalving {
        SuccessiveHalving(
            plan: plan, budget: budget, work: [Double](repeating: 1, count: scores),
            cost: cost ?? [StreamingCost](repeating: StreamingCost(bidirectional: false, flopsPerStep: 1), count: scores),
            foldSamples: 1, finalSamples: 1, finalEpochs: finalEpochs)
    }

    @Test func theRungsGrowToTheRecipesEpochsAndFolds() {
        let plan = HalvingPlan(candidates: 16, epochs: 90, folds: 5)
        #expect(plan.rungs == [.init(epochs: 10, folds: 3), .init(epochs: 30, folds: 5), .init(epochs: 90, folds: 5)])
        #expect(plan.promoted(of: 16) == 6 && plan.promoted(of: 6) == 2)
        #expect(HalvingPlan(candidates: 3, epochs: 7, folds: 2).rungs == [.init(epochs: 7, folds: 2)])
        #expect(HalvingPlan(candidates: 4, epochs: 3, folds: 2).rungs == [.init(epochs: 1, folds: 2), .init(epochs: 3, folds: 2)])
        // Never more than four rungs, never less than one epoch.
        let many = HalvingPlan(candidates: 1000, epochs: 10, folds: 5)
        #expect(many.rungs.count == 4 && many.rungs[0].epochs == 1)
    }

    @Test func halvingPromotesTheBetterCandidatesAndStopsTheRestEarly() {
        // Candidate c scores c/10 on every fold, so 6, 7 and 8 are best, 8 best of all.
        let plan = HalvingPlan(candidates: 9, epochs: 9, folds: 4)
        #expect(plan.rungs == [.init(epochs: 3, folds: 2), .init(epochs: 9, folds: 4)])
        var calls: [(candidate: Int, rung: Int)] = []
        let clock = ManualClock()
        let outcome = Self.scheduler(scores: 9, plan: plan).run(
            now: { clock.now },
            evaluate: { candidate, rung, _ in
                calls.append((candidate, rung))
                clock.now += Double(plan.rungs[rung].epochs)
                return Double(candidate) / 10
            })
        #expect(Set(calls.filter { $0.rung == 1 }.map(\.candidate)) == [6, 7, 8])
        #expect(calls.filter { $0.rung == 0 }.count == 9 * 2 && calls.filter { $0.rung == 1 }.count == 3 * 4)
        #expect(outcome.winner == 8 && outcome.highestRung == 1 && !outcome.budgetBound)
        for candidate in 0..<6 {
            #expect(outcome.records[candidate].outcome == .stopped)
            #expect(outcome.records[candidate].results.count == 1, "stopped after the first rung")
        }
        #expect(outcome.records[6].outcome == .finalist && outcome.records[7].outcome == .finalist)
        #expect(outcome.records[8].outcome == .winner && outcome.records[8].results.map(\.mean) == [0.8, 0.8])
    }

    @Test func theBudgetDropsWhatCannotFinishAndKeepsTimeForTheFinalTraining() {
        // Each fold takes `epochs` seconds (work 1 × 1 sample): rung 1 costs 4 × 2 × 1 = 8 s,
        // each rung-2 candidate 2 × 3 = 6 s, the final training 3 s. 17.5 s fit the first rung,
        // one rung-2 candidate and the final training, not the second rung-2 candidate.
        let plan = HalvingPlan(rungs: [.init(epochs: 1, folds: 2), .init(epochs: 3, folds: 2)], reduction: 2)
        let clock = ManualClock()
        let scores = [0.5, 0.9, 0.8, 0.6]
        let outcome = Self.scheduler(scores: 4, plan: plan, budget: 17.5, finalEpochs: 3).run(
            now: { clock.now },
            evaluate: { candidate, rung, _ in
                clock.now += Double(plan.rungs[rung].epochs)
                return scores[candidate]
            })
        #expect(outcome.budgetBound)
        #expect(outcome.records[1].results.map(\.completed) == [true, true])
        #expect(outcome.records[2].results.map(\.completed) == [true, false] && outcome.records[2].outcome == .dropped)
        #expect(outcome.records[2].results[1].accuracies.isEmpty, "dropped before its rung began")
        #expect(outcome.winner == 1 && outcome.highestRung == 1)
        #expect(clock.now == 14 && outcome.finalEstimate == 3)
        #expect(clock.now + outcome.finalEstimate <= 17.5)

        // A budget that fits only the first fold of the first candidate: the rest is dropped and
        // nobody completes a rung, so there is no winner.
        let tight = ManualClock()
        let none = Self.scheduler(scores: 4, plan: plan, budget: 1.5, finalEpochs: 3).run(
            now: { tight.now },
            evaluate: { _, rung, _ in
                tight.now += Double(plan.rungs[rung].epochs)
                return 1
            })
        #expect(none.winner == nil && none.highestRung == nil && none.budgetBound)
        #expect(none.records.allSatisfy { $0.outcome == .dropped })
        #expect(tight.now == 1)
    }

    @Test func candidatesThatCompletedTheHighestRungAreFinalistsEvenWhenTheirNextRungWasDropped() {
        // Rung 1: 6 × 1 s, rung 2: the best 3 × 2 s (12 s so far); rung 3 (10 s each) does not fit
        // 15 s with the final training's 1 s, so both promoted candidates are dropped there and the
        // search ends on rung 2, where all three competed.
        let plan = HalvingPlan(
            rungs: [.init(epochs: 1, folds: 1), .init(epochs: 2, folds: 1), .init(epochs: 10, folds: 1)], reduction: 2)
        let clock = ManualClock()
        let scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
        let outcome = Self.scheduler(scores: 6, plan: plan, budget: 15).run(
            now: { clock.now },
            evaluate: { candidate, rung, _ in
                clock.now += Double(plan.rungs[rung].epochs)
                return scores[candidate]
            })
        #expect(outcome.highestRung == 1 && outcome.winner == 5 && outcome.budgetBound)
        #expect(outcome.records[4].results.map(\.completed) == [true, true, false], "promoted, then dropped by the budget")
        #expect(outcome.records[4].outcome == .finalist, "it competed on the highest rung")
        #expect(outcome.records[3].outcome == .finalist && outcome.records[3].results.count == 2)
        #expect((0..<3).allSatisfy { outcome.records[$0].outcome == .stopped })
    }

    @Test func tiesGoToTheCheaperModelToStream() {
        let plan = HalvingPlan(rungs: [.init(epochs: 1, folds: 2)], reduction: 3)
        let cost = [
            StreamingCost(bidirectional: true, flopsPerStep: 100), StreamingCost(bidirectional: false, flopsPerStep: 400),
            StreamingCost(bidirectional: false, flopsPerStep: 200), StreamingCost(bidirectional: false, flopsPerStep: 50),
        ]
        func winner(_ scores: [Double], tolerance: Double) -> Int? {
            var scheduler = Self.scheduler(scores: 4, plan: plan, cost: cost)
            scheduler.tolerance = tolerance
            return scheduler.run(now: { 0 }, evaluate: { candidate, _, _ in scores[candidate] }).winner
        }
        // Equal: unidirectional before bidirectional, then fewer FLOPs.
        #expect(winner([0.9, 0.9, 0.9, 0.5], tolerance: 1e-6) == 2)
        // Within the tolerance the cheaper wins; outside it the better does.
        #expect(winner([0.9, 0.9, 0.8995, 0.5], tolerance: 0.001) == 2)
        #expect(winner([0.9, 0.9, 0.8995, 0.5], tolerance: 1e-6) == 1)
        #expect(winner([0.9, 0.5, 0.5, 0.5], tolerance: 0.001) == 0)
        #expect(StreamingCost(bidirectional: false, flopsPerStep: 1e9) < StreamingCost(bidirectional: true, flopsPerStep: 1))
    }

    @Test func theSpaceSkipsUnknownAndPinnedKeys() throws {
        let space = TuningSpace(dimensions: [
            TuningDimension(key: "no_such_key", values: ["a", "b"]),
            TuningDimension(key: "hidden_size", values: ["8", "16"]),
            TuningDimension(key: "layers", values: ["1", "2"]),
            TuningDimension(key: "bidirectional", values: ["false", "true"]),
        ])
        var base = TrainingConfiguration()
        base.layers = 3
        let (candidates, notes) = try space.candidates(base: base, pinned: ["layers"])
        #expect(candidates.count == 4)
        #expect(notes == ["no_such_key is not a setting of this trainer; not searched", "layers fixed at 3 by the recipe options; not searched"])
        #expect(candidates.map(\.label) == [
            "hidden_size=8 bidirectional=false", "hidden_size=8 bidirectional=true",
            "hidden_size=16 bidirectional=false", "hidden_size=16 bidirectional=true",
        ])
        #expect(candidates[3].configuration.hiddenSize == 16 && candidates[3].configuration.bidirectional)
        #expect(candidates.allSatisfy { $0.configuration.layers == 3 })
        // Every dimension of the standard space is either searched or skipped with a note.
        let standard = try TuningSpace.standard.candidates(base: TrainingConfiguration())
        let known = TuningSpace.standard.dimensions.filter { TrainingConfiguration.table.setting(named: $0.key) != nil }
        #expect(standard.candidates.count == known.map(\.values.count).reduce(1, *))
        #expect(standard.notes.count == TuningSpace.standard.dimensions.count - known.count)
        // A value the trainer refuses is named.
        let bad = TuningSpace(dimensions: [TuningDimension(key: "layers", values: ["9"])])
        #expect(throws: TrainingError.self) { try bad.candidates(base: base) }
    }

    @Test func streamingCostCountsTheRecurrentLayers() {
        var configuration = TrainingConfiguration()
        configuration.hiddenSize = 8
        configuration.layers = 1
        configuration.bidirectional = false
        #expect(StreamingCost(configuration, inputSize: 6).flopsPerStep == 2 * 4 * 8 * (6 + 8))
        configuration.layers = 2
        configuration.bidirectional = true
        // Layer 1: 2 directions × 2·4·8·(6+8); layer 2 reads both directions (16 inputs).
        #expect(StreamingCost(configuration, inputSize: 6) == StreamingCost(bidirectional: true, flopsPerStep: 2 * 64 * 14 + 2 * 64 * 24))
    }

    @Test func badSearchSettingsAreRefused() {
        #expect(throws: TrainingError.self) { try Tuner(base: TrainingConfiguration(), folds: 1, budget: 10) }
        #expect(throws: TrainingError.self) { try Tuner(base: TrainingConfiguration(), folds: 2, budget: 0) }
    }
}
