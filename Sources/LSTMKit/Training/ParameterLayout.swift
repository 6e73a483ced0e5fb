import Foundation

/// Where each tensor of an architecture lives in one flat parameter buffer.
///
/// Parameters, gradients and optimiser moments are each one `[Float]` with this layout, so an
/// optimiser step is a loop over one buffer and nothing allocates inside a training step. Tensor
/// names and shapes are the model file's (PyTorch `nn.LSTM` names, see `Architecture.tensorShapes`);
/// every tensor starts on a 16-float boundary.
public struct ParameterLayout: Sendable {
    /// One tensor's place in the flat buffer.
    public struct Entry: Sendable, Equatable {
        /// The model file's tensor name, e.g. `lstm.weight_ih_l0`.
        public let name: String
        /// Its shape, outermost first.
        public let shape: [Int]
        /// First element in the flat buffer.
        public let offset: Int
        /// Number of elements.
        public var count: Int { shape.reduce(1, *) }
        /// Whether L1/L2 penalties apply (weight matrices; biases are never penalised).
        public let isWeight: Bool
    }

    /// Offsets of one LSTM direction's four tensors.
    struct LSTMDirection: Sendable {
        let weightIH: Int, weightHH: Int, biasIH: Int, biasHH: Int
        /// Input width of the layer (`C` for layer 0, `H·D` above).
        let inputSize: Int
    }

    /// Offsets of one front-end layer: the convolution `[F, Cin, k]` and its batch normalisation.
    struct ConvolutionLayer: Sendable {
        let weight: Int, scale: Int, shift: Int, runningMean: Int, runningVariance: Int
        let filters: Int, inputs: Int, kernel: Int
    }

    /// Offsets of one dense layer (`rows × inputs` weight, `rows` bias).
    struct DenseLayer: Sendable {
        let weight: Int, bias: Int, rows: Int, inputs: Int
    }

    /// The architecture the layout describes.
    public let architecture: Architecture
    /// Every tensor, in buffer order.
    public let entries: [Entry]
    /// Total floats in the buffer.
    public let count: Int
    let frontEnd: [ConvolutionLayer]
    let lstm: [[LSTMDirection]]
    let attention: (weight: Int, bias: Int)?
    /// The hidden dense layers, then the class layer.
    let dense: [DenseLayer]

    /// Lays out the tensors of a validated architecture.
    public init(_ architecture: Architecture) {
        self.architecture = architecture
        var entries: [Entry] = []
        var next = 0
        func add(_ name: String, _ shape: [Int], weight: Bool) -> Int {
            let offset = next
            entries.append(Entry(name: name, shape: shape, offset: offset, isWeight: weight))
            next += (shape.reduce(1, *) + 15) / 16 * 16
            return offset
        }
        frontEnd = architecture.frontEnd.enumerated().map { index, layer in
            let inputs = architecture.frontEndInputs(index), prefix = "frontend.\(index)"
            return ConvolutionLayer(
                weight: add("\(prefix).conv.weight", [layer.filters, inputs, layer.kernel], weight: true),
                scale: add("\(prefix).norm.weight", [layer.filters], weight: false),
                shift: add("\(prefix).norm.bias", [layer.filters], weight: false),
                runningMean: add("\(prefix).norm.running_mean", [layer.filters], weight: false),
                runningVariance: add("\(prefix).norm.running_var", [layer.filters], weight: false),
                filters: layer.filters, inputs: inputs, kernel: layer.kernel)
        }
        let h = architecture.hiddenSize
        var lstm: [[LSTMDirection]] = []
        for layer in 0..<architecture.numLayers {
            let inputs = layer == 0 ? architecture.lstmInputSize : architecture.featureSize
            lstm.append(
                (architecture.bidirectional ? ["", "_reverse"] : [""]).map { suffix in
                    LSTMDirection(
                        weightIH: add("lstm.weight_ih_l\(layer)\(suffix)", [4 * h, inputs], weight: true),
                        weightHH: add("lstm.weight_hh_l\(layer)\(suffix)", [4 * h, h], weight: true),
                        biasIH: add("lstm.bias_ih_l\(layer)\(suffix)", [4 * h], weight: false),
                        biasHH: add("lstm.bias_hh_l\(layer)\(suffix)", [4 * h], weight: false),
                        inputSize: inputs)
                })
        }
        self.lstm = lstm
        attention =
            architecture.head == .attention
            ? (add("attention.weight", [1, architecture.featureSize], weight: true), add("attention.bias", [1], weight: false))
            : nil
        var dense: [DenseLayer] = []
        var width = architecture.featureSize
        let names = architecture.dense.indices.map { "hidden.\($0)" } + ["classifier"]
        for (index, rows) in (architecture.dense + [architecture.numClasses]).enumerated() {
            dense.append(
                DenseLayer(
                    weight: add("\(names[index]).weight", [rows, width], weight: true),
                    bias: add("\(names[index]).bias", [rows], weight: false), rows: rows, inputs: width))
            width = rows
        }
        self.dense = dense
        self.entries = entries
        count = next
    }

    /// The entry named `name`, if the architecture has it.
    public func entry(_ name: String) -> Entry? {
        entries.first { $0.name == name }
    }

    /// The flat buffer holding a model file's tensors (padding is zero).
    /// - Precondition: `file.architecture` is this layout's architecture.
    public func parameters(from file: ModelFile) -> [Float] {
        precondition(file.architecture == architecture, "the model's architecture differs from the layout's")
        var buffer = [Float](repeating: 0, count: count)
        for entry in entries {
            buffer.replaceSubrange(entry.offset..<(entry.offset + entry.count), with: file.tensors[entry.name]!.scalars)
        }
        return buffer
    }

    /// The model file's tensors, copied out of a flat buffer.
    public func tensors(from buffer: [Float]) -> [String: Tensor] {
        precondition(buffer.count == count, "buffer has \(buffer.count) floats, layout needs \(count)")
        var tensors: [String: Tensor] = [:]
        for entry in entries {
            tensors[entry.name] = Tensor(shape: entry.shape, scalars: Array(buffer[entry.offset..<(entry.offset + entry.count)]))
        }
        return tensors
    }

    /// A 0/1 mask over the buffer: 1 where L1/L2 penalties apply (weight matrices).
    public var weightMask: [Float] {
        var mask = [Float](repeating: 0, count: count)
        for entry in entries where entry.isWeight {
            for index in entry.offset..<(entry.offset + entry.count) { mask[index] = 1 }
        }
        return mask
    }

    /// Initial parameters, seeded, following Keras' defaults for this recipe: input weights
    /// Glorot-uniform, recurrent weights orthogonal, LSTM biases zero except the forget gate's
    /// `bias_ih` (1, "unit forget bias"), dense and class weights Glorot-uniform with zero bias,
    /// the attention vector Glorot-uniform; front-end kernels Glorot-uniform over their receptive
    /// field (fan-in `Cin·k`, fan-out `F·k`), batch normalisation the identity (scale 1, shift
    /// 0, running mean 0, running variance 1).
    public func initialParameters(seed: UInt64) -> [Float] {
        var generator = SplitMix64(seed: seed)
        var buffer = [Float](repeating: 0, count: count)
        let h = architecture.hiddenSize
        for entry in entries {
            let range = entry.offset..<(entry.offset + entry.count)
            if entry.name.hasSuffix(".conv.weight") {
                let (filters, inputs, kernel) = (entry.shape[0], entry.shape[1], entry.shape[2])
                let bound = (6 / Float((inputs + filters) * kernel)).squareRoot()
                for index in range { buffer[index] = generator.uniform(-bound, bound) }
            } else if entry.name.hasSuffix(".norm.weight") || entry.name.hasSuffix(".norm.running_var") {
                for index in range { buffer[index] = 1 }
            } else if entry.name.contains("weight_hh") {
                let q = Self.orthogonalColumns(rows: 4 * h, columns: h, generator: &generator)
                buffer.replaceSubrange(range, with: q)
            } else if entry.isWeight {
                let fanOut = entry.shape[0] == 4 * h && entry.name.hasPrefix("lstm.") ? 4 * h : entry.shape[0]
                let bound = (6 / Float(entry.shape[1] + fanOut)).squareRoot()
                for index in range { buffer[index] = generator.uniform(-bound, bound) }
            } else if entry.name.hasPrefix("lstm.bias_ih") {
                for j in h..<(2 * h) { buffer[entry.offset + j] = 1 }
            }
        }
        return buffer
    }

    /// The entries no optimiser step may change: the front end's running statistics (they have
    /// no gradient, and weight decay would otherwise shrink them).
    public var frozenRanges: [Range<Int>] {
        frontEnd.flatMap { [$0.runningMean..<($0.runningMean + $0.filters), $0.runningVariance..<($0.runningVariance + $0.filters)] }
    }

    /// Sets the front end's running statistics to those of no data yet (mean 0, variance 0), for a
    /// cumulative average (`updateRunningStatistics(_:workspaces:momentum:)` with momentum `1/j`
    /// for the j-th batch).
    public func clearRunningStatistics(_ parameters: inout [Float]) {
        for range in frozenRanges { parameters.replaceSubrange(range, with: repeatElement(0, count: range.count)) }
    }

    /// Folds the batch statistics of the workspaces' last training forward pass into the front
    /// end's running statistics, as PyTorch's `BatchNorm1d` does (momentum `0.1` by default):
    /// `mean ← (1-m)·mean + m·μ`, `var ← (1-m)·var + m·σ²·n/(n-1)`. `μ` and `σ²` are those of the
    /// whole batch (every workspace's valid timesteps pooled, in workspace order), `n` its valid
    /// timesteps. Pass only the workspaces that ran the batch. Allocates nothing.
    public func updateRunningStatistics(
        _ parameters: inout [Float], workspaces: ArraySlice<TrainingWorkspace>, momentum: Double = 0.1
    ) {
        for (index, layer) in frontEnd.enumerated() {
            var n = 0
            for workspace in workspaces { n += workspace.batchStatistics(layer: index)?.count ?? 0 }
            guard n > 0 else { continue }
            for f in 0..<layer.filters {
                var mean = 0.0
                for workspace in workspaces {
                    guard let shard = workspace.batchStatistics(layer: index) else { continue }
                    mean += Double(shard.count) * Double(shard.mean[f])
                }
                mean /= Double(n)
                var variance = 0.0
                for workspace in workspaces {
                    guard let shard = workspace.batchStatistics(layer: index) else { continue }
                    let offset = Double(shard.mean[f]) - mean
                    variance += Double(shard.count) * (Double(shard.variance[f]) + offset * offset)
                }
                variance /= Double(n)
                let unbiased = n > 1 ? variance * Double(n) / Double(n - 1) : variance
                let m = layer.runningMean + f, v = layer.runningVariance + f
                parameters[m] = Float((1 - momentum) * Double(parameters[m]) + momentum * mean)
                parameters[v] = Float((1 - momentum) * Double(parameters[v]) + momentum * unbiased)
            }
        }
    }

    /// A `rows × columns` matrix (rows ≥ columns) with orthonormal columns: modified Gram–Schmidt
    /// on a seeded Gaussian matrix (Keras' `Orthogonal` initialiser for `W_hhᵀ`).
    static func orthogonalColumns(rows: Int, columns: Int, generator: inout SplitMix64) -> [Float] {
        var q = [Double](repeating: 0, count: rows * columns)
        for index in q.indices { q[index] = Double(generator.normal()) }
        for j in 0..<columns {
            for previous in 0..<j {
                var dot = 0.0
                for i in 0..<rows { dot += q[i * columns + j] * q[i * columns + previous] }
                for i in 0..<rows { q[i * columns + j] -= dot * q[i * columns + previous] }
            }
            var norm = 0.0
            for i in 0..<rows { norm += q[i * columns + j] * q[i * columns + j] }
            norm = max(norm.squareRoot(), 1e-12)
            for i in 0..<rows { q[i * columns + j] /= norm }
        }
        return q.map { Float($0) }
    }
}
