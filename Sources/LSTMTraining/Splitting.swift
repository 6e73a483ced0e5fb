import LSTMKit

/// Seeded, stratified ways to split sample indices into training and validation sets.
///
/// Labels are class indices in `0..<classCount`; every result holds indices into that `labels`
/// array, sorted ascending. The same labels and seed always give the same split, on every platform:
/// shuffles are Fisher–Yates driven by `SplitMix64`, classes are visited in index order.
public enum Splitting {
    /// Stratified holdout: per class, shuffle the class's indices (seeded) and put the first
    /// `round(validationFraction × count)` of them in validation (halves round away from zero).
    ///
    /// When `validationFraction > 0`, a class with at least 2 samples puts at least 1 and at most
    /// `count - 1` in validation, so every class is both validated and trained on; a class with 1
    /// sample stays in training. `validationFraction == 0` puts everything in training.
    ///
    /// - Parameters:
    ///   - labels: The class index of each sample, in `0..<classCount`.
    ///   - classCount: The number of classes `K`.
    ///   - validationFraction: The share of each class to hold out, in `[0, 1)`.
    ///   - seed: The shuffle seed.
    /// - Returns: Disjoint index sets covering `labels.indices`, each sorted ascending.
    public static func stratifiedHoldout(
        labels: [Int], classCount: Int, validationFraction: Double, seed: UInt64
    ) -> (train: [Int], validation: [Int]) {
        precondition(
            validationFraction >= 0 && validationFraction < 1,
            "validation fraction \(validationFraction) must be in [0, 1)")
        var generator = SplitMix64(seed: seed)
        var train: [Int] = []
        var validation: [Int] = []
        for var members in indicesByClass(labels, classCount: classCount) {
            let count = members.count
            var held = 0
            if count >= 2 && validationFraction > 0 {
                let rounded = Int((validationFraction * Double(count)).rounded(.toNearestOrAwayFromZero))
                held = min(count - 1, max(1, rounded))
            }
            seededShuffle(&members, using: &generator)
            validation += members[..<held]
            train += members[held...]
        }
        return (train.sorted(), validation.sorted())
    }

    /// Stratified k-fold: every index lies in exactly one validation fold, and fold `f`'s
    /// training set is every other index.
    ///
    /// Per class, the shuffled (seeded) indices are dealt into folds so that the class's fold
    /// sizes differ by at most 1; the folds that receive a class's remainder rotate from class to
    /// class, so whole folds also differ in size by at most 1. As in scikit-learn's
    /// `StratifiedKFold`, a class with fewer samples than `folds` is allowed (it is missing from
    /// some validation folds), but `folds` may not exceed the largest class, so no fold is empty.
    ///
    /// - Parameters:
    ///   - labels: The class index of each sample, in `0..<classCount`.
    ///   - classCount: The number of classes `K`.
    ///   - folds: The number of folds, at least 2.
    ///   - seed: The shuffle seed.
    /// - Returns: `folds` pairs of disjoint index sets covering `labels.indices`, each sorted
    ///   ascending.
    /// - Throws: `SplittingError` with code `.tooFewFolds` when `folds < 2`, or `.tooManyFolds`
    ///   when `folds` exceeds the number of samples of every class.
    public static func stratifiedKFold(
        labels: [Int], classCount: Int, folds: Int, seed: UInt64
    ) throws -> [(train: [Int], validation: [Int])] {
        guard folds >= 2 else {
            throw SplittingError(.tooFewFolds, "cross-validation needs at least 2 folds, got \(folds)")
        }
        let classes = indicesByClass(labels, classCount: classCount)
        let largest = classes.map(\.count).max() ?? 0
        guard folds <= largest else {
            throw SplittingError(
                .tooManyFolds,
                "\(folds) folds need at least \(folds) samples in some class, but the largest class has \(largest)")
        }
        var generator = SplitMix64(seed: seed)
        var foldOf = [Int](repeating: 0, count: labels.count)
        var firstLargeFold = 0
        for var members in classes {
            seededShuffle(&members, using: &generator)
            let base = members.count / folds
            let remainder = members.count % folds
            var position = 0
            for step in 0..<folds {
                let fold = (firstLargeFold + step) % folds
                let size = base + (step < remainder ? 1 : 0)
                for index in members[position..<(position + size)] { foldOf[index] = fold }
                position += size
            }
            firstLargeFold = (firstLargeFold + remainder) % folds
        }
        return (0..<folds).map { fold in
            let validation = labels.indices.filter { foldOf[$0] == fold }
            let train = labels.indices.filter { foldOf[$0] != fold }
            return (train, validation)
        }
    }

    /// The indices of each class, ascending, indexed by class.
    static func indicesByClass(_ labels: [Int], classCount: Int) -> [[Int]] {
        precondition(classCount >= 0, "class count \(classCount) must not be negative")
        var members = [[Int]](repeating: [], count: classCount)
        for (index, label) in labels.enumerated() {
            precondition((0..<classCount).contains(label), "label \(label) at \(index) is outside 0..<\(classCount)")
            members[label].append(index)
        }
        return members
    }
}

/// An error in a request to split data, such as more folds than samples.
public struct SplittingError: Error, CustomStringConvertible, Sendable {
    /// What kind of problem was found.
    public enum Code: String, Sendable, Hashable {
        /// Fewer than 2 folds were asked for.
        case tooFewFolds
        /// More folds were asked for than the largest class has samples.
        case tooManyFolds
    }

    /// The kind of problem.
    public var code: Code
    /// A human-readable explanation.
    public var message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The kind of problem.
    ///   - message: What is wrong.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

extension Dataset {
    /// The samples at `indices`, in that order (repeats allowed), with the same channels, class
    /// names and problem name.
    ///
    /// - Parameter indices: Indices into `samples`.
    /// - Returns: The selected samples as a dataset.
    public func subset(_ indices: some Collection<Int>) -> Dataset {
        Dataset(
            samples: indices.map { samples[$0] }, channels: channels, classNames: classNames,
            problemName: problemName, source: source)
    }
}

/// A uniform integer in `0..<bound`, from the high bits of one 64-bit draw (Lemire's
/// multiply-shift; the bias, below `bound / 2^64`, is negligible). Stable across platforms and
/// Swift versions, unlike `Int.random(in:using:)`.
func uniformIndex(below bound: Int, using generator: inout SplitMix64) -> Int {
    precondition(bound > 0, "cannot draw from an empty range")
    return Int(generator.next().multipliedFullWidth(by: UInt64(bound)).high)
}

/// Fisher–Yates shuffle of `elements` in place, driven by `uniformIndex(below:using:)`.
func seededShuffle<Element>(_ elements: inout [Element], using generator: inout SplitMix64) {
    guard elements.count > 1 else { return }
    for last in stride(from: elements.count - 1, to: 0, by: -1) {
        let other = uniformIndex(below: last + 1, using: &generator)
        if other != last { elements.swapAt(other, last) }
    }
}
