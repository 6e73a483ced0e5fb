import Foundation
import LSTMKit
import Synchronization

extension Trainer {
    /// Trains `ensemble` = N members and stores them in one model file (`ModelFile.ensemble`).
    ///
    /// Member `i` is the recipe with the seed `TrainingConfiguration.memberSeed(seed, member: i)`
    /// (member 0: the recipe's own seed) and nothing else changed: the same data, the same
    /// validation hold-out (drawn with the recipe's seed), the same preprocessing and scaler.
    /// Members run in parallel on `P = min(N, threads)` threads of their own, each with
    /// `threads / P` batch threads; thread `w` trains members `w, w + P, …` in turn. Each member's
    /// model depends only on its seed and thread count, so the file depends on the recipe (seed and
    /// threads included), never on timing. The calling thread is worker 0: the events of the
    /// members it trains (0, P, 2P, …) reach `progress`, each member's preceded by
    /// `.member(index:count:)` (member 0's right after its `.started`, which stands for the whole
    /// ensemble; the other members' `.started` are dropped). The other workers' members train
    /// silently beside them.
    ///
    /// The result's validation metrics are the ensemble's (the mean of the members' probabilities,
    /// as `LSTMModel` computes them), its `history` member 0's, and `members` holds every member's
    /// own result; the provenance lists each member's seed, epochs and validation metrics.
    func trainEnsemble(
        _ dataset: Dataset, validation: Dataset?, provenance: [String: JSONValue], warmStart: ModelFile?,
        progress: (TrainingEvent) -> Void
    ) throws -> TrainingResult {
        let started = Date()
        let config = configuration
        let count = config.ensemble
        let workers = min(count, config.threads)
        let memberThreads = max(1, config.threads / workers)
        let trainers = try (0..<count).map { index in
            var member = config
            member.ensemble = 1
            member.seed = TrainingConfiguration.memberSeed(config.seed, member: index)
            member.threads = memberThreads
            return try Trainer(configuration: member)
        }
        let splitSeed = config.seed
        let outcomes = Mutex<[Int: Result<TrainingResult, TrainingError>]>([:])
        let work: @Sendable (Int, (TrainingEvent) -> Void) -> Void = { worker, events in
            for index in stride(from: worker, to: count, by: workers) {
                if index != 0 { events(.member(index: index, count: count)) }
                let outcome: Result<TrainingResult, TrainingError>
                do {
                    outcome = .success(
                        try trainers[index].trainMember(
                            dataset, validation: validation, provenance: provenance, warmStart: warmStart?.member(index),
                            splitSeed: splitSeed,
                            progress: { event in
                                guard case .started = event else { return events(event) }
                                guard index == 0 else { return }
                                events(event)
                                events(.member(index: 0, count: count))
                            }))
                } catch let error as TrainingError {
                    outcome = .failure(error)
                } catch {
                    outcome = .failure(TrainingError("\(error)"))
                }
                outcomes.withLock { $0[index] = outcome }
            }
        }
        let done = DispatchSemaphore(value: 0)
        for worker in 1..<workers {
            let thread = Thread { work(worker, { _ in }); done.signal() }
            thread.stackSize = 8 << 20
            thread.name = "lstmd-ensemble-\(worker)"
            thread.start()
        }
        work(0) { event in
            if case .started(var plan) = event {
                plan.parameters *= count
                plan.ensemble = count
                progress(.started(plan))
            } else {
                progress(event)
            }
        }
        for _ in 1..<workers { done.wait() }
        let members = try outcomes.withLock { outcomes in
            try (0..<count).map { index in
                switch outcomes[index]! {
                case .success(let result): return result
                case .failure(let error): throw TrainingError("ensemble member \(index): \(error.message)")
                }
            }
        }

        // The ensemble file, then its validation metrics on the members' common hold-out.
        guard case .object(var fields) = members[0].model.provenance else {
            preconditionFailure("the trainer writes an object as provenance")
        }
        fields["recipe"] = config.json
        fields["ensemble"] = .object([
            "members": .array(
                members.enumerated().map { index, member in
                    .object([
                        "seed": .string(String(TrainingConfiguration.memberSeed(config.seed, member: index))),
                        "threads": .number(Double(memberThreads)),
                        "best_epoch": member.history.bestEpoch.map { .number(Double($0)) } ?? .null,
                        "epochs_run": .number(Double(member.history.epochs.count)),
                        "validation": member.model.provenance["validation"] ?? .object([:]),
                    ])
                })
        ])
        var model: ModelFile
        do {
            model = try ModelFile(ensemble: members.map(\.model), provenance: .object(fields))
            try model.validate()
        } catch let error as ModelError {
            throw TrainingError(error.message)
        }
        var holdout = validation
        if holdout == nil && config.validationFraction > 0 {
            let (_, indices) = Splitting.stratifiedHoldout(
                labels: dataset.samples.map { $0.label! }, classCount: dataset.classNames.count,
                validationFraction: config.validationFraction, seed: splitSeed)
            holdout = dataset.subset(indices)
        }
        var metrics: ClassificationMetrics?
        if let holdout {
            let (scored, loss) = try Self.score(try LSTMModel(model), on: holdout)
            metrics = scored
            fields["validation"] = .object([
                "accuracy": .number(scored.accuracy), "balanced_accuracy": .number(scored.balancedAccuracy),
                "macro_f1": .number(scored.macroF1), "loss": .number(loss), "samples": .number(Double(scored.count)),
            ])
            model.provenance = .object(fields)
        }
        var plan = members[0].plan
        plan.parameters *= count
        plan.ensemble = count
        let warnings = members.enumerated().flatMap { index, member in
            member.warnings.map { index == 0 ? $0 : "ensemble member \(index): \($0)" }
        }
        return TrainingResult(
            model: model, plan: plan, history: members[0].history, validation: metrics,
            seconds: Date().timeIntervalSince(started), warnings: warnings, members: members)
    }

    /// Metrics and mean cross-entropy of `model` (any ensemble, its preprocessing and scaler
    /// applied) on raw labelled data.
    static func score(_ model: LSTMModel, on data: Dataset) throws -> (ClassificationMetrics, Double) {
        do {
            let (aligned, _) = try data.relabelled(
                to: model.classes, channels: model.channels, role: "validation data", owner: "the model")
            let k = model.classCount
            var predictions: [Int] = []
            var loss = 0.0
            try model.forwardEach(aligned) { index, result, slot in
                predictions.append(result.predictedClass(of: slot))
                let p = result.probabilities[slot * k + aligned.samples[index].label!]
                loss -= Foundation.log(max(Double(p), 1e-12))
            }
            let labels = aligned.samples.map { $0.label! }
            return (
                ClassificationMetrics(predictions: predictions, labels: labels, classNames: model.classes),
                loss / Double(max(1, labels.count))
            )
        } catch let error as ModelError {
            throw TrainingError(error.message)
        }
    }
}
