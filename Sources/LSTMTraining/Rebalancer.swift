import LSTMKit

/// How training makes up for classes of different sizes.
public enum BalancingStrategy: String, Sendable, Codable, CaseIterable {
    /// Train on the data as it is.
    case none
    /// Duplicate samples of the smaller classes until each has as many as the largest.
    case oversample
    /// Keep a random subset of each class as large as the smallest class.
    case undersample
    /// Add synthetic samples (SMOTE) to the smaller classes until each has as many as the largest.
    case smote
    /// Keep the data; weight each class's loss by `Rebalancer.classWeights(counts:)`.
    case classWeights = "class-weights"
}

/// Seeded resampling of a labelled dataset so that classes weigh alike in training.
///
/// Only classes that have samples take part: an empty class is neither a target nor a source.
/// The result keeps the original samples first, in their order, and appends new ones class by
/// class (class 0 first). The same dataset, strategy and seed always give the same result.
public enum Rebalancer {
    /// Returns the rebalanced dataset.
    ///
    /// - `none`, `classWeights`: the input, unchanged (unlabelled samples included).
    /// - `oversample`: each smaller class gets `majority - count` duplicates of its samples, drawn
    ///   in shuffled rounds without replacement, so each sample is copied `⌊d / count⌋` or
    ///   `⌈d / count⌉` times (`d` the number added).
    /// - `undersample`: each class keeps a random subset of `minority` samples (the smallest
    ///   non-empty class's count), in their original order.
    /// - `smote`: each smaller class gets `majority - count` synthetic samples `x + u·(n - x)` with
    ///   `u ~ U[0, 1)` drawn once per sample, the base `x` drawn in shuffled rounds like
    ///   `oversample`, and `n` uniform among the `k = min(neighbours, count - 1)` nearest
    ///   neighbours of `x` (Euclidean, ties to the lower index) in the same class. A class with a
    ///   single sample has no neighbour: its sample is duplicated instead.
    ///
    /// Variable lengths under `smote`: a synthetic sample takes its base's length `T_x`; the
    /// neighbour is resampled to `T_x` steps by linear interpolation in time (first and last steps
    /// aligned). Distances compare samples resampled to the class's median length (the lower
    /// median for an even count), so a long and a short recording of the same motion are near.
    /// For equal-length data resampling is the identity.
    ///
    /// The resampling strategies drop unlabelled samples: they cannot be balanced.
    ///
    /// - Parameters:
    ///   - dataset: The data.
    ///   - strategy: The rule.
    ///   - seed: The seed for every random choice.
    ///   - neighbours: SMOTE's `k`, at least 1.
    /// - Returns: The rebalanced dataset, with the input's channels, class names and problem name.
    public static func rebalance(
        _ dataset: Dataset, strategy: BalancingStrategy, seed: UInt64, neighbours: Int = 5
    ) -> Dataset {
        precondition(neighbours >= 1, "SMOTE needs at least 1 neighbour, got \(neighbours)")
        switch strategy {
        case .none, .classWeights:
            return dataset
        case .oversample, .undersample, .smote:
            break
        }
        var generator = SplitMix64(seed: seed)
        var classes = [[Int]](repeating: [], count: dataset.classNames.count)
        var labelled: [Int] = []
        for (index, sample) in dataset.samples.enumerated() {
            guard let label = sample.label else { continue }
            classes[label].append(index)
            labelled.append(index)
        }
        let counts = classes.map(\.count).filter { $0 > 0 }
        guard let majority = counts.max(), let minority = counts.min() else {
            return dataset.subset([])
        }

        switch strategy {
        case .undersample:
            var kept: [Int] = []
            for var members in classes where !members.isEmpty {
                seededShuffle(&members, using: &generator)
                kept += members[..<minority]
            }
            return dataset.subset(kept.sorted())

        case .oversample:
            var chosen = labelled
            for members in classes where !members.isEmpty && members.count < majority {
                chosen += drawInRounds(members, count: majority - members.count, using: &generator)
            }
            return dataset.subset(chosen)

        default:  // .smote
            var samples = labelled.map { dataset.samples[$0] }
            for members in classes where !members.isEmpty && members.count < majority {
                samples += synthesize(
                    class: members, in: dataset, count: majority - members.count, neighbours: neighbours,
                    using: &generator)
            }
            return Dataset(
                samples: samples, channels: dataset.channels, classNames: dataset.classNames,
                problemName: dataset.problemName, source: dataset.source)
        }
    }

    /// scikit-learn's "balanced" class weights, `n / (K × count_k)`, where `n` is the total count
    /// and `K` the number of classes with at least one sample; a class with count 0 gets weight 0.
    ///
    /// Counting `K` over present classes only keeps the sample-weighted mean weight at 1, so the
    /// loss keeps its scale when a class is absent from the training split.
    ///
    /// - Parameter counts: Samples per class (none negative).
    /// - Returns: One weight per class; all zeros when every count is 0.
    public static func classWeights(counts: [Int]) -> [Float] {
        precondition(counts.allSatisfy { $0 >= 0 }, "class counts must not be negative")
        let total = Double(counts.reduce(0, +))
        let present = Double(counts.filter { $0 > 0 }.count)
        return counts.map { $0 == 0 ? 0 : Float(total / (present * Double($0))) }
    }

    /// `count` elements of `members`, in shuffled rounds without replacement.
    static func drawInRounds(_ members: [Int], count: Int, using generator: inout SplitMix64) -> [Int] {
        var drawn: [Int] = []
        drawn.reserveCapacity(count)
        var round = members
        while drawn.count < count {
            seededShuffle(&round, using: &generator)
            drawn += round.prefix(count - drawn.count)
        }
        return drawn
    }

    /// `count` SMOTE samples for the class whose sample indices are `members`.
    private static func synthesize(
        class members: [Int], in dataset: Dataset, count: Int, neighbours: Int,
        using generator: inout SplitMix64
    ) -> [Dataset.Sample] {
        let bases = drawInRounds(Array(members.indices), count: count, using: &generator)
        guard members.count >= 2 else {
            return bases.map { dataset.samples[members[$0]] }
        }
        let channels = dataset.channels
        let samples = members.map { dataset.samples[$0] }
        let nearest = nearestNeighbours(samples, channels: channels, k: min(neighbours, members.count - 1))
        var synthetic: [Dataset.Sample] = []
        synthetic.reserveCapacity(count)
        for base in bases {
            let neighbour = nearest[base][uniformIndex(below: nearest[base].count, using: &generator)]
            let gap = generator.uniform(0, 1)
            let x = samples[base]
            let y = resampled(samples[neighbour], channels: channels, to: x.length)
            var values = x.values
            for position in values.indices {
                values[position] += gap * (y[position] - values[position])
            }
            synthetic.append(Dataset.Sample(values: values, length: x.length, label: x.label))
        }
        return synthetic
    }

    /// For each sample, the indices of its `k` nearest others (squared Euclidean distance between
    /// the samples resampled to the median length; ties to the lower index), nearest first.
    private static func nearestNeighbours(_ samples: [Dataset.Sample], channels: Int, k: Int) -> [[Int]] {
        let length = samples.map(\.length).sorted()[(samples.count - 1) / 2]
        let common = samples.map { resampled($0, channels: channels, to: length) }
        // Row by row, so memory stays O(n) for a large class.
        var distances = [Double](repeating: 0, count: samples.count)
        return samples.indices.map { i in
            for j in samples.indices {
                var sum = 0.0
                for position in common[i].indices {
                    let difference = Double(common[i][position] - common[j][position])
                    sum += difference * difference
                }
                distances[j] = sum
            }
            let others = samples.indices.filter { $0 != i }.sorted {
                (distances[$0], $0) < (distances[$1], $1)
            }
            return Array(others.prefix(k))
        }
    }

    /// `sample`'s values resampled to `length` steps by linear interpolation in time: step `t`
    /// reads position `t × (T - 1) / (length - 1)` (the middle when `length == 1`).
    static func resampled(_ sample: Dataset.Sample, channels: Int, to length: Int) -> [Float] {
        if sample.length == length { return sample.values }
        let source = sample.length
        var values = [Float](repeating: 0, count: length * channels)
        for step in 0..<length {
            let position =
                length == 1
                ? Double(source - 1) / 2 : Double(step) * Double(source - 1) / Double(length - 1)
            let lower = min(Int(position), source - 1)
            let upper = min(lower + 1, source - 1)
            let fraction = Float(position - Double(lower))
            for channel in 0..<channels {
                let a = sample.values[lower * channels + channel]
                let b = sample.values[upper * channels + channel]
                values[step * channels + channel] = a + fraction * (b - a)
            }
        }
        return values
    }
}
