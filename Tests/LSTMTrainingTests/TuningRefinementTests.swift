import LSTMKit
import Testing

@testable import LSTMTraining

/// `lstmctl tune` beyond the halving scheduler: duplicate candidates and the refinement stage,
/// on fake evaluations and a manual clock (no training).
@Suite("Tuning refinement")
struct TuningRefinementTests {
    /// A clock the fake evaluations advance.
    final class ManualClock {
        var now = 0.0
    }

    /// `count` one-channel samples of lengths cycling through `lengths`, two classes.
    static func dataset(count: Int = 12, lengths: [Int]) -> Dataset {
        let samples = (0..<count).map { index in
            let length = lengths[index % lengths.count]
            return Dataset.Sample(values: [Float](repeating: Float(index), count: length), length: length, label: index % 2)
        }
        return Dataset(samples: samples, channels: 1, classNames: ["a", "b"])
    }

    @Test func downsampleAutoRepeatsTheFactorItResolvesTo() throws {
        let space = TuningSpace(dimensions: [
            TuningDimension(key: "downsample", values: ["1", "auto", "2"]),
            TuningDimension(key: "hidden_size", values: ["8", "16"]),
        ])
        let (candidates, _) = try space.candidates(base: TrainingConfiguration())
        // Samples of at most 200 steps: auto is 1, so candidates 3 and 4 repeat 1 and 2.
        #expect(TuningSpace.duplicates(candidates, longest: [29, 27, 29]) == [nil, nil, 0, 1, nil, nil])
        // 400 steps: auto is 2, so it repeats downsample=2 instead (the later candidate repeats the earlier).
        #expect(TuningSpace.duplicates(candidates, longest: [400]) == [nil, nil, nil, nil, 2, 3])
        // A fold whose longest sample resolves differently from the rest: auto is not a fixed K.
        #expect(TuningSpace.duplicates(candidates, longest: [200, 201]) == [nil, nil, nil, nil, nil, nil])
        #expect(TuningSpace.effective(candidates[2].configuration, longest: [29]).downsample == 1)
        #expect(TuningSpace.effective(candidates[2].configuration, longest: [200, 201]).downsample == 0)
    }

    @Test func perSampleNormalisationRepeatsTheScalerOnAlreadyNormalisedData() throws {
        // Samples z-normalised alike (mean 0, population std 1 per channel), as the UCR archive
        // ships its univariate sets; then one sample scaled, one shifted, one constant.
        func sample(_ index: Int, length: Int, scale: Float = 1, shift: Float = 0) -> Dataset.Sample {
            var generator = SplitMix64(seed: UInt64(index + 1))
            let raw: [Double] = (0..<length).map { _ in Double(generator.normal()) }
            let mean: Double = raw.reduce(0, +) / Double(length)
            let variance: Double = raw.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(length)
            let values: [Float] = raw.map { Float(($0 - mean) / variance.squareRoot() * Double(scale) + Double(shift)) }
            return Dataset.Sample(values: values, length: length, label: index % 2)
        }
        let normalised = (0..<8).map { sample($0, length: 20 + $0) }
        func data(_ samples: [Dataset.Sample]) -> Dataset { Dataset(samples: samples, channels: 1, classNames: ["a", "b"]) }
        #expect(data(normalised).isZNormalizedPerSample())
        #expect(!data(normalised + [sample(8, length: 24, scale: 1.01)]).isZNormalizedPerSample())
        #expect(!data(normalised + [sample(8, length: 24, shift: 0.01)]).isZNormalizedPerSample())
        #expect(!data([Dataset.Sample(values: [2, 2, 2], length: 3, label: 0)]).isZNormalizedPerSample(), "a constant channel")
        #expect(!Self.dataset(lengths: [5]).isZNormalizedPerSample())

        // The claim itself: per-sample normalisation gives the inputs the fitted z-score scaler
        // gives, on any subset (a fold's training part), up to rounding.
        let subset = Array(stride(from: 0, to: normalised.count, by: 2))
        let scaler = Scaler.fit(.zscore, on: data(normalised), indices: subset)
        let global = data(normalised).scaled(by: scaler)
        let perSample = data(normalised).preprocessed(by: Preprocessing(normalization: .perSample))
        for (a, b) in zip(global.samples, perSample.samples) {
            #expect(zip(a.values, b.values).allSatisfy { abs($0 - $1) <= 1e-5 }, "global and per-sample inputs differ")
        }

        let space = TuningSpace(dimensions: [
            TuningDimension(key: "normalize", values: ["global", "per-sample"]),
            TuningDimension(key: "downsample", values: ["1", "auto"]),
        ])
        let (candidates, _) = try space.candidates(base: TrainingConfiguration())
        // Short samples (auto is 1): all four are the first.
        #expect(TuningSpace.duplicates(candidates, longest: [29], zNormalized: true) == [nil, 0, 0, 0])
        #expect(TuningSpace.duplicates(candidates, longest: [29], zNormalized: false) == [nil, 0, nil, 2])
        // Long samples (auto is 2): per-sample then block means is not the scaler of the block means.
        #expect(TuningSpace.duplicates(candidates, longest: [400], zNormalized: true) == [nil, nil, 0, nil])
        // A min-max scaler is not a z-score.
        var minmax = TrainingConfiguration()
        minmax.scaler = .minmax
        let (scaled, _) = try space.candidates(base: minmax)
        #expect(TuningSpace.duplicates(scaled, longest: [29], zNormalized: true) == [nil, 0, nil, 2])
    }

    @Test func duplicatesAreNotTrainedAndSayWhichCandidateTheyRepeat() throws {
        var base = TrainingConfiguration()
        base.epochs = 9
        let space = TuningSpace(dimensions: [
            TuningDimension(key: "downsample", values: ["1", "auto"]),
            TuningDimension(key: "hidden_size", values: ["8", "16", "32"]),
        ])
        let tuner = try Tuner(base: base, space: space, folds: 2, splits: 1, budget: 1e9)
        var trained: [Int] = []
        let clock = ManualClock()
        var planned: [TuningCandidate] = []
        let result = try tuner.search(
            Self.dataset(lengths: [5, 7]), now: { clock.now },
            progress: { if case .planned(let candidates, _, _) = $0 { planned = candidates } },
            evaluate: { configuration, _, _ in
                trained.append(configuration.hiddenSize)
                clock.now += 1
                return Double(configuration.hiddenSize) / 100
            })
        // 3 distinct recipes: one rung of 9 epochs × 2 folds each; the `auto` ones are not trained.
        #expect(result.plan.rungs == [.init(epochs: 9, folds: 2)])
        #expect(trained.sorted() == [8, 8, 16, 16, 32, 32])
        #expect(planned.map(\.duplicateOf) == [nil, nil, nil, 0, 1, 2])
        #expect(result.outcome.records[3...].allSatisfy { $0.outcome == .duplicate && $0.results.isEmpty })
        #expect(result.outcome.winner == 2 && result.recipe?.hiddenSize == 32)
        #expect(result.notes.last?.contains("3 of 6 candidates train the same recipe as an earlier one") == true)
        #expect(result.notes.last?.contains("4=1, 5=2, 6=3") == true)
        guard case .object(let json) = result.candidateJSON(4, seconds: false) else { Issue.record("not an object"); return }
        #expect(json["duplicate_of"] == .number(2) && json["outcome"] == .string("duplicate"))
        guard case .object(let first) = result.candidateJSON(1, seconds: false) else { Issue.record("not an object"); return }
        #expect(first["duplicate_of"] == nil)
    }

    /// A refinement over fake scores: `score(configuration, split, fold)`; each fold advances the
    /// clock by `seconds(configuration)`, by default the recipe's hidden size / 8 (the work unit
    /// is the hidden size and the rate given for the finalists is 1/8 s per unit).
    static func refine(
        finalists: [(hidden: Int, accuracies: [Double])], changes: [TuningChange], budget: Double = 1e9, splits: Int = 2,
        folds: Int = 3, started: Double = 0, clock: ManualClock = ManualClock(),
        seconds: @escaping (TrainingConfiguration) -> Double = { Double($0.hiddenSize) / 8 },
        score: @escaping (TrainingConfiguration, Int, Int) -> Double
    ) -> (outcome: Refinement.Outcome, calls: [(hidden: Int, split: Int, fold: Int)]) {
        let stage = Refinement(
            changes: changes, splits: splits, folds: folds, budget: budget, foldSamples: 1, finalSamples: 1,
            measure: { configuration in
                (Double(configuration.hiddenSize), 1, StreamingCost(bidirectional: false, flopsPerStep: Double(configuration.hiddenSize)))
            })
        var calls: [(hidden: Int, split: Int, fold: Int)] = []
        let outcome = stage.run(
            finalists: finalists.enumerated().map { index, finalist in
                var configuration = TrainingConfiguration()
                configuration.hiddenSize = finalist.hidden
                return Refinement.Finalist(candidate: index, configuration: configuration, accuracies: finalist.accuracies, rate: 1.0 / 8)
            },
            started: started, meanRate: 1.0 / 8, now: { clock.now },
            evaluate: { configuration, split, fold in
                calls.append((configuration.hiddenSize, split, fold))
                clock.now += seconds(configuration)
                return score(configuration, split, fold)
            })
        return (outcome, calls)
    }

    @Test func theFinalistsAreRescoredOnTheOtherSplitsOnly() {
        // Finalist 0 (the halving winner) led on split 0 by luck; finalist 1 is better on split 1.
        let (outcome, calls) = Self.refine(
            finalists: [(8, [1, 1, 1]), (16, [0.9, 0.9, 0.9])], changes: [],
            score: { configuration, _, _ in configuration.hiddenSize == 8 ? 0.7 : 1 })
        #expect(calls.map(\.split) == [1, 1, 1, 1, 1, 1], "split 0 is the halving stage's: not trained again")
        #expect(outcome.entries.map(\.accuracies) == [[1, 1, 1, 0.7, 0.7, 0.7], [0.9, 0.9, 0.9, 1, 1, 1]])
        #expect(outcome.chosen == 1 && outcome.entries[1].chosen && !outcome.entries[0].chosen)
        #expect(!outcome.budgetBound)
    }

    @Test func aChangeIsAdoptedOnlyWhenItBeatsTheNoise() {
        // Base recipe: 0.9 on every fold. time_warp adds 0.05 on every fold (adopted);
        // head_dropout adds 0.3 on one fold and loses 0.05 on the others (mean +0.025, but its
        // differences vary more than that: not adopted); then swa adds 0.02 on top (adopted).
        let (outcome, _) = Self.refine(
            finalists: [(8, [0.9, 0.9, 0.9])],
            changes: [
                TuningChange(key: "head_dropout", value: "0.4"), TuningChange(key: "time_warp", value: "0.5"),
                TuningChange(key: "swa", value: "5"),
            ],
            score: { configuration, split, fold in
                var accuracy = 0.9
                if configuration.augmentation.timeWarpProbability > 0 { accuracy += 0.05 }
                if configuration.dropout.head == 0.4 { accuracy += split == 0 && fold == 0 ? 0.3 : -0.05 }
                if configuration.swa == 5 { accuracy += 0.02 }
                return accuracy
            })
        let labels = outcome.entries.map { $0.changes.map(\.label).joined(separator: "+") }
        #expect(labels == ["", "head_dropout=0.4", "time_warp=0.5", "swa=5", "time_warp=0.5+head_dropout=0.4", "time_warp=0.5+swa=5",
                           "time_warp=0.5+swa=5+head_dropout=0.4"])
        #expect(outcome.entries.filter(\.chosen).map(\.round) == [0, 1, 2])
        let chosen = outcome.entries[outcome.chosen!]
        #expect(chosen.changes.map(\.label) == ["time_warp=0.5", "swa=5"])
        #expect(chosen.configuration.swa == 5 && chosen.configuration.augmentation.timeWarpProbability == 0.5)
        #expect(abs(chosen.mean - 0.97) < 1e-9)
        // Each entry of a change ran every fold of both splits.
        #expect(outcome.entries.dropFirst().allSatisfy { $0.accuracies.count == 6 && $0.completed })
    }

    @Test func theBudgetStopsTheStageAndKeepsTheFinalTrainingsTime() {
        // Every fold of hidden 8 takes 1 s; a change to hidden 64 takes 8 s a fold; the final
        // training costs 1 s (hidden 8) or 8 s (hidden 64). Started 10 s into a 40 s budget: the
        // winner's 3 extra folds (3 s) fit, then hidden 64 needs 6 × 8 + 8 = 56 s: dropped at once.
        let clock = ManualClock()
        clock.now = 10
        let (outcome, calls) = Self.refine(
            finalists: [(8, [0.8, 0.8, 0.8])], changes: [TuningChange(key: "hidden_size", value: "64")], budget: 40,
            started: 0, clock: clock, score: { configuration, _, _ in configuration.hiddenSize == 64 ? 1 : 0.8 })
        #expect(calls.count == 3 && calls.allSatisfy { $0.hidden == 8 })
        #expect(outcome.budgetBound && outcome.chosen == 0)
        #expect(outcome.entries[1].accuracies.isEmpty && !outcome.entries[1].completed)
        #expect(clock.now == 13 && clock.now + outcome.finalEstimate <= 40)

        // A budget that does not fit the winner's extra folds: no choice, the halving winner stays.
        let tight = ManualClock()
        tight.now = 10
        let none = Self.refine(
            finalists: [(8, [0.8, 0.8, 0.8])], changes: [], budget: 12, clock: tight, score: { _, _, _ in 1 })
        #expect(none.outcome.chosen == nil && none.outcome.budgetBound && none.calls.isEmpty)

        // The measured rate is the recipe's own once it has one: hidden 16 is estimated at 2 s a
        // fold (16 units at its parent's 1/8 s) and 6 × 2 + 2 = 14 s fit in 20 − 3, but its first
        // fold takes 4 s; at its own rate the other 5 folds and its final training (20 + 4 s)
        // do not fit, so it stops after one fold.
        let slow = ManualClock()
        let partial = Self.refine(
            finalists: [(8, [0.8, 0.8, 0.8])], changes: [TuningChange(key: "hidden_size", value: "16")], budget: 20,
            clock: slow, seconds: { $0.hiddenSize == 16 ? 4 : 1 }, score: { _, _, _ in 1 })
        #expect(partial.calls.count == 4 && partial.outcome.budgetBound)
        #expect(partial.outcome.entries[1].accuracies == [1] && !partial.outcome.entries[1].completed)
        #expect(partial.outcome.chosen == 0 && slow.now == 7 && slow.now + partial.outcome.finalEstimate <= 20)
    }

    @Test func theSearchRefinesTheFinalistsOnMoreSplitsAndTrainsTheAdoptedChange() throws {
        // 4 candidates (hidden 8/16 × learning rate), 2 rungs; the fake scores prefer hidden 16
        // and, in the refinement, ensemble 5 (+0.05 on every fold).
        var base = TrainingConfiguration()
        base.epochs = 3
        let space = TuningSpace(
            dimensions: [
                TuningDimension(key: "hidden_size", values: ["8", "16"]),
                TuningDimension(key: "learning_rate", values: ["0.001", "0.003"]),
            ],
            refinements: [TuningChange(key: "ensemble", value: "5"), TuningChange(key: "no_such_key", value: "1")])
        let tuner = try Tuner(base: base, space: space, folds: 2, splits: 3, budget: 1e9)
        let clock = ManualClock()
        var validations: Set<[Int]> = []
        var events: [String] = []
        let dataset = Self.dataset(lengths: [4])
        func run() throws -> TuningResult {
            try tuner.search(
                dataset, now: { clock.now },
                progress: { event in
                    switch event {
                    case .refining(let round, _, let epochs, let split, _): events.append("refining \(round) \(epochs) \(split)")
                    case .refined(let entry): events.append("refined \(entry.label)")
                    default: break
                    }
                },
                evaluate: { configuration, _, validation in
                    validations.insert(validation)
                    clock.now += 1
                    return (configuration.hiddenSize == 16 ? 0.8 : 0.6) + (configuration.ensemble == 5 ? 0.05 : 0)
                })
        }
        let result = try run()
        #expect(result.notes.contains("refinement no_such_key is not a setting of this trainer; not tried"))
        #expect(validations.count == 3 * 2, "three different splits of two folds")
        let refinement = try #require(result.refinement)
        // Round 0: the two finalists on splits 2 and 3; round 1: ensemble 5 on the chosen one.
        #expect(refinement.entries.map(\.round) == [0, 0, 1])
        #expect(refinement.entries.allSatisfy { $0.accuracies.count == 6 && $0.completed })
        #expect(events.filter { $0.hasPrefix("refining 0") }.count == 2 * 4 && events.filter { $0.hasPrefix("refining 1 3 ") }.count == 6)
        #expect(result.recipe?.ensemble == 5 && result.recipe?.hiddenSize == 16 && result.recipe?.epochs == 3)
        #expect(result.recipeLabel.hasSuffix(" + ensemble=5") && result.recipeLabel.contains("hidden_size=16"))
        #expect(abs(MeanStd(result.recipeAccuracies).mean - 0.85) < 1e-9 && result.recipeAccuracies.count == 6)
        #expect(!result.budgetBound)
        guard case .object(let json) = result.json, case .object(let stage)? = json["refinement"] else {
            Issue.record("no refinement in the search JSON")
            return
        }
        #expect(stage["chosen"] == .number(3) && stage["splits"] == .number(3))
        // Deterministic: the same search again gives the same JSON.
        #expect(try run().json == result.json)

        // --splits 0: no refinement stage, the halving winner is trained.
        let plain = try Tuner(base: base, space: space, folds: 2, splits: 0, budget: 1e9)
            .search(dataset, now: { clock.now }, progress: { _ in }, evaluate: { configuration, _, _ in
                configuration.hiddenSize == 16 ? 0.8 : 0.6
            })
        #expect(plain.refinement == nil && plain.recipe?.ensemble == 1 && plain.recipe?.hiddenSize == 16)
    }

    @Test func theStandardRefinementsAreValidChanges() throws {
        #expect(!TuningSpace.standard.refinements.isEmpty)
        for change in TuningSpace.standard.refinements {
            var configuration = TrainingConfiguration()
            try configuration.set(change.key, change.value)
            try configuration.validate()
            #expect(configuration.value(of: change.key) == change.value)
        }
    }

    @Test func theBarIsTheBonferroniCorrectedOneSidedFivePercentCriticalValue() {
        // Closed form: Φ⁻¹(0.95), Φ⁻¹(0.975), Φ⁻¹(1 − 0.05/3).
        #expect(abs(Refinement.criticalValue(comparisons: 1) - 1.6448536269514722) < 1e-9)
        #expect(abs(Refinement.criticalValue(comparisons: 2) - 1.959963984540054) < 1e-9)
        #expect(abs(Refinement.criticalValue(comparisons: 3) - 2.128045234184984) < 1e-9)
        #expect(Refinement.criticalValue(comparisons: 0) == Refinement.criticalValue(comparisons: 1))
    }

    @Test func aGainOfTwoFoldsInFifteenIsNoise() {
        let stage = Refinement(
            changes: [], splits: 3, folds: 5, budget: 1, foldSamples: 1, finalSamples: 1,
            measure: { _ in (1, 1, StreamingCost(bidirectional: false, flopsPerStep: 1)) })
        // A BasicMotions tune's round 1 (8 held-out samples a fold): time_warp fixed one error
        // on two of 15 folds: mean +0.0167, standard error 0.0115, z = 1.46.
        let base = [1, 1, 1, 1, 1, 0.875, 1, 1, 1, 1, 1, 1, 1, 1, 0.875]
        let changed = [Double](repeating: 1, count: 15)
        #expect(!stage.improves(changed, over: base, comparisons: 1))
        #expect(!stage.improves(changed, over: base, comparisons: 3))
        // Three of 15 folds: z = 1.87, significant alone, not as the best of two or three.
        let worse = [1, 1, 1, 0.875, 1, 0.875, 1, 1, 1, 1, 1, 1, 1, 1, 0.875]
        #expect(stage.improves(changed, over: worse, comparisons: 1))
        #expect(!stage.improves(changed, over: worse, comparisons: 2))
        #expect(!stage.improves(changed, over: worse, comparisons: 3))
        // Four of 15: z = 2.26, significant as the best of three.
        #expect(stage.improves(changed, over: worse.enumerated().map { $0.offset == 0 ? 0.875 : $0.element }, comparisons: 3))
    }

    @Test func improvementNeedsMoreThanTheStandardErrorOfThePairedDifferences() {
        let stage = Refinement(
            changes: [], splits: 1, folds: 4, budget: 1, foldSamples: 1, finalSamples: 1,
            measure: { _ in (1, 1, StreamingCost(bidirectional: false, flopsPerStep: 1)) })
        #expect(stage.improves([0.95, 0.95, 0.95, 0.95], over: [0.9, 0.9, 0.9, 0.9]))
        #expect(!stage.improves([0.9, 0.9, 0.9, 0.9], over: [0.9, 0.9, 0.9, 0.9]))
        // One fold +0.2, the rest −0.02: mean +0.035, standard error 0.055.
        #expect(!stage.improves([1.1, 0.88, 0.88, 0.88], over: [0.9, 0.9, 0.9, 0.9]))
        #expect(stage.improves([0.92, 0.93, 0.91, 0.92], over: [0.9, 0.9, 0.9, 0.91]))
    }
}
