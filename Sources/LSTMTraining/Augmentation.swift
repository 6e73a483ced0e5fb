import Foundation
import LSTMKit

/// On-the-fly augmentation of one training sample, each transform applied with its own
/// probability (Um et al. 2017, Le Guennec et al. 2016).
///
/// `apply` works on already scaled data, in this order: window slicing, time warping, scaling,
/// jitter. Every transform keeps the length `T` and the channels `C`. The defaults enable nothing
/// (all probabilities 0); the sigmas, knots and ratio are sensible strengths to switch on.
/// Decoding accepts a partial JSON object: missing keys take the `init` defaults.
public struct Augmentation: Sendable, Equatable, Hashable, Codable {
    /// The probability of adding Gaussian noise `N(0, jitterSigma)` to every value.
    public var jitterProbability: Float
    /// The standard deviation of the jitter noise, in scaled units.
    public var jitterSigma: Float
    /// The probability of multiplying each channel by its own factor `N(1, scalingSigma)`.
    public var scalingProbability: Float
    /// The standard deviation of the scaling factors.
    public var scalingSigma: Float
    /// The probability of a smooth random time warp: speeds `N(1, timeWarpSigma)` at
    /// `timeWarpKnots + 2` evenly spaced knots (both ends included) are joined by cosine
    /// interpolation, integrated into a monotone time map rescaled to `[0, T - 1]`, and the values
    /// are resampled at the mapped times by linear interpolation. Speeds below 0.05 are raised to
    /// 0.05, so the map always moves forward.
    public var timeWarpProbability: Float
    /// The standard deviation of the knot speeds.
    public var timeWarpSigma: Float
    /// The number of interior knots of the time warp, at least 1.
    public var timeWarpKnots: Int
    /// The probability of window slicing: a random crop of `max(2, round(sliceRatio × T))`
    /// consecutive steps, stretched back to `T` steps by linear interpolation.
    public var sliceProbability: Float
    /// The share of the length that a slice keeps, in `(0, 1]`.
    public var sliceRatio: Float

    /// Creates an augmentation; call `validate()` before use.
    ///
    /// - Parameters:
    ///   - jitterProbability: See `jitterProbability`.
    ///   - jitterSigma: See `jitterSigma`.
    ///   - scalingProbability: See `scalingProbability`.
    ///   - scalingSigma: See `scalingSigma`.
    ///   - timeWarpProbability: See `timeWarpProbability`.
    ///   - timeWarpSigma: See `timeWarpSigma`.
    ///   - timeWarpKnots: See `timeWarpKnots`.
    ///   - sliceProbability: See `sliceProbability`.
    ///   - sliceRatio: See `sliceRatio`.
    public init(
        jitterProbability: Float = 0, jitterSigma: Float = 0.03, scalingProbability: Float = 0,
        scalingSigma: Float = 0.1, timeWarpProbability: Float = 0, timeWarpSigma: Float = 0.2,
        timeWarpKnots: Int = 4, sliceProbability: Float = 0, sliceRatio: Float = 0.9
    ) {
        self.jitterProbability = jitterProbability
        self.jitterSigma = jitterSigma
        self.scalingProbability = scalingProbability
        self.scalingSigma = scalingSigma
        self.timeWarpProbability = timeWarpProbability
        self.timeWarpSigma = timeWarpSigma
        self.timeWarpKnots = timeWarpKnots
        self.sliceProbability = sliceProbability
        self.sliceRatio = sliceRatio
    }

    /// No augmentation: every probability 0.
    public static let none = Augmentation()

    /// `true` when some transform has a positive probability.
    public var isEnabled: Bool {
        jitterProbability > 0 || scalingProbability > 0 || timeWarpProbability > 0 || sliceProbability > 0
    }

    enum CodingKeys: String, CodingKey {
        case jitterProbability = "jitter_probability"
        case jitterSigma = "jitter_sigma"
        case scalingProbability = "scaling_probability"
        case scalingSigma = "scaling_sigma"
        case timeWarpProbability = "time_warp_probability"
        case timeWarpSigma = "time_warp_sigma"
        case timeWarpKnots = "time_warp_knots"
        case sliceProbability = "slice_probability"
        case sliceRatio = "slice_ratio"
    }

    /// Decodes the snake_case keys; a missing key takes the `init` default.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = Augmentation()
        func value<Value: Decodable>(_ key: CodingKeys, _ fallback: Value) throws -> Value {
            try container.decodeIfPresent(Value.self, forKey: key) ?? fallback
        }
        jitterProbability = try value(.jitterProbability, defaults.jitterProbability)
        jitterSigma = try value(.jitterSigma, defaults.jitterSigma)
        scalingProbability = try value(.scalingProbability, defaults.scalingProbability)
        scalingSigma = try value(.scalingSigma, defaults.scalingSigma)
        timeWarpProbability = try value(.timeWarpProbability, defaults.timeWarpProbability)
        timeWarpSigma = try value(.timeWarpSigma, defaults.timeWarpSigma)
        timeWarpKnots = try value(.timeWarpKnots, defaults.timeWarpKnots)
        sliceProbability = try value(.sliceProbability, defaults.sliceProbability)
        sliceRatio = try value(.sliceRatio, defaults.sliceRatio)
    }

    /// Checks every field.
    ///
    /// - Throws: `AugmentationError` naming the first offending field (by its snake_case key):
    ///   a probability outside `[0, 1]`, a negative or non-finite sigma, fewer than 1 knot, or a
    ///   slice ratio outside `(0, 1]`.
    public func validate() throws {
        let probabilities = [
            ("jitter_probability", jitterProbability), ("scaling_probability", scalingProbability),
            ("time_warp_probability", timeWarpProbability), ("slice_probability", sliceProbability),
        ]
        for (field, probability) in probabilities where !(probability >= 0 && probability <= 1) {
            throw AugmentationError(field: field, message: "\(field) \(probability) must be in [0, 1]")
        }
        let sigmas = [
            ("jitter_sigma", jitterSigma), ("scaling_sigma", scalingSigma), ("time_warp_sigma", timeWarpSigma),
        ]
        for (field, sigma) in sigmas where !(sigma >= 0 && sigma.isFinite) {
            throw AugmentationError(field: field, message: "\(field) \(sigma) must be finite and not negative")
        }
        guard timeWarpKnots >= 1 else {
            throw AugmentationError(
                field: "time_warp_knots", message: "time_warp_knots \(timeWarpKnots) must be at least 1")
        }
        guard sliceRatio > 0 && sliceRatio <= 1 else {
            throw AugmentationError(field: "slice_ratio", message: "slice_ratio \(sliceRatio) must be in (0, 1]")
        }
    }

    /// The number of `Float`s of scratch `apply` needs for one sample: `T × C + T`.
    ///
    /// - Parameters:
    ///   - length: The length `T`.
    ///   - channels: The channels `C`.
    public static func scratchCount(length: Int, channels: Int) -> Int {
        length * channels + length
    }

    /// Augments one sample in place; the length is unchanged.
    ///
    /// Each transform first draws `u ~ U[0, 1)` and runs when `u < probability` (a transform with
    /// probability 0 draws nothing). Allocates nothing; the result depends only on the inputs and
    /// the generator's state, which advances.
    ///
    /// - Parameters:
    ///   - values: `T × C` floats, timestep-major (`values[t * C + c]`), already scaled.
    ///   - length: The length `T`, at least 1.
    ///   - channels: The channels `C`, at least 1.
    ///   - scratch: At least `scratchCount(length:channels:)` floats; its contents are overwritten.
    ///   - generator: The random source.
    public func apply(
        _ values: UnsafeMutablePointer<Float>, length: Int, channels: Int,
        scratch: UnsafeMutablePointer<Float>, generator: inout SplitMix64
    ) {
        precondition(length >= 1 && channels >= 1, "a sample needs at least one step and one channel")
        if Self.happens(sliceProbability, &generator) {
            slice(values, length: length, channels: channels, scratch: scratch, generator: &generator)
        }
        if Self.happens(timeWarpProbability, &generator) {
            timeWarp(values, length: length, channels: channels, scratch: scratch, generator: &generator)
        }
        if Self.happens(scalingProbability, &generator) {
            for channel in 0..<channels {
                let factor = 1 + scalingSigma * generator.normal()
                for step in 0..<length { values[step * channels + channel] *= factor }
            }
        }
        if Self.happens(jitterProbability, &generator) {
            for position in 0..<(length * channels) {
                values[position] += jitterSigma * generator.normal()
            }
        }
    }

    /// Whether a transform with `probability` runs this time.
    private static func happens(_ probability: Float, _ generator: inout SplitMix64) -> Bool {
        probability > 0 && generator.uniform(0, 1) < probability
    }

    /// Window slicing: crop `max(2, round(sliceRatio × T))` steps at a uniform start, stretch back.
    private func slice(
        _ values: UnsafeMutablePointer<Float>, length: Int, channels: Int,
        scratch: UnsafeMutablePointer<Float>, generator: inout SplitMix64
    ) {
        guard length > 2 else { return }
        let window = min(length, max(2, Int((sliceRatio * Float(length)).rounded())))
        guard window < length else { return }
        let start = uniformIndex(below: length - window + 1, using: &generator)
        let source = scratch
        source.update(from: values + start * channels, count: window * channels)
        let stretch = Float(window - 1) / Float(length - 1)
        for step in 0..<length {
            interpolate(
                into: values + step * channels, from: source, length: window, channels: channels,
                at: Float(step) * stretch)
        }
    }

    /// Smooth random time warp; see `timeWarpProbability`.
    private func timeWarp(
        _ values: UnsafeMutablePointer<Float>, length: Int, channels: Int,
        scratch: UnsafeMutablePointer<Float>, generator: inout SplitMix64
    ) {
        guard length > 2 else { return }
        let source = scratch
        let times = scratch + length * channels
        source.update(from: values, count: length * channels)

        // Speeds at knots 0...segments, evenly spaced over [0, T - 1], drawn left to right.
        let segments = timeWarpKnots + 1
        let knotsPerStep = Float(segments) / Float(length - 1)
        var leftKnot = 0
        var left = knotSpeed(&generator)
        var right = knotSpeed(&generator)
        var previousSpeed: Float = 0
        for step in 0..<length {
            let position = min(Float(step) * knotsPerStep, Float(segments))
            let segment = min(Int(position), segments - 1)
            while leftKnot < segment {
                leftKnot += 1
                left = right
                right = knotSpeed(&generator)
            }
            let fraction = position - Float(segment)
            let blend = (1 - Self.cosine(fraction)) / 2
            let speed = left + blend * (right - left)
            // Trapezoid rule: the time map is the running integral of the speed.
            times[step] = step == 0 ? 0 : times[step - 1] + (previousSpeed + speed) / 2
            previousSpeed = speed
        }
        let rescale = Float(length - 1) / times[length - 1]
        for step in 1..<(length - 1) { times[step] = min(times[step] * rescale, Float(length - 1)) }
        times[length - 1] = Float(length - 1)
        for step in 0..<length {
            interpolate(
                into: values + step * channels, from: source, length: length, channels: channels, at: times[step])
        }
    }

    /// One knot speed `N(1, timeWarpSigma)`, at least 0.05.
    private func knotSpeed(_ generator: inout SplitMix64) -> Float {
        max(0.05, 1 + timeWarpSigma * generator.normal())
    }

    /// `cos(π x)` for `x` in `[0, 1]`.
    private static func cosine(_ x: Float) -> Float {
        Float(cos(Double.pi * Double(x)))
    }
}

/// An invalid augmentation setting.
public struct AugmentationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The snake_case key of the offending field, e.g. `slice_ratio`.
    public var field: String
    /// A human-readable explanation that names the field and the value.
    public var message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - field: The snake_case key of the offending field.
    ///   - message: What is wrong.
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

/// Linear interpolation in time: writes the `C` values of `source` (`length` steps,
/// timestep-major) at fractional step `position`, clamped to `[0, length - 1]`, into `output`.
/// A whole `position` copies that step exactly.
@inline(__always)
private func interpolate(
    into output: UnsafeMutablePointer<Float>, from source: UnsafePointer<Float>, length: Int, channels: Int,
    at position: Float
) {
    let clamped = min(max(position, 0), Float(length - 1))
    let lower = min(Int(clamped), length - 1)
    let upper = min(lower + 1, length - 1)
    let fraction = clamped - Float(lower)
    for channel in 0..<channels {
        let a = source[lower * channels + channel]
        let b = source[upper * channels + channel]
        output[channel] = a + fraction * (b - a)
    }
}
