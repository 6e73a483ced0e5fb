/// Per-channel input scaling, stored in the model and applied exactly as at training.
///
/// z-score: `(x - mean) / std`; min-max: `(x - min) / (max - min)`, both in `Float`.
public struct Scaler: Sendable, Equatable, Hashable {
    /// The scaling rule.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case zscore
        case minmax
    }

    /// The rule.
    public var kind: Kind
    /// Per channel: the mean (z-score) or the minimum (min-max).
    public var offset: [Float]
    /// Per channel: the standard deviation (z-score) or the maximum (min-max).
    public var second: [Float]
    /// Per channel divisor: `std` or `max - min`.
    public let divisor: [Float]

    /// A z-score scaler.
    public static func zscore(mean: [Float], std: [Float]) -> Scaler {
        Scaler(kind: .zscore, offset: mean, second: std)
    }

    /// A min-max scaler to [0, 1].
    public static func minmax(min: [Float], max: [Float]) -> Scaler {
        Scaler(kind: .minmax, offset: min, second: max)
    }

    /// The identity on `channels` channels (z-score with mean 0, std 1).
    public static func identity(channels: Int) -> Scaler {
        zscore(mean: Array(repeating: 0, count: channels), std: Array(repeating: 1, count: channels))
    }

    /// Creates a scaler; call `validate(channels:)` before use.
    public init(kind: Kind, offset: [Float], second: [Float]) {
        self.kind = kind
        self.offset = offset
        self.second = second
        switch kind {
        case .zscore: divisor = second
        case .minmax: divisor = zip(offset, second).map { $1 - $0 }
        }
    }

    /// Channels `C`.
    public var channels: Int { offset.count }

    /// Checks lengths and values.
    /// - Throws: `ModelError(.metadata)` naming the channel at fault.
    public func validate(channels expected: Int) throws {
        let names = kind == .zscore ? ("mean", "std") : ("min", "max")
        guard offset.count == expected, second.count == expected else {
            throw ModelError(.metadata, "scaler has \(offset.count) \(names.0) and \(second.count) \(names.1) values, expected \(expected) (one per channel)")
        }
        for channel in 0..<expected {
            guard offset[channel].isFinite, second[channel].isFinite else {
                throw ModelError(.metadata, "scaler channel \(channel) is not finite")
            }
            guard divisor[channel] > 0, divisor[channel].isFinite, (1 / divisor[channel]).isFinite else {
                let what = kind == .zscore ? "std must be positive" : "max must exceed min"
                throw ModelError(.metadata, "scaler channel \(channel): \(what)")
            }
        }
    }

    /// Scales one timestep of `C` raw values into `output`.
    @inlinable
    public func apply(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        offset.withUnsafeBufferPointer { offset in
            divisor.withUnsafeBufferPointer { divisor in
                guard let offsets = offset.baseAddress, let divisors = divisor.baseAddress else { return }
                Scaler.apply(input, into: output, offset: offsets, divisor: divisors, channels: offset.count)
            }
        }
    }

    /// The scaling itself, `(x - offset) / divisor` per channel, over raw pointers: the one
    /// implementation behind `apply(_:into:)` and the engine's copy of the scaler (`StepPlan`).
    /// - Parameters:
    ///   - input: raw values [C].
    ///   - output: scaled values [C] (may alias `input`).
    ///   - offset: [C] means or minima.
    ///   - divisor: [C] `divisor`.
    ///   - channels: `C`.
    @inlinable @inline(__always)
    static func apply(
        _ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>,
        offset: UnsafePointer<Float>, divisor: UnsafePointer<Float>, channels: Int
    ) {
        for channel in 0..<channels {
            output[channel] = (input[channel] - offset[channel]) / divisor[channel]
        }
    }

    /// The JSON object stored under the `scaler` metadata key.
    public var json: JSONValue {
        let names = kind == .zscore ? ("mean", "std") : ("min", "max")
        return .object([
            "kind": .string(kind.rawValue),
            names.0: .array(offset.map { .number(Double($0)) }),
            names.1: .array(second.map { .number(Double($0)) }),
        ])
    }

    /// Decodes the `scaler` metadata JSON.
    /// - Throws: `ModelError(.metadata)` when a field is missing or malformed.
    public init(json: JSONValue) throws {
        guard let kindName = json["kind"]?.stringValue, let kind = Kind(rawValue: kindName) else {
            throw ModelError(.metadata, "scaler.kind must be \"zscore\" or \"minmax\"")
        }
        let names = kind == .zscore ? ("mean", "std") : ("min", "max")
        func values(_ key: String) throws -> [Float] {
            guard case .array(let items)? = json[key] else {
                throw ModelError(.metadata, "scaler.\(key) must be an array of numbers")
            }
            return try items.map {
                guard let number = $0.numberValue else {
                    throw ModelError(.metadata, "scaler.\(key) must be an array of numbers")
                }
                return Float(number)
            }
        }
        self.init(kind: kind, offset: try values(names.0), second: try values(names.1))
    }
}
