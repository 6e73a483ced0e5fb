import LSTMKit
import Testing

@testable import LSTMTraining

@Suite("Splitting")
struct SplittingTests {
    /// 30 of class 0, 10 of class 1, 1 of class 2, 2 of class 3, 0 of class 4, interleaved.
    private static let labels: [Int] = {
        var labels = [Int](repeating: 0, count: 30) + [Int](repeating: 1, count: 10) + [2, 3, 3]
        var generator = SplitMix64(seed: 99)
        seededShuffle(&labels, using: &generator)
        return labels
    }()

    private static func counts(_ indices: [Int], classCount: Int = 5) -> [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for index in indices { counts[labels[index]] += 1 }
        return counts
    }

    @Test("Holdout is disjoint, covers every index, sorted, and stratified per class")
    func holdout() {
        let split = Splitting.stratifiedHoldout(labels: Self.labels, classCount: 5, validationFraction: 0.2, seed: 1)
        #expect(split.train == split.train.sorted())
        #expect(split.validation == split.validation.sorted())
        #expect(Set(split.train).isDisjoint(with: split.validation))
        #expect((split.train + split.validation).sorted() == Array(Self.labels.indices))
        // round(0.2 × 30) = 6, round(0.2 × 10) = 2, a single sample stays in training,
        // round(0.2 × 2) = 0 is raised to 1.
        #expect(Self.counts(split.validation) == [6, 2, 0, 1, 0])
        #expect(Self.counts(split.train) == [24, 8, 1, 1, 0])
    }

    @Test("Holdout rounds halves up and keeps one sample of each class in training")
    func holdoutBounds() {
        let labels = [0, 0, 0, 0, 0, 1, 1]
        let half = Splitting.stratifiedHoldout(labels: labels, classCount: 2, validationFraction: 0.5, seed: 3)
        #expect(half.validation.map { labels[$0] }.filter { $0 == 0 }.count == 3)  // 2.5 -> 3
        #expect(half.validation.map { labels[$0] }.filter { $0 == 1 }.count == 1)
        let most = Splitting.stratifiedHoldout(labels: labels, classCount: 2, validationFraction: 0.95, seed: 3)
        #expect(most.train.map { labels[$0] } == [0, 1])
        let none = Splitting.stratifiedHoldout(labels: labels, classCount: 2, validationFraction: 0, seed: 3)
        #expect(none.validation.isEmpty)
        #expect(none.train == Array(labels.indices))
    }

    @Test("Holdout is deterministic per seed and differs across seeds")
    func holdoutSeeds() {
        let a = Splitting.stratifiedHoldout(labels: Self.labels, classCount: 5, validationFraction: 0.3, seed: 11)
        let b = Splitting.stratifiedHoldout(labels: Self.labels, classCount: 5, validationFraction: 0.3, seed: 11)
        let c = Splitting.stratifiedHoldout(labels: Self.labels, classCount: 5, validationFraction: 0.3, seed: 12)
        #expect(a.validation == b.validation)
        #expect(a.train == b.train)
        #expect(a.validation != c.validation)
    }

    @Test("k-fold: each index validates exactly once, trains otherwise, per-class sizes differ by at most 1")
    func kFold() throws {
        let folds = try Splitting.stratifiedKFold(labels: Self.labels, classCount: 5, folds: 4, seed: 5)
        #expect(folds.count == 4)
        var seen = [Int](repeating: 0, count: Self.labels.count)
        for fold in folds {
            #expect(fold.train == fold.train.sorted())
            #expect(fold.validation == fold.validation.sorted())
            #expect(Set(fold.train).isDisjoint(with: fold.validation))
            #expect((fold.train + fold.validation).sorted() == Array(Self.labels.indices))
            for index in fold.validation { seen[index] += 1 }
        }
        #expect(seen.allSatisfy { $0 == 1 })
        for label in 0..<5 {
            let sizes = folds.map { Self.counts($0.validation)[label] }
            #expect(sizes.max()! - sizes.min()! <= 1, "class \(label): \(sizes)")
        }
        let totals = folds.map(\.validation.count)
        #expect(totals.max()! - totals.min()! <= 1, "\(totals)")
        #expect(Self.counts(folds[0].validation)[0] + Self.counts(folds[0].train)[0] == 30)
    }

    @Test("k-fold is deterministic per seed and differs across seeds")
    func kFoldSeeds() throws {
        let a = try Splitting.stratifiedKFold(labels: Self.labels, classCount: 5, folds: 3, seed: 21)
        let b = try Splitting.stratifiedKFold(labels: Self.labels, classCount: 5, folds: 3, seed: 21)
        let c = try Splitting.stratifiedKFold(labels: Self.labels, classCount: 5, folds: 3, seed: 22)
        #expect(a.map(\.validation) == b.map(\.validation))
        #expect(a.map(\.train) == b.map(\.train))
        #expect(a.map(\.validation) != c.map(\.validation))
    }

    @Test("k-fold refuses fewer than 2 folds and more folds than the largest class")
    func kFoldErrors() throws {
        #expect {
            try Splitting.stratifiedKFold(labels: Self.labels, classCount: 5, folds: 1, seed: 0)
        } throws: { error in
            (error as? SplittingError)?.code == .tooFewFolds && "\(error)".contains("at least 2 folds")
        }
        #expect {
            try Splitting.stratifiedKFold(labels: Self.labels, classCount: 5, folds: 31, seed: 0)
        } throws: { error in
            (error as? SplittingError)?.code == .tooManyFolds && "\(error)".contains("largest class has 30")
        }
        #expect(throws: SplittingError.self) {
            try Splitting.stratifiedKFold(labels: [], classCount: 2, folds: 2, seed: 0)
        }
        // Exactly the largest class: allowed, and every fold holds one sample of it.
        let folds = try Splitting.stratifiedKFold(labels: Self.labels, classCount: 5, folds: 30, seed: 0)
        #expect(folds.allSatisfy { Self.counts($0.validation)[0] == 1 })
    }

    @Test("subset keeps order, repeats and metadata")
    func subset() {
        let dataset = Dataset(
            samples: [
                .init(values: [1], length: 1, label: 0), .init(values: [2, 3], length: 2, label: 1),
                .init(values: [4], length: 1, label: nil),
            ],
            channels: 1, classNames: ["x", "y"], problemName: "P")
        let subset = dataset.subset([2, 0, 2])
        #expect(subset.samples == [dataset.samples[2], dataset.samples[0], dataset.samples[2]])
        #expect(subset.classNames == ["x", "y"])
        #expect(subset.problemName == "P")
        #expect(subset.channels == 1)
        #expect(dataset.subset(1..<2).samples == [dataset.samples[1]])
    }

    @Test("seededShuffle is a permutation and uniformIndex stays in range")
    func shuffleHelpers() {
        var generator = SplitMix64(seed: 4)
        var values = Array(0..<50)
        seededShuffle(&values, using: &generator)
        #expect(values.sorted() == Array(0..<50))
        #expect(values != Array(0..<50))
        var hits = [Int](repeating: 0, count: 3)
        for _ in 0..<3000 { hits[uniformIndex(below: 3, using: &generator)] += 1 }
        #expect(hits.allSatisfy { abs($0 - 1000) < 100 }, "\(hits)")
    }
}
