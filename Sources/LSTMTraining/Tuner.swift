import Foundation
import LSTMKit

/// What the tuner reports while it searches.
public enum TuningEvent: Sendable {
    /// Before the first training: the candidates (duplicates marked), the rungs and the notes
    /// (dimensions not searched, duplicates).
    case planned(candidates: [TuningCandidate], plan: HalvingPlan, notes: [String])
    /// Before each fold training of a candidate's rung.
    case fold(candidate: Int, rung: Int, fold: Int)
    /// A fold training's own events.
    case training(TrainingEvent)
    /// After each candidate's rung, completed or dropped by the budget.
    case rung(candidate: Int, result: RungResult)
    /// Before each fold training of the refinement stage: the recipe, its split and fold.
    case refining(round: Int, label: String, epochs: Int, split: Int, fold: Int)
    /// After each recipe of the refinement stage, scored or dropped by the budget.
    case refined(RefinementEntry)
}

/// `lstmctl tune`'s search: stratified k-fold cross-validation of every candidate of a
/// ``TuningSpace`` under successive halving (``SuccessiveHalving``), then, with the budget left,
/// repeated cross-validation of the finalists and of changes to the best of them
/// (``Refinement``), all within a time budget. The search reads only the data it is given (the
/// training split); there is no test data.
///
/// Candidates whose recipe is the same on this data (``TuningSpace/duplicates(_:longest:zNormalized:)``)
/// are trained once.
///
/// Deterministic for a fixed seed as long as the budget does not cut the search: the folds, the
/// candidates, the rungs, the refinement and every training depend on the seed only; what the
/// budget drops depends on the clock (``TuningResult/budgetBound`` says whether it did).
public struct Tuner: Sendable {
    /// The recipe that fixes every setting the space does not search; its `epochs` are the last
    /// rung's and the final training's.
    public let base: TrainingConfiguration
    public let space: TuningSpace
    public let folds: Int
    /// Fold splits the refinement stage scores each recipe on (split 0 is the halving stage's;
    /// split r uses the fold seed `TrainingConfiguration.memberSeed(seed, member: r)`); 1: no
    /// repeats, only changes; 0: no refinement stage.
    public let splits: Int
    /// Seconds for the search and the final training together.
    public let budget: Double
    /// Keys the user set explicitly (not searched, not changed).
    public let pinned: Set<String>

    /// - Throws: `TrainingError` when `folds < 2`, `splits < 0`, the budget is not a positive
    ///   number of seconds, or the base recipe is invalid.
    public init(
        base: TrainingConfiguration, space: TuningSpace = .standard, folds: Int, splits: Int = 3, budget: Double,
        pinned: Set<String> = []
    ) throws {
        guard folds >= 2 else { throw TrainingError("--folds must be at least 2, got \(folds)") }
        guard splits >= 0 else { throw TrainingError("--splits must be at least 0, got \(splits)") }
        guard budget > 0, budget.isFinite else { throw TrainingError("--budget must be more than 0 seconds") }
        try base.validate()
        self.base = base
        self.space = space
        self.folds = folds
        self.splits = splits
        self.budget = budget
        self.pinned = pinned
    }

    /// Runs the search on `dataset` (labelled training data).
    /// - Parameters:
    ///   - now: seconds on a monotonic clock (injectable for tests).
    ///   - progress: called on the calling thread with every event.
    /// - Throws: `TrainingError` for data that cannot be cross-validated (a class too small for
    ///   the folds, unlabelled samples) or an invalid space.
    public func search(
        _ dataset: Dataset, now: () -> Double = { ProcessInfo.processInfo.systemUptime },
        progress: (TuningEvent) -> Void = { _ in }
    ) throws -> TuningResult {
        try search(dataset, now: now, progress: progress) { configuration, train, validation in
            let result = try Trainer(configuration: configuration)
                .train(dataset.subset(train), progress: { progress(.training($0)) })
            return try ClassificationMetrics(evaluating: try LSTMModel(result.model), on: dataset.subset(validation)).accuracy
        }
    }

    /// The search with the fold training injected: `evaluate(recipe, train, validation)` trains
    /// `recipe` on the samples `train` and returns the accuracy on `validation` (tests pass a
    /// fake).
    public func search(
        _ dataset: Dataset, now: () -> Double, progress: (TuningEvent) -> Void,
        evaluate: (_ configuration: TrainingConfiguration, _ train: [Int], _ validation: [Int]) throws -> Double
    ) throws -> TuningResult {
        let started = now()
        try dataset.checkLabelled(as: "training data")
        let labels = dataset.samples.map { $0.label! }
        let splitList: [[(train: [Int], validation: [Int])]]
        do {
            splitList = try (0..<max(1, splits)).map {
                try Splitting.stratifiedKFold(
                    labels: labels, classCount: dataset.classNames.count, folds: folds,
                    seed: TrainingConfiguration.memberSeed(base.seed, member: $0))
            }
        } catch let error as SplittingError {
            throw TrainingError(error.message)
        }
        let longest = splitList.flatMap { $0.map { $0.train.map { dataset.samples[$0].length }.max() ?? 0 } } + [dataset.maxLength]
        let zNormalized = dataset.isZNormalizedPerSample()
        func effective(_ configuration: TrainingConfiguration) -> TrainingConfiguration {
            TuningSpace.effective(configuration, longest: longest, zNormalized: zNormalized)
        }

        var (candidates, notes) = try space.candidates(base: base, pinned: pinned)
        let duplicates = TuningSpace.duplicates(candidates, longest: longest, zNormalized: zNormalized)
        for index in candidates.indices { candidates[index].duplicateOf = duplicates[index] }
        let unique = candidates.indices.filter { duplicates[$0] == nil }
        if unique.count < candidates.count {
            let pairs = candidates.indices.compactMap { index in duplicates[index].map { "\(index + 1)=\($0 + 1)" } }
            // Which of the two rules made repeats, to name only those.
            let repeated = candidates.indices.filter { duplicates[$0] != nil }.map { candidates[$0].configuration }
            var reasons: [String] = []
            if repeated.contains(where: { $0.downsample == 0 }) {
                reasons.append("downsample=auto resolves to the same K as a number")
            }
            if zNormalized && repeated.contains(where: { $0.normalize == .perSample }) {
                reasons.append(
                    "every sample is already z-normalised alike, so per-sample normalisation without downsampling is the "
                        + "global scaler; the global twin is kept (cheaper to stream)")
            }
            notes.append(
                "\(pairs.count) of \(candidates.count) candidates train the same recipe as an earlier one on this data "
                    + "(\(reasons.joined(separator: "; "))) and are not trained (candidate=the one it repeats: "
                    + pairs.joined(separator: ", ") + ")")
        }
        let changes = space.refinements.filter { change in
            TrainingConfiguration.table.setting(named: change.key) != nil && !pinned.contains(change.key)
        }
        for key in Set(space.refinements.map(\.key)).sorted() {
            if TrainingConfiguration.table.setting(named: key) == nil {
                notes.append("refinement \(key) is not a setting of this trainer; not tried")
            } else if pinned.contains(key) {
                notes.append("refinement \(key) fixed at \(base.value(of: key)) by the recipe options; not tried")
            }
        }
        let plan = HalvingPlan(candidates: unique.count, epochs: base.epochs, folds: folds)
        progress(.planned(candidates: candidates, plan: plan, notes: notes))
        let costs = candidates.map { StreamingCost(effective($0.configuration), inputSize: dataset.channels) }
        let foldSamples = splitList.flatMap { $0.map(\.train.count) }.max() ?? dataset.samples.count
        let scheduler = SuccessiveHalving(
            plan: plan, budget: budget - (now() - started), work: unique.map { costs[$0].flopsPerStep },
            cost: unique.map { costs[$0] }, foldSamples: foldSamples, finalSamples: dataset.samples.count, finalEpochs: base.epochs)
        let halving = try scheduler.run(
            now: now,
            evaluate: { position, rung, fold in
                let candidate = unique[position]
                progress(.fold(candidate: candidate, rung: rung, fold: fold))
                var configuration = candidates[candidate].configuration
                configuration.epochs = plan.rungs[rung].epochs
                let split = splitList[0][fold]
                do {
                    return try evaluate(configuration, split.train, split.validation)
                } catch let error as TrainingError {
                    throw TrainingError("candidate \(candidate + 1) (\(candidates[candidate].label)), fold \(fold + 1): \(error.message)")
                }
            },
            report: { progress(.rung(candidate: unique[$0], result: $1)) })
        var outcome = SuccessiveHalving.Outcome(
            records: candidates.indices.map { _ in var record = CandidateRecord(); record.outcome = .duplicate; return record },
            winner: halving.winner.map { unique[$0] }, highestRung: halving.highestRung, budgetBound: halving.budgetBound,
            finalEstimate: halving.finalEstimate, rates: [Double](repeating: 0, count: candidates.count), meanRate: halving.meanRate)
        for (position, candidate) in unique.enumerated() {
            outcome.records[candidate] = halving.records[position]
            outcome.rates[candidate] = halving.rates[position]
        }

        // The refinement stage, when the halving stage finished its last rung.
        var refinement: Refinement.Outcome?
        if let highest = outcome.highestRung, highest == plan.rungs.count - 1, splits > 1 || (splits == 1 && !changes.isEmpty) {
            let finalists = candidates.indices
                .filter { outcome.records[$0].results.count > highest && outcome.records[$0].results[highest].completed }
                .sorted { a, b in
                    if a != b, a == outcome.winner || b == outcome.winner { return a == outcome.winner }
                    let (x, y) = (outcome.records[a].results[highest].mean, outcome.records[b].results[highest].mean)
                    if x != y { return x > y }
                    return costs[a] != costs[b] ? costs[a] < costs[b] : a < b
                }
                .map {
                    Refinement.Finalist(
                        candidate: $0, configuration: candidates[$0].configuration,
                        accuracies: outcome.records[$0].results[highest].accuracies, rate: outcome.rates[$0])
                }
            let stage = Refinement(
                changes: changes, splits: splits, folds: folds, budget: budget, foldSamples: foldSamples,
                finalSamples: dataset.samples.count,
                measure: { configuration in
                    let cost = StreamingCost(effective(configuration), inputSize: dataset.channels)
                    return (cost.flopsPerStep, configuration.epochs, cost)
                },
                same: { effective($0) == effective($1) })
            var round = 0, label = ""
            refinement = try stage.run(
                finalists: finalists, started: started, meanRate: outcome.meanRate, now: now,
                evaluate: { configuration, split, fold in
                    progress(.refining(round: round, label: label, epochs: configuration.epochs, split: split, fold: fold))
                    let folds = splitList[split][fold]
                    do {
                        return try evaluate(configuration, folds.train, folds.validation)
                    } catch let error as TrainingError {
                        throw TrainingError("refinement (\(label)), split \(split + 1), fold \(fold + 1): \(error.message)")
                    }
                },
                starting: { entry in
                    round = entry.round
                    label = entry.label
                },
                report: { progress(.refined($0)) })
        }
        return TuningResult(
            candidates: candidates, costs: costs, plan: plan, notes: notes, folds: folds, budget: budget, outcome: outcome,
            splits: splits, changes: changes, refinement: refinement, seconds: now() - started)
    }
}

/// The search's result: the table `lstmctl tune` prints, reports and stores in provenance.
public struct TuningResult: Sendable {
    public var candidates: [TuningCandidate]
    public var costs: [StreamingCost]
    public var plan: HalvingPlan
    /// Dimensions not searched and why, and the duplicates.
    public var notes: [String]
    public var folds: Int
    public var budget: Double
    /// The halving stage (duplicates have the outcome `duplicate` and no results).
    public var outcome: SuccessiveHalving.Outcome
    /// Fold splits of the refinement stage and the changes it could try.
    public var splits: Int
    public var changes: [TuningChange]
    /// The refinement stage, or nil when it did not run (the halving stage did not finish).
    public var refinement: Refinement.Outcome?
    /// Wall-clock seconds of the search.
    public var seconds: Double

    public init(
        candidates: [TuningCandidate], costs: [StreamingCost], plan: HalvingPlan, notes: [String], folds: Int, budget: Double,
        outcome: SuccessiveHalving.Outcome, splits: Int = 1, changes: [TuningChange] = [], refinement: Refinement.Outcome? = nil,
        seconds: Double
    ) {
        self.candidates = candidates
        self.costs = costs
        self.plan = plan
        self.notes = notes
        self.folds = folds
        self.budget = budget
        self.outcome = outcome
        self.splits = splits
        self.changes = changes
        self.refinement = refinement
        self.seconds = seconds
    }

    /// The halving stage's winner, or nil when the budget did not fit a single rung.
    public var winner: TuningCandidate? { outcome.winner.map { candidates[$0] } }
    /// Whether the budget dropped a candidate, a rung or a refinement (then the result depends
    /// on the clock).
    public var budgetBound: Bool { outcome.budgetBound || (refinement?.budgetBound ?? false) }

    /// The refinement entry the final model trains, if the refinement stage chose one.
    public var chosen: RefinementEntry? { refinement.flatMap { outcome in outcome.chosen.map { outcome.entries[$0] } } }
    /// The recipe the final model trains: the refinement's choice, else the halving winner's.
    public var recipe: TrainingConfiguration? { chosen?.configuration ?? winner?.configuration }
    /// `candidate 17 (hidden_size=32 …) + time_warp=0.5`.
    public var recipeLabel: String {
        guard let winner else { return "none" }
        let candidate = chosen.map { candidates[$0.candidate] } ?? winner
        let changes = chosen?.changes.map(\.label) ?? []
        return (["candidate \(candidate.index + 1) (\(candidate.label))"] + changes).joined(separator: " + ")
    }
    /// The held-out fold accuracies behind the choice: the refinement entry's over every split,
    /// else the halving winner's on the highest rung.
    public var recipeAccuracies: [Double] {
        if let chosen { return chosen.accuracies }
        guard let index = outcome.winner, let rung = outcome.highestRung else { return [] }
        return outcome.records[index].results[rung].accuracies
    }

    /// The search as JSON (stored as the model's `provenance.tuning`): space, rungs, every
    /// candidate's settings, per-rung fold accuracies and outcome, the winner. No times, so a
    /// search the budget did not cut gives the same bytes every run.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "folds": .number(Double(folds)), "budget_seconds": .number(budget),
            "rungs": .array(plan.rungs.map { .object(["epochs": .number(Double($0.epochs)), "folds": .number(Double($0.folds))]) }),
            "reduction": .number(Double(plan.reduction)),
            "not_searched": .array(notes.map { .string($0) }),
            "budget_bound": .bool(budgetBound),
            "candidates": .array(candidates.indices.map { candidateJSON($0, seconds: false) }),
        ]
        object["winner"] = outcome.winner.map { .number(Double($0 + 1)) } ?? .null
        if let refinement {
            object["refinement"] = .object([
                "splits": .number(Double(splits)),
                "changes": .array(changes.map { .string($0.label) }),
                "budget_bound": .bool(refinement.budgetBound),
                "entries": .array(refinement.entries.map { refinementJSON($0, seconds: false) }),
                "chosen": refinement.chosen.map { .number(Double($0 + 1)) } ?? .null,
            ])
        }
        return .object(object)
    }

    /// One refinement entry as JSON: `round`, 1-based `candidate`, `changes` (`key=value`
    /// strings, in order), `accuracy`, `std`, `fold_accuracies` (split by split), `completed`,
    /// `chosen`, and `seconds` when asked for.
    public func refinementJSON(_ entry: RefinementEntry, seconds: Bool) -> JSONValue {
        var object: [String: JSONValue] = [
            "round": .number(Double(entry.round)), "candidate": .number(Double(entry.candidate + 1)),
            "changes": .array(entry.changes.map { .string($0.label) }), "accuracy": .number(entry.mean),
            "std": .number(entry.std), "fold_accuracies": .array(entry.accuracies.map { .number($0) }),
            "completed": .bool(entry.completed), "chosen": .bool(entry.chosen),
        ]
        if seconds { object["seconds"] = .number(entry.seconds) }
        return .object(object)
    }

    /// One candidate as JSON: 1-based `candidate`, `settings`, `flops_per_step`, `bidirectional`,
    /// `outcome`, `rungs` (each `rung` 1-based, `epochs`, `folds`, `accuracy`, `std`,
    /// `fold_accuracies`, `completed`, and `seconds` when asked for) and, for a duplicate, the
    /// 1-based `duplicate_of`.
    public func candidateJSON(_ index: Int, seconds: Bool) -> JSONValue {
        let candidate = candidates[index]
        let record = outcome.records[index]
        var object: [String: JSONValue] = [
            "candidate": .number(Double(index + 1)),
            "settings": .object(Dictionary(uniqueKeysWithValues: candidate.overrides.map { ($0.key, JSONValue.string($0.value)) })),
            "flops_per_step": .number(costs[index].flopsPerStep), "bidirectional": .bool(costs[index].bidirectional),
            "outcome": .string(record.outcome.rawValue),
            "rungs": .array(record.results.map { rungJSON($0, seconds: seconds) }),
        ]
        if let original = candidate.duplicateOf { object["duplicate_of"] = .number(Double(original + 1)) }
        return .object(object)
    }

    /// One rung result as JSON.
    public func rungJSON(_ result: RungResult, seconds: Bool) -> JSONValue {
        var object: [String: JSONValue] = [
            "rung": .number(Double(result.rung + 1)), "epochs": .number(Double(plan.rungs[result.rung].epochs)),
            "folds": .number(Double(result.accuracies.count)), "accuracy": .number(result.mean), "std": .number(result.std),
            "fold_accuracies": .array(result.accuracies.map { .number($0) }), "completed": .bool(result.completed),
        ]
        if seconds { object["seconds"] = .number(result.seconds) }
        return .object(object)
    }
}
