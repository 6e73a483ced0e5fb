/// The architecture of a classifier, as data: one engine runs any valid description.
///
/// A stack of `numLayers` LSTM layers (PyTorch `nn.LSTM` semantics: gate order i, f, g, o, two
/// biases), optionally bidirectional, a head that pools the top layer's outputs (`last` or
/// `attention`), optional dense layers with ReLU, and a class layer followed by softmax.
/// Shapes use `C` input channels, `H` hidden size, `D` directions (1 or 2), `K` classes.
///
/// An optional convolutional front end (`frontEnd`) runs before the LSTMs: causal `Conv1d`
/// layers (no bias), each followed by `BatchNorm1d` and ReLU. The first LSTM layer then reads the
/// last front-end layer's `F` filters instead of the `C` channels.
public struct Architecture: Sendable, Equatable, Hashable, Codable {
    /// How the top layer's outputs over a window become one feature vector of width `H*D`.
    public enum Head: String, Sendable, Codable, CaseIterable {
        /// The output at the last valid timestep; for a bidirectional layer the forward state after
        /// the last step joined with the backward state after the whole window (PyTorch `h_n`).
        case last
        /// Softmax attention pooling: `s_t = w·y_t + b`, `a = softmax_t(s)`, `pooled = Σ_t a_t y_t`.
        case attention
    }

    /// Dropout probabilities used by training; inference ignores them.
    public struct Dropout: Sendable, Equatable, Hashable, Codable {
        /// On the network input.
        public var input: Float
        /// Between stacked LSTM layers.
        public var betweenLayers: Float
        /// Before the head's dense and class layers.
        public var head: Float

        public init(input: Float = 0, betweenLayers: Float = 0, head: Float = 0) {
            self.input = input
            self.betweenLayers = betweenLayers
            self.head = head
        }

        enum CodingKeys: String, CodingKey {
            case input
            case betweenLayers = "between_layers"
            case head
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            input = try container.decodeIfPresent(Float.self, forKey: .input) ?? 0
            betweenLayers = try container.decodeIfPresent(Float.self, forKey: .betweenLayers) ?? 0
            head = try container.decodeIfPresent(Float.self, forKey: .head) ?? 0
        }
    }

    /// One layer of the convolutional front end: a causal `Conv1d(Cin, filters, kernel)` without
    /// bias (the input padded with `kernel - 1` zeros on the left, so the output at `t` reads
    /// timesteps `t - kernel + 1 ... t` only), `BatchNorm1d(filters)` (eps `1e-5`), then ReLU.
    public struct ConvolutionLayer: Sendable, Equatable, Hashable, Codable {
        /// Output channels `F`.
        public var filters: Int
        /// Timesteps each output reads, the current one included.
        public var kernel: Int

        public init(filters: Int, kernel: Int) {
            self.filters = filters
            self.kernel = kernel
        }
    }

    /// The epsilon of the front end's batch normalisation (PyTorch's default).
    public static let normalizationEpsilon: Float = 1e-5

    /// Input channels `C`.
    public var inputSize: Int
    /// The convolutional front end, first layer first (empty: the LSTMs read the input).
    public var frontEnd: [ConvolutionLayer]
    /// Hidden units per direction `H`.
    public var hiddenSize: Int
    /// Stacked LSTM layers, 1 to 4.
    public var numLayers: Int
    /// Whether each layer runs forward and backward (`D` = 2).
    public var bidirectional: Bool
    /// The pooling head.
    public var head: Head
    /// Widths of the dense ReLU layers between the head and the class layer.
    public var dense: [Int]
    /// Number of classes `K`.
    public var numClasses: Int
    /// Dropout used by training.
    public var dropout: Dropout

    /// Creates a description; call `validate()` before use.
    public init(
        inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bidirectional: Bool = false,
        head: Head = .last, dense: [Int] = [], numClasses: Int, dropout: Dropout = Dropout(),
        frontEnd: [ConvolutionLayer] = []
    ) {
        self.inputSize = inputSize
        self.frontEnd = frontEnd
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.bidirectional = bidirectional
        self.head = head
        self.dense = dense
        self.numClasses = numClasses
        self.dropout = dropout
    }

    enum CodingKeys: String, CodingKey {
        case inputSize = "input_size"
        case hiddenSize = "hidden_size"
        case numLayers = "num_layers"
        case bidirectional, head, dense
        case numClasses = "num_classes"
        case dropout
        case frontEnd = "front_end"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        inputSize = try container.decode(Int.self, forKey: .inputSize)
        hiddenSize = try container.decode(Int.self, forKey: .hiddenSize)
        numLayers = try container.decode(Int.self, forKey: .numLayers)
        bidirectional = try container.decodeIfPresent(Bool.self, forKey: .bidirectional) ?? false
        head = try container.decodeIfPresent(Head.self, forKey: .head) ?? .last
        dense = try container.decodeIfPresent([Int].self, forKey: .dense) ?? []
        numClasses = try container.decode(Int.self, forKey: .numClasses)
        dropout = try container.decodeIfPresent(Dropout.self, forKey: .dropout) ?? Dropout()
        frontEnd = try container.decodeIfPresent([ConvolutionLayer].self, forKey: .frontEnd) ?? []
    }

    /// Writes every field; `front_end` only when there is one, so a file without a front end
    /// has the bytes it had before front ends existed.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(inputSize, forKey: .inputSize)
        try container.encode(hiddenSize, forKey: .hiddenSize)
        try container.encode(numLayers, forKey: .numLayers)
        try container.encode(bidirectional, forKey: .bidirectional)
        try container.encode(head, forKey: .head)
        try container.encode(dense, forKey: .dense)
        try container.encode(numClasses, forKey: .numClasses)
        try container.encode(dropout, forKey: .dropout)
        if !frontEnd.isEmpty { try container.encode(frontEnd, forKey: .frontEnd) }
    }

    /// Directions per layer `D`.
    public var directions: Int { bidirectional ? 2 : 1 }

    /// Width of the pooled feature vector, `H*D`.
    public var featureSize: Int { hiddenSize * directions }

    /// Inputs of the first LSTM layer: the last front-end layer's filters, else `C`.
    public var lstmInputSize: Int { frontEnd.last?.filters ?? inputSize }

    /// Input channels of front-end layer `index`.
    public func frontEndInputs(_ index: Int) -> Int { index == 0 ? inputSize : frontEnd[index - 1].filters }

    /// Checks every field against the limits the engine supports.
    /// - Throws: `ModelError(.architecture)` naming the offending field.
    public func validate() throws {
        func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
            if !condition { throw ModelError(.architecture, message()) }
        }
        try check((1...65_536).contains(inputSize), "input_size \(inputSize) must be in 1...65536")
        try check((1...8192).contains(hiddenSize), "hidden_size \(hiddenSize) must be in 1...8192")
        try check((1...4).contains(numLayers), "num_layers \(numLayers) must be in 1...4")
        try check(frontEnd.count <= 4, "at most 4 front-end layers are supported, got \(frontEnd.count)")
        for (index, layer) in frontEnd.enumerated() {
            try check((1...4096).contains(layer.filters), "front_end[\(index)].filters \(layer.filters) must be in 1...4096")
            try check((1...64).contains(layer.kernel), "front_end[\(index)].kernel \(layer.kernel) must be in 1...64")
        }
        try check(dense.count <= 8, "at most 8 dense layers are supported, got \(dense.count)")
        for (index, width) in dense.enumerated() {
            try check((1...65_536).contains(width), "dense[\(index)] width \(width) must be in 1...65536")
        }
        try check((2...65_536).contains(numClasses), "num_classes \(numClasses) must be in 2...65536")
        for (name, p) in [("input", dropout.input), ("between_layers", dropout.betweenLayers), ("head", dropout.head)] {
            try check(p >= 0 && p < 1, "dropout.\(name) \(p) must be in [0, 1)")
        }
    }

    /// The tensor names and shapes a model with this architecture holds (see the model format).
    public var tensorShapes: [String: [Int]] {
        var shapes: [String: [Int]] = [:]
        for (index, layer) in frontEnd.enumerated() {
            shapes["frontend.\(index).conv.weight"] = [layer.filters, frontEndInputs(index), layer.kernel]
            for name in ["weight", "bias", "running_mean", "running_var"] {
                shapes["frontend.\(index).norm.\(name)"] = [layer.filters]
            }
        }
        for layer in 0..<numLayers {
            let input = layer == 0 ? lstmInputSize : featureSize
            for suffix in bidirectional ? ["", "_reverse"] : [""] {
                shapes["lstm.weight_ih_l\(layer)\(suffix)"] = [4 * hiddenSize, input]
                shapes["lstm.weight_hh_l\(layer)\(suffix)"] = [4 * hiddenSize, hiddenSize]
                shapes["lstm.bias_ih_l\(layer)\(suffix)"] = [4 * hiddenSize]
                shapes["lstm.bias_hh_l\(layer)\(suffix)"] = [4 * hiddenSize]
            }
        }
        if head == .attention {
            shapes["attention.weight"] = [1, featureSize]
            shapes["attention.bias"] = [1]
        }
        var width = featureSize
        for (index, next) in dense.enumerated() {
            shapes["hidden.\(index).weight"] = [next, width]
            shapes["hidden.\(index).bias"] = [next]
            width = next
        }
        shapes["classifier.weight"] = [numClasses, width]
        shapes["classifier.bias"] = [numClasses]
        return shapes
    }
}
