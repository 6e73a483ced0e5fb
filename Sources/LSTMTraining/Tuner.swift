import Foundation
import LSTMKit

/// What the tuner reports while it searches.
public enum TuningEvent: Sendable {
    /// Before the first training: the candidates, the rungs and the dimensions not searched.
    case planned(candidates: [TuningCandidate], plan: HalvingPlan, notes: [String])
    /// Before each fold training of a candidate's rung.
    case fold(candidate: Int, rung: Int, fold: Int)
    /// A fold training's own events.
    case training(TrainingEvent)
    /// After each candidate's rung, completed or dropped by the budget.
    case rung(candidate: Int, result: RungResult)
}

/// `lstmctl tune`'s search: stratified k-fold cross-validation of every candidate of a
/// ``TuningSpace`` under successive halving (``SuccessiveHalving``) within a time budget. The
/// search reads only the data it is given (the training split); there is no test data.
///
/// Deterministic for a fixed seed as long as the budget does not cut the search: the folds, the
/// candidates, the rungs and every training depend on the seed only; what the budget drops
/// depends on the clock (``TuningResult/budgetBound`` says whether it did).
public struct Tuner: Sendable {
    /// The recipe that fixes every setting the space does not search; its `epochs` are the last
    /// rung's and the final training's.
    public let base: TrainingConfiguration
    public let space: TuningSpace
    public let folds: Int
    /// Seconds for the search and the final training together.
    public let budget: Double
    /// Keys the user set explicitly (not searched).
    public let pinned: Set<String>

    /// - Throws: `TrainingError` when `folds < 2`, the budget is not a positive number of
    ///   seconds, or the base recipe is invalid.
    public init(base: TrainingConfiguration, space: TuningSpace = .standard, folds: Int, budget: Double, pinned: Set<String> = []) throws {
        guard folds >= 2 else { throw TrainingError("--folds must be at least 2, got \(folds)") }
        guard budget > 0, budget.isFinite else { throw TrainingError("--budget must be more than 0 seconds") }
        try base.validate()
        self.base = base
        self.space = space
        self.folds = folds
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
        let started = now()
        try dataset.checkLabelled(as: "training data")
        let splits: [(train: [Int], validation: [Int])]
        do {
            splits = try Splitting.stratifiedKFold(
                labels: dataset.samples.map { $0.label! }, classCount: dataset.classNames.count, folds: folds, seed: base.seed)
        } catch let error as SplittingError {
            throw TrainingError(error.message)
        }
        let (candidates, notes) = try space.candidates(base: base, pinned: pinned)
        let plan = HalvingPlan(candidates: candidates.count, epochs: base.epochs, folds: folds)
        progress(.planned(candidates: candidates, plan: plan, notes: notes))
        let costs = candidates.map { StreamingCost($0.configuration, inputSize: dataset.channels) }
        let foldSamples = splits.map(\.train.count).max() ?? dataset.samples.count
        let scheduler = SuccessiveHalving(
            plan: plan, budget: budget - (now() - started), work: costs.map(\.flopsPerStep), cost: costs,
            foldSamples: foldSamples, finalSamples: dataset.samples.count, finalEpochs: base.epochs)
        let outcome = try scheduler.run(
            now: now,
            evaluate: { candidate, rung, fold in
                progress(.fold(candidate: candidate, rung: rung, fold: fold))
                var configuration = candidates[candidate].configuration
                configuration.epochs = plan.rungs[rung].epochs
                let split = splits[fold]
                do {
                    let result = try Trainer(configuration: configuration)
                        .train(dataset.subset(split.train), progress: { progress(.training($0)) })
                    return try ClassificationMetrics(evaluating: try LSTMModel(result.model), on: dataset.subset(split.validation))
                        .accuracy
                } catch let error as TrainingError {
                    throw TrainingError("candidate \(candidate + 1) (\(candidates[candidate].label)), fold \(fold + 1): \(error.message)")
                }
            },
            report: { progress(.rung(candidate: $0, result: $1)) })
        return TuningResult(
            candidates: candidates, costs: costs, plan: plan, notes: notes, folds: folds, budget: budget, outcome: outcome,
            seconds: now() - started)
    }
}

/// The search's result: the table `lstmctl tune` prints, reports and stores in provenance.
public struct TuningResult: Sendable {
    public var candidates: [TuningCandidate]
    public var costs: [StreamingCost]
    public var plan: HalvingPlan
    /// Dimensions not searched, and why.
    public var notes: [String]
    public var folds: Int
    public var budget: Double
    public var outcome: SuccessiveHalving.Outcome
    /// Wall-clock seconds of the search.
    public var seconds: Double

    /// The chosen candidate, or nil when the budget did not fit a single rung.
    public var winner: TuningCandidate? { outcome.winner.map { candidates[$0] } }
    /// Whether the budget dropped a candidate or a rung (then the result depends on the clock).
    public var budgetBound: Bool { outcome.budgetBound }

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
        return .object(object)
    }

    /// One candidate as JSON: 1-based `candidate`, `settings`, `flops_per_step`, `bidirectional`,
    /// `outcome` and `rungs` (each `rung` 1-based, `epochs`, `folds`, `accuracy`, `std`,
    /// `fold_accuracies`, `completed`, and `seconds` when asked for).
    public func candidateJSON(_ index: Int, seconds: Bool) -> JSONValue {
        let candidate = candidates[index]
        let record = outcome.records[index]
        return .object([
            "candidate": .number(Double(index + 1)),
            "settings": .object(Dictionary(uniqueKeysWithValues: candidate.overrides.map { ($0.key, JSONValue.string($0.value)) })),
            "flops_per_step": .number(costs[index].flopsPerStep), "bidirectional": .bool(costs[index].bidirectional),
            "outcome": .string(record.outcome.rawValue),
            "rungs": .array(record.results.map { rungJSON($0, seconds: seconds) }),
        ])
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
