import Foundation

/// The inference engine: runs any valid `ModelFile` exactly as PyTorch's `nn.LSTM` would.
///
/// Immutable after creation and `Sendable`: one instance serves every stream and thread. Two
/// paths share the same weights:
/// - `forward(_:batchSize:timesteps:lengths:)`: windows `[B, T, C]` with per-sample lengths; the
///   input projection of all rows is one `sgemm`, the recurrent product one `sgemm` per timestep,
///   the gates vectorised.
/// - `step(_:input:)`: advances one stream's `LSTMState` by one timestep with the fused
///   4H × (C+H) gate product; no allocation, no work proportional to the window.
///
/// An ensemble file (`ModelFile.ensemble` = N > 1) builds one engine per member: this instance is
/// member 0 and holds the others (`member(_:)`). Both paths then run every member and return the
/// mean of the members' probabilities (summed in member order, divided by N), at N times the cost.
public final class LSTMModel: Sendable {
    /// The description the engine was built from (every member's tensors).
    public let file: ModelFile
    /// Members 1..<N of an ensemble, each a single model (empty for a single model).
    let otherMembers: [LSTMModel]
    /// Hidden size padded to a multiple of 16, `Hp`.
    public let paddedHidden: Int
    /// The convolutional front end with its batch normalisation folded in (empty without one).
    let frontEnd: [FoldedConvolution]
    let layers: [[PackedDirection]]
    let head: PackedHead
    let stepPlan: StepPlan

    /// Shorthands.
    public var architecture: Architecture { file.architecture }
    /// Class names in output order.
    public var classes: [String] { file.classes }
    /// Input channels `C`.
    public var channels: Int { file.architecture.inputSize }
    /// Classes `K`.
    public var classCount: Int { file.architecture.numClasses }
    /// Bytes of packed weights one single-stream `step` reads (the fused `[W_ih | W_hh]` of every
    /// layer, and a front end's folded convolutions): a step cannot be faster than streaming
    /// these from wherever they are cached. An ensemble reads every member's.
    public var stepWeightBytes: Int {
        layers.reduce(0) { $0 + $1[0].fused.count * MemoryLayout<Float>.size }
            + frontEnd.reduce(0) { $0 + $1.weights.count * MemoryLayout<Float>.size }
            + otherMembers.reduce(0) { $0 + $1.stepWeightBytes }
    }

    /// Ensemble members `N` (1 for a single model).
    public var ensemble: Int { 1 + otherMembers.count }

    /// Member `index` of the ensemble as a single model (member 0: this model's own weights,
    /// without the other members).
    /// - Throws: `ModelError` (not for a valid file).
    public func member(_ index: Int) throws -> LSTMModel {
        precondition((0..<ensemble).contains(index), "member \(index) of an ensemble of \(ensemble)")
        return index == 0 ? (ensemble == 1 ? self : try LSTMModel(file.member(0))) : otherMembers[index - 1]
    }

    /// Whether `step` applies (unidirectional models; a convolutional front end is causal, and a
    /// state keeps each layer's last `k` inputs).
    public var supportsStep: Bool { !file.architecture.bidirectional }

    /// Whether `projectInput(_:into:scratch:)` applies (several states share one timestep's
    /// first-layer projection): stepping models without a front end, whose first LSTM layer's
    /// input depends on the timestep alone. With a front end it depends on the state's history
    /// too, and sharing goes through `projectInput(_:into:frontEndState:)`.
    public var sharesInputProjection: Bool { supportsStep && frontEnd.isEmpty }

    /// Builds the engine from a validated description.
    /// - Throws: `ModelError` when the description is invalid.
    public init(_ file: ModelFile) throws {
        try file.validate()
        BLAS.useCallingThreadOnly()
        self.file = file
        otherMembers = try (1..<max(1, file.ensemble)).map { try LSTMModel(file.member($0)) }
        let arch = file.architecture
        frontEnd = try arch.frontEnd.indices.map { try FoldedConvolution(file, layer: $0) }
        let h = arch.hiddenSize
        let hp = (h + 15) / 16 * 16
        paddedHidden = hp
        let directions = arch.directions
        let featureColumn = { (j: Int) -> Int in (j / h) * hp + j % h }
        var layers: [[PackedDirection]] = []
        for layer in 0..<arch.numLayers {
            var packed: [PackedDirection] = []
            for suffix in arch.bidirectional ? ["", "_reverse"] : [""] {
                let name = { (kind: String) in file.tensors["lstm.\(kind)_l\(layer)\(suffix)"]!.scalars }
                packed.append(
                    PackedDirection(
                        weightIH: name("weight_ih"), weightHH: name("weight_hh"),
                        biasIH: name("bias_ih"), biasHH: name("bias_hh"),
                        hidden: h, paddedHidden: hp,
                        originalInputs: layer == 0 ? arch.lstmInputSize : h * directions,
                        inputWidth: layer == 0 ? arch.lstmInputSize : hp * directions,
                        inputColumn: layer == 0 ? { $0 } : featureColumn))
            }
            layers.append(packed)
        }
        self.layers = layers

        let featureWidth = hp * directions
        func dense(_ prefix: String, inputs: Int, padded: Bool) -> PackedHead.Dense {
            let weight = file.tensors["\(prefix).weight"]!
            let rows = weight.shape[0]
            let width = padded ? featureWidth : inputs
            var weights = [Float](repeating: 0, count: rows * width)
            for row in 0..<rows {
                for j in 0..<inputs {
                    weights[row * width + (padded ? featureColumn(j) : j)] = weight.scalars[row * inputs + j]
                }
            }
            return .init(weights: weights, bias: file.tensors["\(prefix).bias"]!.scalars, rows: rows, inputs: width)
        }
        var headLayers: [PackedHead.Dense] = []
        var inputs = arch.featureSize
        for (index, width) in arch.dense.enumerated() {
            headLayers.append(dense("hidden.\(index)", inputs: inputs, padded: index == 0))
            inputs = width
        }
        headLayers.append(dense("classifier", inputs: inputs, padded: arch.dense.isEmpty))
        var attention: (weights: [Float], bias: Float)?
        if arch.head == .attention {
            var weights = [Float](repeating: 0, count: featureWidth)
            let source = file.tensors["attention.weight"]!.scalars
            for j in 0..<arch.featureSize { weights[featureColumn(j)] = source[j] }
            attention = (weights, file.tensors["attention.bias"]!.scalars[0])
        }
        head = PackedHead(
            attention: attention, layers: headLayers,
            widest: max(featureWidth, headLayers.map(\.rows).max() ?? 0))
        stepPlan = StepPlan(directions: layers.map { $0[0] }, scaler: file.scaler, attention: attention)
    }

    /// Loads, validates and builds a model file.
    /// - Throws: `ModelError` naming the problem.
    public convenience init(contentsOf url: URL) throws {
        try self.init(try ModelFile(contentsOf: url))
    }

    // MARK: Head

    /// Applies the dense layers and the class layer to a padded feature vector, then softmax.
    /// - Parameters:
    ///   - logits: output [K] logits (before softmax) when non-nil.
    ///   - probabilities: output [K].
    ///   - scratch: two buffers of `head.widest` floats.
    @inline(__always)
    func applyHead(
        features: UnsafePointer<Float>, logits: UnsafeMutablePointer<Float>?,
        probabilities: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
    ) {
        var input = features
        var bufferIndex = 0
        for (index, layer) in head.layers.enumerated() {
            let isLast = index == head.layers.count - 1
            let out = isLast ? probabilities : scratch + bufferIndex * head.widest
            layer.weights.withUnsafeBufferPointer { w in
                layer.bias.withUnsafeBufferPointer { b in
                    denseForward(
                        out, weights: w.baseAddress!, bias: b.baseAddress!, input: input,
                        rows: layer.rows, count: layer.inputs, relu: !isLast)
                }
            }
            input = UnsafePointer(out)
            bufferIndex ^= 1
        }
        if let logits { logits.update(from: probabilities, count: classCount) }
        softmaxInPlace(probabilities, count: classCount)
    }
}
