import Foundation
import LSTMKit
import Testing

@testable import LSTMTraining

@Suite("Augmentation")
struct AugmentationTests {
    /// Random values in [-2, 2), `length × channels`.
    private static func randomValues(length: Int, channels: Int, seed: UInt64) -> [Float] {
        var generator = SplitMix64(seed: seed)
        return (0..<(length * channels)).map { _ in generator.uniform(-2, 2) }
    }

    @Test("With every probability 0 the sample is unchanged bit for bit and no randomness is used")
    func disabledIsIdentity() {
        let values = Self.randomValues(length: 37, channels: 3, seed: 1)
        let strong = Augmentation(jitterSigma: 5, scalingSigma: 5, timeWarpSigma: 5, timeWarpKnots: 9, sliceRatio: 0.2)
        for augmentation in [Augmentation.none, strong] {
            #expect(!augmentation.isEnabled)
            var generator = SplitMix64(seed: 2)
            let output = augmented(augmentation, values, length: 37, channels: 3, generator: &generator)
            #expect(output.map(\.bitPattern) == values.map(\.bitPattern))
            #expect(generator.state == SplitMix64(seed: 2).state)
        }
    }

    @Test("Jitter adds N(0, sigma) noise to every value")
    func jitterStatistics() {
        let values = Self.randomValues(length: 500, channels: 8, seed: 3)
        let augmentation = Augmentation(jitterProbability: 1, jitterSigma: 0.5)
        #expect(augmentation.isEnabled)
        let output = augmented(augmentation, values, length: 500, channels: 8, seed: 4)
        let noise = zip(output, values).map { Double($0 - $1) }
        let mean = noise.reduce(0, +) / Double(noise.count)
        let std = (noise.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(noise.count)).squareRoot()
        // 4000 draws: the standard error of the mean is 0.008, of the std about 0.006.
        #expect(abs(mean) < 0.03, "mean \(mean)")
        #expect(abs(std - 0.5) < 0.03, "std \(std)")
        #expect(noise.allSatisfy { $0 != 0 })
    }

    @Test("Scaling multiplies each channel by one factor N(1, sigma)")
    func scalingPerChannel() {
        let channels = 400
        let values = Self.randomValues(length: 5, channels: channels, seed: 5).map { $0 + 3 }  // in [1, 5)
        let output = augmented(
            Augmentation(scalingProbability: 1, scalingSigma: 0.3), values, length: 5, channels: channels, seed: 6)
        var factors: [Double] = []
        for channel in 0..<channels {
            let ratios = (0..<5).map { output[$0 * channels + channel] / values[$0 * channels + channel] }
            #expect(ratios.allSatisfy { abs($0 - ratios[0]) <= 1e-5 * abs(ratios[0]) }, "channel \(channel): \(ratios)")
            factors.append(Double(ratios[0]))
        }
        let mean = factors.reduce(0, +) / Double(channels)
        let std = (factors.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(channels)).squareRoot()
        #expect(abs(mean - 1) < 0.06, "mean \(mean)")
        #expect(abs(std - 0.3) < 0.05, "std \(std)")
    }

    @Test("A time warp with sigma 0 is the identity")
    func timeWarpSigmaZero() {
        let values = Self.randomValues(length: 50, channels: 3, seed: 7)
        let output = augmented(
            Augmentation(timeWarpProbability: 1, timeWarpSigma: 0, timeWarpKnots: 3), values, length: 50, channels: 3,
            seed: 8)
        #expect(zip(output, values).allSatisfy { abs($0 - $1) <= 1e-6 })
    }

    @Test("A time warp keeps the endpoints and stays within each channel's range", arguments: [1, 4, 60])
    func timeWarpBounds(knots: Int) {
        let (length, channels) = (40, 3)
        let values = Self.randomValues(length: length, channels: channels, seed: 9)
        let augmentation = Augmentation(timeWarpProbability: 1, timeWarpSigma: 0.6, timeWarpKnots: knots)
        let output = augmented(augmentation, values, length: length, channels: channels, seed: 10)
        #expect(output != values)
        for channel in 0..<channels {
            let column = (0..<length).map { values[$0 * channels + channel] }
            let warped = (0..<length).map { output[$0 * channels + channel] }
            #expect(warped.first == column.first)
            #expect(warped.last == column.last)
            #expect(warped.allSatisfy { $0 >= column.min()! - 1e-6 && $0 <= column.max()! + 1e-6 })
        }
    }

    @Test("A time warp applied to a ramp gives a strictly increasing map from 0 to T - 1")
    func timeWarpMonotone() {
        let length = 64
        let ramp = (0..<length).map(Float.init)
        for seed in UInt64(0)..<20 {
            let map = augmented(
                Augmentation(timeWarpProbability: 1, timeWarpSigma: 1.5), ramp, length: length, channels: 1, seed: seed)
            #expect(map.first == 0)
            #expect(map.last == Float(length - 1))
            #expect(zip(map, map.dropFirst()).allSatisfy { $0 < $1 }, "seed \(seed)")
            #expect(map != ramp)
        }
    }

    @Test("Slicing with ratio 1 is the identity")
    func sliceRatioOne() {
        let values = Self.randomValues(length: 30, channels: 2, seed: 11)
        let output = augmented(
            Augmentation(sliceProbability: 1, sliceRatio: 1), values, length: 30, channels: 2, seed: 12)
        #expect(output.map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test("Slicing crops round(ratio × T) consecutive steps and stretches them back to T")
    func sliceCrop() {
        let length = 41
        let ramp = (0..<length).map(Float.init)
        var starts = Set<Float>()
        for seed in UInt64(0)..<30 {
            let output = augmented(
                Augmentation(sliceProbability: 1, sliceRatio: 0.5), ramp, length: length, channels: 1, seed: seed)
            // The window holds round(20.5) = 21 steps: a ramp from `start` to `start + 20`.
            let start = output[0]
            #expect(start == start.rounded() && start >= 0 && start <= 20)
            #expect(output.last == start + 20)
            for (step, value) in output.enumerated() {
                #expect(abs(value - (start + Float(step) * 0.5)) < 1e-5)
            }
            starts.insert(start)
        }
        #expect(starts.count > 5)
    }

    @Test("Augmentation is deterministic for a seed and differs across seeds")
    func determinism() {
        let values = Self.randomValues(length: 25, channels: 4, seed: 13)
        let augmentation = Augmentation(
            jitterProbability: 0.5, scalingProbability: 0.5, timeWarpProbability: 0.5, sliceProbability: 0.5)
        var first = SplitMix64(seed: 14)
        var second = SplitMix64(seed: 14)
        var other = SplitMix64(seed: 15)
        var runs: [[Float]] = []
        for _ in 0..<5 {
            let a = augmented(augmentation, values, length: 25, channels: 4, generator: &first)
            let b = augmented(augmentation, values, length: 25, channels: 4, generator: &second)
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
            runs.append(a)
        }
        #expect(Set(runs.map { $0.map(\.bitPattern) }).count > 1)
        let c = augmented(augmentation, values, length: 25, channels: 4, generator: &other)
        #expect(c != runs[0])
    }

    @Test("apply writes no scratch beyond scratchCount and handles lengths 1 and 2")
    func scratchBounds() {
        let augmentation = Augmentation(
            jitterProbability: 1, scalingProbability: 1, timeWarpProbability: 1, sliceProbability: 1, sliceRatio: 0.3)
        for length in [1, 2, 3, 17] {
            let channels = 3
            var values = Self.randomValues(length: length, channels: channels, seed: 16)
            let count = Augmentation.scratchCount(length: length, channels: channels)
            var scratch = [Float](repeating: .nan, count: count + 64)
            var generator = SplitMix64(seed: 17)
            values.withUnsafeMutableBufferPointer { values in
                scratch.withUnsafeMutableBufferPointer { scratch in
                    augmentation.apply(
                        values.baseAddress!, length: length, channels: channels, scratch: scratch.baseAddress!,
                        generator: &generator)
                }
            }
            let untouched = scratch[count...].allSatisfy { $0.isNaN }
            let finite = values.allSatisfy { $0.isFinite }
            #expect(untouched, "length \(length)")
            #expect(finite, "length \(length)")
        }
    }

    @Test("validate accepts the defaults and names the offending field")
    func validation() throws {
        try Augmentation().validate()
        try Augmentation(
            jitterProbability: 1, jitterSigma: 0, scalingProbability: 0.5, timeWarpProbability: 1, timeWarpKnots: 1,
            sliceProbability: 1, sliceRatio: 1
        ).validate()
        let cases: [(Augmentation, String)] = [
            (Augmentation(jitterProbability: 1.5), "jitter_probability"),
            (Augmentation(scalingProbability: -0.1), "scaling_probability"),
            (Augmentation(timeWarpProbability: .nan), "time_warp_probability"),
            (Augmentation(sliceProbability: 2), "slice_probability"),
            (Augmentation(jitterSigma: -1), "jitter_sigma"),
            (Augmentation(scalingSigma: .infinity), "scaling_sigma"),
            (Augmentation(timeWarpSigma: -0.2), "time_warp_sigma"),
            (Augmentation(timeWarpKnots: 0), "time_warp_knots"),
            (Augmentation(sliceRatio: 0), "slice_ratio"),
            (Augmentation(sliceRatio: 1.01), "slice_ratio"),
        ]
        for (augmentation, field) in cases {
            #expect {
                try augmentation.validate()
            } throws: { error in
                guard let error = error as? AugmentationError else { return false }
                return error.field == field && error.description.hasPrefix(field)
            }
        }
    }

    @Test("JSON uses snake_case keys and missing keys take the defaults")
    func coding() throws {
        let partial = try JSONDecoder().decode(
            Augmentation.self, from: Data(#"{"jitter_probability": 0.5, "time_warp_knots": 7}"#.utf8))
        #expect(partial == Augmentation(jitterProbability: 0.5, timeWarpKnots: 7))
        #expect(try JSONDecoder().decode(Augmentation.self, from: Data("{}".utf8)) == .none)

        let full = Augmentation(
            jitterProbability: 0.1, jitterSigma: 0.2, scalingProbability: 0.3, scalingSigma: 0.4,
            timeWarpProbability: 0.5, timeWarpSigma: 0.6, timeWarpKnots: 2, sliceProbability: 0.7, sliceRatio: 0.8)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(full)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(
            object.keys.sorted() == [
                "jitter_probability", "jitter_sigma", "scaling_probability", "scaling_sigma", "slice_probability",
                "slice_ratio", "time_warp_knots", "time_warp_probability", "time_warp_sigma",
            ])
        #expect(try JSONDecoder().decode(Augmentation.self, from: data) == full)
    }
}

/// `values` augmented once with a fresh generator seeded `seed`.
private func augmented(
    _ augmentation: Augmentation, _ values: [Float], length: Int, channels: Int, seed: UInt64
) -> [Float] {
    var generator = SplitMix64(seed: seed)
    return augmented(augmentation, values, length: length, channels: channels, generator: &generator)
}

/// `values` augmented once, advancing `generator`.
private func augmented(
    _ augmentation: Augmentation, _ values: [Float], length: Int, channels: Int, generator: inout SplitMix64
) -> [Float] {
    var output = values
    var scratch = [Float](repeating: .nan, count: Augmentation.scratchCount(length: length, channels: channels))
    output.withUnsafeMutableBufferPointer { output in
        scratch.withUnsafeMutableBufferPointer { scratch in
            augmentation.apply(
                output.baseAddress!, length: length, channels: channels, scratch: scratch.baseAddress!,
                generator: &generator)
        }
    }
    return output
}
