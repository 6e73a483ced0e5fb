import Foundation

/// One recipe change the refinement stage tries: a recipe key and a value in the recipe-file
/// syntax.
public struct TuningChange: Sendable, Equatable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }

    /// `key=value`.
    public var label: String { "\(key)=\(value)" }
}

/// One recipe the refinement stage cross-validated on every split.
public struct RefinementEntry: Sendable, Equatable {
    /// 0: a finalist of the halving stage; r ≥ 1: one change to the recipe round r − 1 chose.
    public var round: Int
    /// The halving candidate (0-based) the recipe starts from.
    public var candidate: Int
    /// The changes over that candidate's recipe, in the order they were adopted (the last one is
    /// this round's).
    public var changes: [TuningChange]
    /// The recipe as trained.
    public var configuration: TrainingConfiguration
    /// Held-out accuracy of each fold, split by split (split 0 is the halving stage's split).
    public var accuracies: [Double]
    /// Wall-clock seconds of the folds this stage trained.
    public var seconds: Double
    /// False when the budget stopped it before its last fold.
    public var completed: Bool
    /// Whether its round adopted it.
    public var chosen = false

    /// Mean held-out accuracy over every fold of every split.
    public var mean: Double { accuracies.isEmpty ? 0 : MeanStd(accuracies).mean }
    /// Sample standard deviation over the folds.
    public var std: Double { accuracies.isEmpty ? 0 : MeanStd(accuracies).std }

    /// `candidate 17 + time_warp=0.5`.
    public var label: String {
        (["candidate \(candidate + 1)"] + changes.map(\.label)).joined(separator: " + ")
    }
}

/// The second stage of `lstmctl tune`, run with the budget the halving stage left: repeated
/// cross-validation (the halving stage's split plus `splits − 1` more, each with its own fold
/// seed) first of the halving finalists, then of one change at a time to the best recipe
/// (coordinate ascent over ``changes``).
///
/// Round 0 re-scores the finalists on every split and keeps the best mean (ties within
/// `tolerance` → the cheaper model to stream). Round r ≥ 1 tries each change not adopted yet on
/// the current recipe and adopts the best one whose mean beats the current recipe's
/// significantly (``improves(_:over:comparisons:)``: by more than 1.645–2.128 standard errors of
/// their per-fold differences, both having run on the same folds), so a change is not kept on
/// noise alone; the stage ends when no change does, or the budget runs
/// out. A pure function of the changes, an evaluation closure and a clock.
///
/// Budget: before every fold training, the rest of the recipe's folds plus the final training of
/// the current recipe or of this one, whichever is dearer, must fit in what is left (estimated in
/// seconds per unit of work: the recipe's own measured rate, else the rate of the recipe it
/// derives from or the mean rate, whichever is slower), else the recipe is dropped.
public struct Refinement {
    /// The changes tried, in order; a key given twice is tried with each value.
    public var changes: [TuningChange]
    /// Fold splits each recipe is scored on (split 0 first).
    public var splits: Int
    /// Folds per split.
    public var folds: Int
    /// Seconds for the whole tune (search and final training), counted from `started`.
    public var budget: Double
    /// Mean accuracies within this count as tied.
    public var tolerance: Double

    /// What a recipe costs: `work` per training sample per epoch, `epochs`, streaming `cost`.
    public var measure: (TrainingConfiguration) -> (work: Double, epochs: Int, cost: StreamingCost)
    /// Whether two recipes train the same models (``TuningSpace/effective(_:longest:zNormalized:)``).
    public var same: (TrainingConfiguration, TrainingConfiguration) -> Bool
    /// Training samples of one fold and of the final training.
    public var foldSamples: Int
    public var finalSamples: Int

    public init(
        changes: [TuningChange], splits: Int, folds: Int, budget: Double, foldSamples: Int, finalSamples: Int,
        tolerance: Double = 1e-6, measure: @escaping (TrainingConfiguration) -> (work: Double, epochs: Int, cost: StreamingCost),
        same: @escaping (TrainingConfiguration, TrainingConfiguration) -> Bool = { $0 == $1 }
    ) {
        precondition(splits >= 1 && folds >= 1, "bad refinement")
        self.changes = changes
        self.splits = splits
        self.folds = folds
        self.budget = budget
        self.foldSamples = foldSamples
        self.finalSamples = finalSamples
        self.tolerance = tolerance
        self.measure = measure
        self.same = same
    }

    /// A finalist of the halving stage: its candidate index, recipe, split-0 fold accuracies and
    /// measured seconds per unit of work.
    public struct Finalist {
        public var candidate: Int
        public var configuration: TrainingConfiguration
        public var accuracies: [Double]
        public var rate: Double
        public init(candidate: Int, configuration: TrainingConfiguration, accuracies: [Double], rate: Double) {
            self.candidate = candidate
            self.configuration = configuration
            self.accuracies = accuracies
            self.rate = rate
        }
    }

    /// The stage's outcome.
    public struct Outcome: Sendable, Equatable {
        /// Every recipe scored, in order.
        public var entries: [RefinementEntry]
        /// The entry whose recipe the final model trains (nil: the halving winner's, when the
        /// budget did not fit even its extra splits).
        public var chosen: Int?
        /// Whether the budget stopped a recipe or the stage.
        public var budgetBound: Bool
        /// Estimated seconds of the chosen recipe's final training.
        public var finalEstimate: Double
    }

    /// Runs the stage.
    /// - Parameters:
    ///   - finalists: the halving finalists, best first (the first is the halving winner).
    ///   - started: when the tune began on `now`'s clock (the budget counts from there).
    ///   - meanRate: seconds per unit of work over every training so far.
    ///   - evaluate: trains `configuration` on fold `fold` of split `split` and returns the
    ///     held-out accuracy.
    ///   - starting: called before a recipe's first fold (its entry, without the new folds).
    ///   - report: called after each recipe is scored or dropped.
    public func run(
        finalists: [Finalist], started: Double, meanRate: Double, now: () -> Double,
        evaluate: (_ configuration: TrainingConfiguration, _ split: Int, _ fold: Int) throws -> Double,
        starting: (RefinementEntry) -> Void = { _ in }, report: (RefinementEntry) -> Void = { _ in }
    ) rethrows -> Outcome {
        precondition(!finalists.isEmpty, "the refinement starts from at least one finalist")
        var entries: [RefinementEntry] = []
        var rates: [Double] = []
        var budgetBound = false

        func finalSeconds(_ configuration: TrainingConfiguration, rate: Double) -> Double {
            let m = measure(configuration)
            return rate * m.work * Double(finalSamples * m.epochs)
        }
        /// Scores `entry` on the folds it lacks; nil rate → `fallback`.
        func score(_ start: RefinementEntry, rate fallback: Double, against current: (TrainingConfiguration, Double)?)
            throws -> (RefinementEntry, Double)
        {
            var entry = start
            starting(entry)
            let m = measure(entry.configuration)
            let units = m.work * Double(foldSamples * m.epochs)
            var measured = (seconds: 0.0, units: 0.0)
            let total = splits * folds
            while entry.accuracies.count < total {
                let rate = measured.units > 0 ? measured.seconds / measured.units : fallback
                let remaining = Double(total - entry.accuracies.count) * rate * units
                var reserve = finalSeconds(entry.configuration, rate: rate)
                if let current { reserve = max(reserve, finalSeconds(current.0, rate: current.1)) }
                guard now() - started + remaining + reserve <= budget else {
                    budgetBound = true
                    break
                }
                let index = entry.accuracies.count
                let before = now()
                entry.accuracies.append(try evaluate(entry.configuration, index / folds, index % folds))
                let seconds = now() - before
                entry.seconds += seconds
                measured.seconds += seconds
                measured.units += units
            }
            entry.completed = entry.accuracies.count == total
            return (entry, measured.units > 0 ? measured.seconds / measured.units : fallback)
        }
        func better(_ a: Int, than b: Int) -> Bool {
            let (x, y) = (entries[a].mean, entries[b].mean)
            if abs(x - y) > tolerance { return x > y }
            let (ca, cb) = (measure(entries[a].configuration).cost, measure(entries[b].configuration).cost)
            return ca != cb ? ca < cb : a < b
        }

        // Round 0: the finalists on every split.
        var current: Int?
        for finalist in finalists {
            let start = RefinementEntry(
                round: 0, candidate: finalist.candidate, changes: [], configuration: finalist.configuration,
                accuracies: Array(finalist.accuracies.prefix(folds)), seconds: 0, completed: false)
            let held = current.map { (entries[$0].configuration, rates[$0]) }
            let (entry, rate) = try score(start, rate: max(finalist.rate, meanRate), against: held)
            entries.append(entry)
            rates.append(rate)
            report(entry)
            if entry.completed, current.map({ better(entries.count - 1, than: $0) }) ?? true { current = entries.count - 1 }
            if current == nil { break }  // the winner itself did not fit: nothing to compare against
        }
        guard var best = current else {
            return Outcome(entries: entries, chosen: nil, budgetBound: budgetBound, finalEstimate: 0)
        }
        entries[best].chosen = true

        // Rounds 1…: one change at a time.
        var adopted: Set<String> = []
        var round = 1
        while !budgetBound {
            var tried: [Int] = []
            for change in changes where !adopted.contains(change.key) {
                var configuration = entries[best].configuration
                guard (try? configuration.set(change.key, change.value)) != nil, (try? configuration.validate()) != nil else { continue }
                guard !entries.contains(where: { same($0.configuration, configuration) }) else { continue }
                let start = RefinementEntry(
                    round: round, candidate: entries[best].candidate, changes: entries[best].changes + [change],
                    configuration: configuration, accuracies: [], seconds: 0, completed: false)
                let (entry, rate) = try score(
                    start, rate: max(rates[best], meanRate), against: (entries[best].configuration, rates[best]))
                entries.append(entry)
                rates.append(rate)
                report(entry)
                if entry.completed { tried.append(entries.count - 1) }
                if budgetBound { break }
            }
            let improving = tried.filter {
                improves(entries[$0].accuracies, over: entries[best].accuracies, comparisons: tried.count)
            }
            guard let next = improving.min(by: { better($0, than: $1) }) else { break }
            entries[next].chosen = true
            adopted.insert(entries[next].changes.last!.key)
            best = next
            round += 1
        }
        return Outcome(
            entries: entries, chosen: best, budgetBound: budgetBound,
            finalEstimate: finalSeconds(entries[best].configuration, rate: rates[best]))
    }

    /// Whether accuracies `a` beat `b` (the same folds, in the same order) significantly: their
    /// mean paired difference exceeds `tolerance` and `z` standard errors of the differences,
    /// where `z` is the one-sided 5% critical value of a normal distribution, Bonferroni-corrected
    /// for the `comparisons` changes scored against `b` in the round (`criticalValue`: 1.645 for
    /// one, 1.960 for two, 2.128 for three).
    ///
    /// The round adopts the best of its changes, so the bar must hold for the largest of several
    /// noisy differences: with one standard error as the bar, a round of three changes that do
    /// nothing would adopt one 40% of the time (1 − 0.841³); with this bar, 5%.
    public func improves(_ a: [Double], over b: [Double], comparisons: Int = 1) -> Bool {
        precondition(a.count == b.count && !a.isEmpty, "paired folds")
        let differences = zip(a, b).map { $0 - $1 }
        let n = Double(differences.count)
        let mean = differences.reduce(0, +) / n
        let variance = differences.count > 1 ? differences.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1) : 0
        return mean > tolerance && mean > Self.criticalValue(comparisons: comparisons) * (variance / n).squareRoot()
    }

    /// `z` with P(Z > z) = 0.05 / `comparisons` for a standard normal Z (bisection on `erfc`,
    /// to 1e-12).
    public static func criticalValue(comparisons: Int) -> Double {
        let tail = 0.05 / Double(max(1, comparisons))
        var (low, high) = (0.0, 40.0)
        for _ in 0..<100 {
            let middle = (low + high) / 2
            if 0.5 * erfc(middle / 2.0.squareRoot()) > tail { low = middle } else { high = middle }
        }
        return (low + high) / 2
    }
}
