import LSTMKit
import Testing

@testable import LSTMTraining

@Suite("Rebalancer")
struct RebalancerTests {
    /// Class counts [6, 2, 3, 0] plus one unlabelled sample; 2 channels, lengths `lengths(i)`.
    private static func dataset(variableLength: Bool) -> Dataset {
        let labels: [Int?] = [0, 1, 0, 2, nil, 0, 2, 0, 1, 0, 2, 0]
        var generator = SplitMix64(seed: 17)
        let samples = labels.enumerated().map { index, label in
            let length = variableLength ? 3 + index % 4 : 4
            let centre = Float(label ?? 5) * 3
            let values = (0..<(length * 2)).map { _ in centre + generator.uniform(-1, 1) }
            return Dataset.Sample(values: values, length: length, label: label)
        }
        return Dataset(samples: samples, channels: 2, classNames: ["a", "b", "c", "d"], problemName: "toy")
    }

    private static let labelled = [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11]

    @Test("none and class-weights return the input unchanged", arguments: [BalancingStrategy.none, .classWeights])
    func unchanged(strategy: BalancingStrategy) {
        let input = Self.dataset(variableLength: true)
        #expect(Rebalancer.rebalance(input, strategy: strategy, seed: 1) == input)
    }

    @Test("Oversampling brings every present class to the majority with spread-out duplicates")
    func oversample() {
        let input = Self.dataset(variableLength: true)
        let output = Rebalancer.rebalance(input, strategy: .oversample, seed: 2)
        #expect(output.classCounts == [6, 6, 6, 0])
        #expect(output.isLabelled)
        #expect(output.problemName == "toy")
        #expect(Array(output.samples.prefix(11)) == Self.labelled.map { input.samples[$0] })
        let added = output.samples.dropFirst(11)
        #expect(added.map(\.label) == [1, 1, 1, 1, 2, 2, 2])
        // Class 1 has 2 samples and gets 4 copies: each original twice.
        for original in [1, 8] {
            #expect(added.filter { $0 == input.samples[original] }.count == 2)
        }
        // Class 2 has 3 samples and gets 3 copies: each original once.
        for original in [3, 6, 10] {
            #expect(added.filter { $0 == input.samples[original] }.count == 1)
        }
    }

    @Test("Undersampling keeps a random subset of each class, of the minority's size, in order")
    func undersample() {
        let input = Self.dataset(variableLength: true)
        let output = Rebalancer.rebalance(input, strategy: .undersample, seed: 3)
        #expect(output.classCounts == [2, 2, 2, 0])
        let positions = output.samples.map { sample in input.samples.firstIndex(of: sample)! }
        #expect(positions == positions.sorted())
        #expect(positions.allSatisfy { input.samples[$0].label != nil })
        #expect(Rebalancer.rebalance(input, strategy: .undersample, seed: 3) == output)
        #expect(Rebalancer.rebalance(input, strategy: .undersample, seed: 4) != output)
    }

    @Test("SMOTE samples lie on the segment between a sample and one of its k nearest class-mates")
    func smoteOnSegment() throws {
        // 14 samples of class 0, 7 of class 1, random points in 8 dimensions: with k = 2 a wrong
        // neighbour choice shows.
        var generator = SplitMix64(seed: 23)
        let labels = (0..<21).map { $0 % 3 == 2 ? 1 : 0 }
        let input = Dataset(
            samples: labels.map { label in
                .init(values: (0..<8).map { _ in generator.uniform(-1, 1) }, length: 4, label: label)
            },
            channels: 2, classNames: ["large", "small"])
        let k = 2
        let output = Rebalancer.rebalance(input, strategy: .smote, seed: 5, neighbours: k)
        #expect(output.classCounts == [14, 14])
        #expect(Array(output.samples.prefix(21)) == input.samples)
        let synthetic = output.samples.dropFirst(21)
        #expect(synthetic.count == 7)
        #expect(synthetic.allSatisfy { $0.label == 1 && $0.length == 4 })
        var gaps: [Float] = []
        for sample in synthetic {
            let members = input.samples.filter { $0.label == sample.label }
            var found = false
            for x in members {
                let nearest = members.filter { $0 != x }.sorted { distance($0, x) < distance($1, x) }.prefix(k)
                for y in nearest {
                    if let gap = segmentParameter(sample.values, from: x.values, to: y.values) {
                        found = true
                        gaps.append(gap)
                    }
                }
            }
            #expect(found, "synthetic sample \(sample.values) is on no segment to a near neighbour")
        }
        #expect(gaps.allSatisfy { $0 >= 0 && $0 < 1 })
        #expect(Set(gaps.map { Int($0 * 10) }).count > 1, "the gaps should vary: \(gaps)")
    }

    @Test("SMOTE is deterministic per seed and differs across seeds")
    func smoteSeeds() {
        let input = Self.dataset(variableLength: true)
        let a = Rebalancer.rebalance(input, strategy: .smote, seed: 6)
        let b = Rebalancer.rebalance(input, strategy: .smote, seed: 6)
        let c = Rebalancer.rebalance(input, strategy: .smote, seed: 7)
        #expect(a == b)
        #expect(a != c)
    }

    @Test("SMOTE on variable lengths: a synthetic sample has its base's length, between it and a resampled neighbour")
    func smoteVariableLength() {
        let input = Self.dataset(variableLength: true)
        let output = Rebalancer.rebalance(input, strategy: .smote, seed: 8, neighbours: 5)
        #expect(output.classCounts == [6, 6, 6, 0])
        for sample in output.samples.dropFirst(11) {
            let members = input.samples.filter { $0.label == sample.label }
            let bases = members.filter { $0.length == sample.length }
            #expect(!bases.isEmpty)
            let explained = bases.contains { x in
                members.contains { y in
                    y != x
                        && segmentParameter(
                            sample.values, from: x.values,
                            to: Rebalancer.resampled(y, channels: 2, to: x.length)) != nil
                }
            }
            #expect(explained, "synthetic sample of length \(sample.length) is not between a base and a neighbour")
        }
    }

    @Test("SMOTE duplicates the only sample of a one-sample class")
    func smoteSingleton() {
        let input = Dataset(
            samples: [
                .init(values: [0, 1], length: 2, label: 0), .init(values: [2, 3], length: 2, label: 0),
                .init(values: [4, 5], length: 2, label: 0), .init(values: [9, 9], length: 2, label: 1),
            ],
            channels: 1, classNames: ["many", "one"])
        let output = Rebalancer.rebalance(input, strategy: .smote, seed: 9)
        #expect(output.classCounts == [3, 3])
        #expect(Array(output.samples.suffix(2)) == [input.samples[3], input.samples[3]])
    }

    @Test("Resampling interpolates linearly in time with the ends aligned")
    func resampling() {
        let sample = Dataset.Sample(values: [0, 100, 10, 200, 20, 300], length: 3, label: nil)
        #expect(Rebalancer.resampled(sample, channels: 2, to: 5) == [0, 100, 5, 150, 10, 200, 15, 250, 20, 300])
        #expect(Rebalancer.resampled(sample, channels: 2, to: 2) == [0, 100, 20, 300])
        #expect(Rebalancer.resampled(sample, channels: 2, to: 1) == [10, 200])
        #expect(Rebalancer.resampled(sample, channels: 2, to: 3) == sample.values)
        let single = Dataset.Sample(values: [7], length: 1, label: nil)
        #expect(Rebalancer.resampled(single, channels: 1, to: 3) == [7, 7, 7])
    }

    @Test("Class weights are n / (K × count) over the present classes, 0 for an empty class")
    func classWeights() {
        let weights = Rebalancer.classWeights(counts: [10, 30, 0, 20])
        // n = 60, K = 3 present classes.
        #expect(weights[0] == 2)
        #expect(abs(weights[1] - 2.0 / 3.0) < 1e-7)
        #expect(weights[2] == 0)
        #expect(weights[3] == 1)
        // Weighted by the counts, the weights sum to n: the mean sample weight is 1.
        let counts: [Float] = [10, 30, 0, 20]
        let weightedTotal = zip(counts, weights).map { $0 * $1 }.reduce(0, +)
        #expect(abs(weightedTotal - 60) < 1e-4)
        #expect(Rebalancer.classWeights(counts: [5, 5]) == [1, 1])
        #expect(Rebalancer.classWeights(counts: [0, 0]) == [0, 0])
    }

    @Test("Strategies have the configuration spellings")
    func spellings() {
        let spellings = BalancingStrategy.allCases.map(\.rawValue)
        #expect(spellings == ["none", "oversample", "undersample", "smote", "class-weights"])
    }
}

/// Squared Euclidean distance between two equal-length samples.
private func distance(_ a: Dataset.Sample, _ b: Dataset.Sample) -> Float {
    zip(a.values, b.values).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
}

/// The `u` with `point ≈ x + u (y - x)` for every coordinate, or `nil` when the point is off the
/// segment's line or outside `[0, 1]`.
private func segmentParameter(_ point: [Float], from x: [Float], to y: [Float]) -> Float? {
    guard point.count == x.count, x.count == y.count else { return nil }
    guard let anchor = x.indices.max(by: { abs(y[$0] - x[$0]) < abs(y[$1] - x[$1]) }), y[anchor] != x[anchor] else {
        return nil
    }
    let u = (point[anchor] - x[anchor]) / (y[anchor] - x[anchor])
    guard u >= -1e-5, u <= 1 + 1e-5 else { return nil }
    for index in x.indices where abs(x[index] + u * (y[index] - x[index]) - point[index]) > 1e-4 {
        return nil
    }
    return u
}
