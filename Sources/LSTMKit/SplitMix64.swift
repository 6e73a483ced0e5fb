/// SplitMix64: a small, fast, seedable generator, so every random choice is reproducible.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The internal state.
    public var state: UInt64

    /// Creates a generator from a seed.
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform `Float` in `[low, high)`.
    public mutating func uniform(_ low: Float, _ high: Float) -> Float {
        low + (high - low) * Float(next() >> 40) / Float(1 << 24)
    }

    /// A standard normal `Float` (Box–Muller).
    public mutating func normal() -> Float {
        let u1 = max(Double(next() >> 11) / Double(1 << 53), .leastNonzeroMagnitude)
        let u2 = Double(next() >> 11) / Double(1 << 53)
        return Float((-2 * _log(u1)).squareRoot() * _cos(2 * .pi * u2))
    }
}

@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }

import Foundation

extension ModelFile {
    /// A model with PyTorch's default initialisation: every weight and bias uniform in
    /// `±1/√fan` (`fan` = H for LSTM tensors, the layer's inputs for dense ones), seeded.
    public static func randomlyInitialized(
        architecture: Architecture, classes: [String]? = nil, window: Int = 100, hop: Int? = nil,
        scaler: Scaler? = nil, seed: UInt64 = 0
    ) -> ModelFile {
        var generator = SplitMix64(seed: seed)
        var tensors: [String: Tensor] = [:]
        for (name, shape) in architecture.tensorShapes.sorted(by: { $0.key < $1.key }) {
            let count = shape.reduce(1, *)
            if name.hasPrefix("frontend.") {
                // A convolution uniform in ±1/√(Cin·k); a normalisation that is not the identity.
                let range: (Float, Float) =
                    name.hasSuffix(".conv.weight")
                    ? (-1 / Float(shape[1] * shape[2]).squareRoot(), 1 / Float(shape[1] * shape[2]).squareRoot())
                    : name.hasSuffix(".norm.weight") ? (0.5, 1.5) : name.hasSuffix(".norm.running_var") ? (0.5, 2) : (-0.5, 0.5)
                tensors[name] = Tensor(shape: shape, scalars: (0..<count).map { _ in generator.uniform(range.0, range.1) })
                continue
            }
            let fan: Int
            if name.hasPrefix("lstm.") {
                fan = architecture.hiddenSize
            } else {
                fan = shape.count == 2 ? shape[1] : (architecture.tensorShapes[name.replacingOccurrences(of: ".bias", with: ".weight")]?[1] ?? 1)
            }
            let bound = 1 / Float(fan).squareRoot()
            tensors[name] = Tensor(shape: shape, scalars: (0..<count).map { _ in generator.uniform(-bound, bound) })
        }
        return ModelFile(
            architecture: architecture,
            classes: classes ?? (0..<architecture.numClasses).map { "class\($0)" },
            window: window, hop: hop ?? max(1, window / 10),
            scaler: scaler ?? .identity(channels: architecture.inputSize),
            provenance: .object(["trainer": .string("random initialisation (seed \(seed))")]),
            tensors: tensors)
    }
}
