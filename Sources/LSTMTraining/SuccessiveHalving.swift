import Foundation

/// The rungs of a successive-halving search: every candidate trains on the first rung (few
/// epochs, about half the folds), the best `1/reduction` of each rung move to the next, and the
/// last rung trains the full recipe's epochs on every fold.
public struct HalvingPlan: Sendable, Equatable {
    /// One rung: how long each fold trains and how many folds (the first `folds` of the split).
    public struct Rung: Sendable, Equatable {
        public var epochs: Int
        public var folds: Int
        public init(epochs: Int, folds: Int) {
            self.epochs = epochs
            self.folds = folds
        }

        /// `4 epochs × 3 folds`.
        public var label: String { "\(epochs) epoch\(epochs == 1 ? "" : "s") × \(folds) fold\(folds == 1 ? "" : "s")" }
    }

    public var rungs: [Rung]
    /// η: each rung promotes ⌈entrants / η⌉ candidates.
    public var reduction: Int

    /// Rungs for `candidates` candidates: as many as it takes to bring them down to at most
    /// `reduction` (at most `maxRungs`); rung `r` of `R` trains `epochs / reduction^(R−1−r)`
    /// epochs (at least 1); the first rung of several uses `max(2, ⌈folds/2⌉)` folds, the
    /// others all `folds`.
    public init(candidates: Int, epochs: Int, folds: Int, reduction: Int = 3, maxRungs: Int = 4) {
        precondition(candidates >= 1 && epochs >= 1 && folds >= 1 && reduction >= 2 && maxRungs >= 1, "bad halving plan")
        var count = 1
        var remaining = candidates
        while remaining > reduction && count < maxRungs {
            remaining = (remaining + reduction - 1) / reduction
            count += 1
        }
        rungs = (0..<count).map { rung in
            let divisor = pow(Double(reduction), Double(count - 1 - rung))
            let rungFolds = rung == 0 && count > 1 ? min(folds, max(2, (folds + 1) / 2)) : folds
            return Rung(epochs: max(1, Int((Double(epochs) / divisor).rounded())), folds: rungFolds)
        }
        self.reduction = reduction
    }

    public init(rungs: [Rung], reduction: Int) {
        precondition(!rungs.isEmpty && reduction >= 2, "bad halving plan")
        self.rungs = rungs
        self.reduction = reduction
    }

    /// How many of `entrants` candidates move on from a rung.
    public func promoted(of entrants: Int) -> Int { (entrants + reduction - 1) / reduction }
}

/// One candidate's result on one rung.
public struct RungResult: Sendable, Equatable {
    public var rung: Int
    /// Held-out accuracy of each fold trained, in fold order.
    public var accuracies: [Double]
    /// Wall-clock seconds of the folds trained.
    public var seconds: Double
    /// False when the budget stopped the rung before its last fold (the candidate is dropped).
    public var completed: Bool

    public init(rung: Int, accuracies: [Double], seconds: Double, completed: Bool) {
        self.rung = rung
        self.accuracies = accuracies
        self.seconds = seconds
        self.completed = completed
    }

    /// Mean held-out accuracy over the folds trained (0 without any).
    public var mean: Double { accuracies.isEmpty ? 0 : MeanStd(accuracies).mean }
    /// Sample standard deviation over the folds trained.
    public var std: Double { accuracies.isEmpty ? 0 : MeanStd(accuracies).std }
}

/// Where a candidate's search ended.
public enum CandidateOutcome: String, Sendable, Equatable {
    /// Chosen: the best mean accuracy on the highest rung reached (ties → cheaper to stream).
    case winner
    /// Completed the highest rung some candidate completed, but was not chosen (its results may
    /// show a next rung the budget dropped).
    case finalist
    /// Not promoted past a rung: a better candidate took its place.
    case stopped
    /// The budget could not fit its next rung (or the rest of it).
    case dropped
    /// Not trained: its recipe on this data is an earlier candidate's (``TuningCandidate/duplicateOf``).
    case duplicate
}

/// One candidate's path through the rungs.
public struct CandidateRecord: Sendable, Equatable {
    public var results: [RungResult] = []
    public var outcome: CandidateOutcome = .stopped
    public init() {}
}

/// The scheduler of `lstmctl tune`: successive halving under a time budget, as a pure function
/// of the candidates' costs, an evaluation closure and a clock (tests pass fake ones).
///
/// Budget: before each fold it trains, the search checks that the rest of the candidate's rung
/// plus the final training of the most expensive candidate still in the running fit in what is
/// left; estimates use seconds per unit of work measured so far (the candidate's own rate once it
/// has one, else the mean rate of all trainings). A candidate whose rung does not fit is dropped;
/// the search ends when a rung has no finisher or the last rung is done.
public struct SuccessiveHalving {
    public var plan: HalvingPlan
    /// Seconds for the search and the final training together.
    public var budget: Double
    /// Work per training sample per epoch of each candidate (any unit; FLOPs per timestep).
    public var work: [Double]
    /// Streaming cost of each candidate: the tie-break.
    public var cost: [StreamingCost]
    /// Training samples of one fold, and of the final training.
    public var foldSamples: Int
    public var finalSamples: Int
    /// Epochs of the final training.
    public var finalEpochs: Int
    /// Mean accuracies within this of the best count as tied.
    public var tolerance: Double

    public init(
        plan: HalvingPlan, budget: Double, work: [Double], cost: [StreamingCost], foldSamples: Int, finalSamples: Int,
        finalEpochs: Int, tolerance: Double = 1e-6
    ) {
        precondition(work.count == cost.count && !work.isEmpty, "one work and one cost per candidate")
        self.plan = plan
        self.budget = budget
        self.work = work
        self.cost = cost
        self.foldSamples = foldSamples
        self.finalSamples = finalSamples
        self.finalEpochs = finalEpochs
        self.tolerance = tolerance
    }

    /// The search's outcome.
    public struct Outcome: Sendable, Equatable {
        public var records: [CandidateRecord]
        /// The chosen candidate.
        public var winner: Int?
        /// The highest rung some candidate completed.
        public var highestRung: Int?
        /// Whether the budget dropped any candidate or rung.
        public var budgetBound: Bool
        /// Estimated seconds of the winner's final training, from the measured speeds.
        public var finalEstimate: Double
        /// Measured seconds per unit of work of each candidate (0 when it trained nothing), and
        /// over every training.
        public var rates: [Double] = []
        public var meanRate = 0.0
    }

    /// Runs the search.
    /// - Parameters:
    ///   - now: seconds on a monotonic clock.
    ///   - evaluate: trains `candidate` on fold `fold` for rung `rung`'s epochs and returns the
    ///     held-out accuracy.
    ///   - report: called after each candidate's rung (completed or dropped).
    public func run(
        now: () -> Double, evaluate: (_ candidate: Int, _ rung: Int, _ fold: Int) throws -> Double,
        report: (_ candidate: Int, _ result: RungResult) -> Void = { _, _ in }
    ) rethrows -> Outcome {
        let start = now()
        var records = [CandidateRecord](repeating: CandidateRecord(), count: work.count)
        var measured = [(seconds: Double, units: Double)](repeating: (0, 0), count: work.count)
        var budgetBound = false
        var entrants = Array(work.indices)
        var highest: Int?
        func rate(_ candidate: Int) -> Double {
            if measured[candidate].units > 0 { return measured[candidate].seconds / measured[candidate].units }
            let total = measured.reduce((0.0, 0.0)) { ($0.0 + $1.seconds, $0.1 + $1.units) }
            return total.1 > 0 ? total.0 / total.1 : 0
        }
        func finalSeconds(_ candidate: Int) -> Double { rate(candidate) * work[candidate] * Double(finalSamples * finalEpochs) }

        for (rungIndex, rung) in plan.rungs.enumerated() {
            let foldUnits = { (candidate: Int) in self.work[candidate] * Double(self.foldSamples * rung.epochs) }
            var finishers: [Int] = []
            for candidate in entrants {
                var result = RungResult(rung: rungIndex, accuracies: [], seconds: 0, completed: false)
                for fold in 0..<rung.folds {
                    let remaining = Double(rung.folds - fold) * rate(candidate) * foldUnits(candidate)
                    let reserve = entrants.map(finalSeconds).max() ?? 0
                    guard now() - start + remaining + reserve <= budget else {
                        budgetBound = true
                        break
                    }
                    let before = now()
                    result.accuracies.append(try evaluate(candidate, rungIndex, fold))
                    let seconds = now() - before
                    result.seconds += seconds
                    measured[candidate].seconds += seconds
                    measured[candidate].units += foldUnits(candidate)
                }
                result.completed = result.accuracies.count == rung.folds
                records[candidate].results.append(result)
                if result.completed {
                    finishers.append(candidate)
                } else {
                    records[candidate].outcome = .dropped
                }
                report(candidate, result)
            }
            guard !finishers.isEmpty else { break }
            highest = rungIndex
            let ranked = finishers.sorted { a, b in
                let (x, y) = (records[a].results[rungIndex].mean, records[b].results[rungIndex].mean)
                if x != y { return x > y }
                if cost[a] != cost[b] { return cost[a] < cost[b] }
                return a < b
            }
            if rungIndex == plan.rungs.count - 1 {
                for candidate in ranked { records[candidate].outcome = .finalist }
                break
            }
            entrants = Array(ranked.prefix(plan.promoted(of: entrants.count)))
            for candidate in ranked.dropFirst(entrants.count) { records[candidate].outcome = .stopped }
        }

        var winner: Int?
        if let highest {
            let finishers = records.indices.filter { records[$0].results.count > highest && records[$0].results[highest].completed }
            let best = finishers.map { records[$0].results[highest].mean }.max()!
            winner = finishers.filter { records[$0].results[highest].mean >= best - tolerance }
                .min { cost[$0] != cost[$1] ? cost[$0] < cost[$1] : $0 < $1 }
            // Every candidate that completed the highest rung competed on it, including those
            // promoted to a next rung the budget then dropped.
            for candidate in finishers { records[candidate].outcome = .finalist }
            records[winner!].outcome = .winner
        }
        let total = measured.reduce((0.0, 0.0)) { ($0.0 + $1.seconds, $0.1 + $1.units) }
        return Outcome(
            records: records, winner: winner, highestRung: highest, budgetBound: budgetBound,
            finalEstimate: winner.map(finalSeconds) ?? 0,
            rates: measured.map { $0.units > 0 ? $0.seconds / $0.units : 0 }, meanRate: total.1 > 0 ? total.0 / total.1 : 0)
    }
}
