import LSTMKit
import Testing

@testable import LSTMTraining

@Suite("Scaler.fit and Dataset.scaled")
struct ScalerFittingTests {
    /// Two channels, lengths 2, 3 and 1; the third sample is far away so including it shows.
    private static let dataset = Dataset(
        samples: [
            .init(values: [1, 10, 3, 20], length: 2, label: 0),
            .init(values: [5, 30, 7, 40, 9, 50], length: 3, label: 1),
            .init(values: [1000, -1000], length: 1, label: nil),
        ],
        channels: 2, classNames: ["a", "b"])

    @Test("z-score uses every step of the chosen samples once: mean and population std by hand")
    func zscoreByHand() throws {
        let scaler = Scaler.fit(.zscore, on: Self.dataset, indices: [0, 1])
        // Channel 0: 1, 3, 5, 7, 9 -> mean 5, variance (16 + 4 + 0 + 4 + 16) / 5 = 8.
        // Channel 1: 10 ... 50 -> mean 30, variance (400 + 100 + 0 + 100 + 400) / 5 = 200.
        // (Averaging the per-sample means instead would give 4.5 and 27.5.)
        #expect(scaler.kind == .zscore)
        #expect(scaler.offset == [5, 30])
        #expect(abs(scaler.second[0] - Float(8).squareRoot()) < 1e-6)
        #expect(abs(scaler.second[1] - Float(200).squareRoot()) < 1e-5)
        try scaler.validate(channels: 2)
    }

    @Test("min-max takes the extremes of the chosen samples only")
    func minmaxByHand() throws {
        let scaler = Scaler.fit(.minmax, on: Self.dataset, indices: [1, 0])
        #expect(scaler.kind == .minmax)
        #expect(scaler.offset == [1, 10])
        #expect(scaler.second == [9, 50])
        #expect(scaler.divisor == [8, 40])
        let all = Scaler.fit(.minmax, on: Self.dataset, indices: [0, 1, 2])
        #expect(all.offset == [1, -1000])
        #expect(all.second == [1000, 50])
    }

    @Test("A repeated index counts twice")
    func repeatedIndex() {
        let scaler = Scaler.fit(.zscore, on: Self.dataset, indices: [0, 0, 1])
        // Channel 0: 1, 3, 1, 3, 5, 7, 9 -> mean 29 / 7.
        #expect(abs(scaler.offset[0] - 29 / 7) < 1e-6)
    }

    @Test("A constant channel gets divisor 1 and the scaler validates", arguments: Scaler.Kind.allCases)
    func constantChannel(kind: Scaler.Kind) throws {
        let dataset = Dataset(
            samples: [
                .init(values: [0.1, 1, 0.1, 2], length: 2, label: nil),
                .init(values: [0.1, 3], length: 1, label: nil),
            ],
            channels: 2, classNames: [])
        let scaler = Scaler.fit(kind, on: dataset, indices: [0, 1])
        #expect(scaler.offset[0] == 0.1)
        #expect(scaler.divisor[0] == 1)
        #expect(scaler.divisor[1] != 1)
        try scaler.validate(channels: 2)
        let scaled = dataset.scaled(by: scaler)
        #expect(scaled.samples.allSatisfy { sample in (0..<sample.length).allSatisfy { sample.values[$0 * 2] == 0 } })
    }

    @Test("A huge constant min-max channel still validates")
    func hugeConstant() throws {
        let dataset = Dataset(samples: [.init(values: [1e9, 1e9], length: 2, label: nil)], channels: 1, classNames: [])
        let scaler = Scaler.fit(.minmax, on: dataset, indices: [0])
        try scaler.validate(channels: 1)
    }

    @Test("No steps give a valid identity-like scaler", arguments: Scaler.Kind.allCases)
    func empty(kind: Scaler.Kind) throws {
        let scaler = Scaler.fit(kind, on: Self.dataset, indices: [])
        #expect(scaler.offset == [0, 0])
        #expect(scaler.divisor == [1, 1])
        try scaler.validate(channels: 2)
    }

    @Test("scaled(by:) applies Scaler.apply to every step, bit for bit, and keeps the metadata")
    func scaledMatchesApply() {
        let scaler = Scaler.fit(.zscore, on: Self.dataset, indices: [0, 1])
        let scaled = Self.dataset.scaled(by: scaler)
        #expect(scaled.channels == 2)
        #expect(scaled.classNames == Self.dataset.classNames)
        #expect(scaled.labels == Self.dataset.labels)
        #expect(scaled.samples.map(\.length) == [2, 3, 1])
        for (original, result) in zip(Self.dataset.samples, scaled.samples) {
            for step in 0..<original.length {
                var expected: [Float] = [0, 0]
                let input = Array(original.values[(step * 2)..<(step * 2 + 2)])
                input.withUnsafeBufferPointer { input in
                    expected.withUnsafeMutableBufferPointer { scaler.apply(input.baseAddress!, into: $0.baseAddress!) }
                }
                #expect(Array(result.values[(step * 2)..<(step * 2 + 2)]) == expected)
            }
        }
        // The fitted steps now have mean 0 and standard deviation 1.
        let channel0 = scaled.samples[0..<2].flatMap { sample in (0..<sample.length).map { sample.values[$0 * 2] } }
        let mean = channel0.reduce(0, +) / Float(channel0.count)
        let variance = channel0.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(channel0.count)
        #expect(abs(mean) < 1e-6)
        #expect(abs(variance - 1) < 1e-5)
    }
}
