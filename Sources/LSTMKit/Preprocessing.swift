/// What a model does to a raw window before its scaler: per-sample normalisation and
/// downsampling. Stored in the model file (`preprocessing` metadata) and applied identically by
/// training, evaluation, prediction and the daemon; this type is the one implementation.
///
/// Order, on a sample or window of `T` raw timesteps `[T, C]`:
/// 1. `normalization == .perSample`: each channel minus its mean over the `T` timesteps, divided
///    by its population standard deviation (statistics in `Double`); a constant channel becomes
///    zeros. With per-sample normalisation the model's global scaler is the identity.
/// 2. `downsample == K > 1`: the mean of each block of `K` consecutive timesteps, giving
///    `⌊T/K⌋` steps; a trailing partial block is dropped unless it is the only block (`T < K`:
///    one step, the mean of all `T`).
/// Then the model's scaler, then the LSTM.
public struct Preprocessing: Sendable, Equatable, Hashable {
    /// How each sample or window is normalised before the scaler.
    public enum Normalization: String, Sendable, CaseIterable {
        /// Only the model's scaler, fitted on the whole training split.
        case global
        /// Each sample/window z-normalised per channel on its own (the UCR convention).
        case perSample = "per-sample"
    }

    /// The normalisation.
    public var normalization: Normalization
    /// Raw timesteps averaged into one model step, `K ≥ 1` (1: none).
    public var downsample: Int

    /// Longest length, in model steps, `--downsample auto` brings the longest training sample to.
    public static let autoTarget = 200

    /// Creates a description; `validate()` checks it.
    public init(normalization: Normalization = .global, downsample: Int = 1) {
        self.normalization = normalization
        self.downsample = downsample
    }

    /// No preprocessing: what a model file without the `preprocessing` key means.
    public static let none = Preprocessing()

    /// Whether it leaves the raw window unchanged.
    public var isIdentity: Bool { normalization == .global && downsample == 1 }

    /// The `K` for `--downsample auto`: the smallest factor that brings `longest` raw timesteps
    /// to at most `autoTarget` model steps (1 when it is already short enough).
    public static func autoFactor(longest: Int) -> Int {
        max(1, (longest + autoTarget - 1) / autoTarget)
    }

    /// Model steps made from `length` raw timesteps: `⌊length/K⌋`, at least 1.
    public func outputLength(_ length: Int) -> Int {
        max(1, length / downsample)
    }

    /// Checks the values.
    /// - Throws: `ModelError(.metadata)` when `downsample` is outside 1...100000.
    public func validate() throws {
        guard (1...100_000).contains(downsample) else {
            throw ModelError(.metadata, "preprocessing.downsample \(downsample) must be in 1...100000")
        }
    }

    /// Preprocesses one sample or window.
    /// - Parameters:
    ///   - input: `[length, C]` raw values.
    ///   - length: raw timesteps `T ≥ 1`.
    ///   - channels: `C`.
    ///   - output: `[outputLength(length), C]`.
    ///   - scratch: `length · C` floats, used only with per-sample normalisation.
    public func apply(
        _ input: UnsafePointer<Float>, length: Int, channels: Int, into output: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>
    ) {
        var source = input
        if normalization == .perSample {
            Self.normalize(input, length: length, channels: channels, into: scratch)
            source = UnsafePointer(scratch)
        }
        if downsample == 1 {
            output.update(from: source, count: length * channels)
            return
        }
        let blocks = length / downsample
        if blocks == 0 {
            Self.blockMean(source, count: length, channels: channels, into: output)
            return
        }
        for block in 0..<blocks {
            Self.blockMean(
                source + block * downsample * channels, count: downsample, channels: channels, into: output + block * channels)
        }
    }

    /// `apply` over arrays: `[outputLength(length) · C]` from `[length · C]`.
    public func apply(_ values: [Float], length: Int, channels: Int) -> [Float] {
        precondition(values.count >= length * channels, "\(values.count) values for \(length) × \(channels)")
        var output = [Float](repeating: 0, count: outputLength(length) * channels)
        var scratch = [Float](repeating: 0, count: normalization == .perSample ? length * channels : 0)
        values.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                scratch.withUnsafeMutableBufferPointer { s in
                    apply(
                        input.baseAddress!, length: length, channels: channels, into: out.baseAddress!,
                        scratch: s.baseAddress ?? out.baseAddress!)
                }
            }
        }
        return output
    }

    /// Per channel `(x - mean) / std` over `length` timesteps (population std, statistics in
    /// `Double`); a channel with std 0 becomes zeros.
    static func normalize(
        _ input: UnsafePointer<Float>, length: Int, channels: Int, into output: UnsafeMutablePointer<Float>
    ) {
        for channel in 0..<channels {
            var sum = 0.0
            for t in 0..<length { sum += Double(input[t * channels + channel]) }
            let mean = sum / Double(length)
            var squares = 0.0
            for t in 0..<length {
                let d = Double(input[t * channels + channel]) - mean
                squares += d * d
            }
            let std = (squares / Double(length)).squareRoot()
            for t in 0..<length {
                let index = t * channels + channel
                output[index] = std > 0 && std.isFinite ? Float((Double(input[index]) - mean) / std) : 0
            }
        }
    }

    /// The mean of `count` timesteps `[count, C]` per channel into `[C]`: summed in order in
    /// `Float`, then divided by `count`. The streaming path calls this on the same `K` raw
    /// timesteps, so its steps equal the offline ones bit for bit.
    public static func blockMean(
        _ input: UnsafePointer<Float>, count: Int, channels: Int, into output: UnsafeMutablePointer<Float>
    ) {
        for channel in 0..<channels {
            var sum: Float = 0
            for t in 0..<count { sum += input[t * channels + channel] }
            output[channel] = sum / Float(count)
        }
    }

    /// The JSON object stored under the `preprocessing` metadata key.
    public var json: JSONValue {
        .object(["normalize": .string(normalization.rawValue), "downsample": .number(Double(downsample))])
    }

    /// Decodes the `preprocessing` metadata JSON.
    /// - Throws: `ModelError(.metadata)` when a field is missing or malformed.
    public init(json: JSONValue) throws {
        guard let name = json["normalize"]?.stringValue, let normalization = Normalization(rawValue: name) else {
            throw ModelError(.metadata, "preprocessing.normalize must be \"global\" or \"per-sample\"")
        }
        guard let number = json["downsample"]?.numberValue, number == number.rounded(), abs(number) < 1e9 else {
            throw ModelError(.metadata, "preprocessing.downsample must be an integer")
        }
        self.init(normalization: normalization, downsample: Int(number))
        try validate()
    }
}
