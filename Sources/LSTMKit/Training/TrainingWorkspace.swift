/// Everything one forward and backward pass over a batch needs, allocated once.
///
/// The trainer gives each thread its own workspace and a contiguous slice of the batch; gradients
/// are summed afterwards in a fixed order, so the result depends on the thread count but not on
/// timing. Buffers grow only when a batch needs more samples or timesteps than any before, so a
/// training loop over a fixed dataset allocates nothing after its first step.
///
/// Layout: activations are time-major, row `t·B + b` for timestep `t` of sample `b`, so the input
/// projection of a whole window is one `sgemm` and each recurrent step one more. Samples shorter
/// than `T` are masked: at `t ≥ length[b]` a direction carries its state unchanged (the backward
/// direction therefore starts at `length - 1` from zeros, as PyTorch's packed sequences do), the
/// layer output is zero, and no gradient flows through the padded step.
///
/// `@unchecked Sendable`: a workspace is used by one thread at a time; the trainer hands each
/// one to exactly one task per step and waits for all of them before touching any again.
public final class TrainingWorkspace: @unchecked Sendable {
    struct Direction {
        /// [T·B, 4H] pre-activations, then activations (σi, σf, tanh g, σo).
        var gates: UnsafeMutablePointer<Float>
        /// [T·B, 4H] d loss / d pre-activation.
        var gateGradient: UnsafeMutablePointer<Float>
        /// [(T+1)·B, H] carried hidden states; one zero block before (forward) or after (backward).
        var hidden: UnsafeMutablePointer<Float>
        /// [(T+1)·B, H] carried cell states, same blocks.
        var cell: UnsafeMutablePointer<Float>
        /// [T·B, H] tanh of the new cell state.
        var tanhCell: UnsafeMutablePointer<Float>
        /// [T·B, In+H] row `t·B + b` = [x_t | h_prev] of sample `b`: the layer input next to the
        /// hidden state the step at `t` started from, so both weight gradients are one product
        /// `dGatesᵀ·Z` over all rows, and a layer with few inputs multiplies both in one per-step product.
        var combined: UnsafeMutablePointer<Float>
        /// [In+H, 4H] `[W_ih | W_hh]ᵀ`: `W_ihᵀ` rows, then `W_hhᵀ` rows, refreshed by each forward
        /// pass (BLIS runs a product with a transposed right operand at a third of the speed).
        var stackedTransposed: UnsafeMutablePointer<Float>
    }

    struct Layer {
        /// [T·B, H·D] outputs (zero at padded steps); backward halves at column H.
        var output: UnsafeMutablePointer<Float>
        /// [T·B, H·D] d loss / d output.
        var outputGradient: UnsafeMutablePointer<Float>
        /// [T·B, In] the layer's input after dropout, and the dropout scale (0 or 1/(1-p)).
        var dropped: UnsafeMutablePointer<Float>?
        var mask: UnsafeMutablePointer<Float>?
        var directions: [Direction]
    }

    /// One front-end layer: the causal convolution, its batch normalisation and ReLU.
    struct Convolution {
        /// [T·B, k·Cin] the receptive field of every row, tap-major (`tapColumns`).
        var columns: UnsafeMutablePointer<Float>
        /// [F, k·Cin] the layer's weights `[F, Cin, k]` reordered tap-major, `taps[f, j·Cin + c] =
        /// W[f, c, j]` (refreshed by every forward pass; the backward pass reuses them).
        var taps: UnsafeMutablePointer<Float>
        /// [T·B, F] the convolution's output, then normalised in place: `x̂ = (z - μ)/√(σ² + ε)`
        /// (zero at padded rows).
        var normalized: UnsafeMutablePointer<Float>
        /// [T·B, F] `relu(γ·x̂ + β)` (zero at padded rows): the next layer's input.
        var output: UnsafeMutablePointer<Float>
        /// [T·B, F] d loss / d output, then d loss / d z in place.
        var gradient: UnsafeMutablePointer<Float>
        /// [F] the statistics the last forward pass normalised with (the batch's biased variance
        /// in training, the running ones otherwise) and `1/√(σ² + ε)`.
        var mean: UnsafeMutablePointer<Float>
        var variance: UnsafeMutablePointer<Float>
        var inverseDeviation: UnsafeMutablePointer<Float>
    }

    struct Stage {
        /// [B, width] input of dense layer k after dropout, its dropout scale and its gradient.
        var input: UnsafeMutablePointer<Float>
        var mask: UnsafeMutablePointer<Float>
        var gradient: UnsafeMutablePointer<Float>
        /// [B, width] pre-ReLU values for k ≥ 1 (the previous dense layer's output).
        var preActivation: UnsafeMutablePointer<Float>?
    }

    /// The parameter layout this workspace computes with.
    public let layout: ParameterLayout
    /// Samples and timesteps the buffers currently hold room for.
    public private(set) var batchCapacity = 0
    public private(set) var timestepCapacity = 0
    /// The current batch's size `B` and timesteps `T` (set by `prepare`).
    public private(set) var batchSize = 0
    public private(set) var timesteps = 0

    /// [T, B, C] time-major input of the current batch (scaled), written by the caller.
    public private(set) var input: UnsafeMutablePointer<Float>
    /// [T, B, C] d loss / d input, filled by `backward(…, inputGradient: true)`.
    public private(set) var inputGradient: UnsafeMutablePointer<Float>
    /// [B] valid timesteps per sample (1...T), written by the caller.
    public private(set) var lengths: UnsafeMutablePointer<Int>
    /// [B] class index per sample, written by the caller.
    public private(set) var labels: UnsafeMutablePointer<Int>
    /// [B, K] logits and softmax probabilities of the last forward pass.
    public private(set) var logits: UnsafeMutablePointer<Float>
    public private(set) var probabilities: UnsafeMutablePointer<Float>
    /// Whether the last forward pass applied dropout.
    public internal(set) var trainingMode = false

    var inputMask: UnsafeMutablePointer<Float>
    var inputDropped: UnsafeMutablePointer<Float>
    var convolutions: [Convolution] = []
    /// [widest F·Cin·k] d loss / d `taps` of one front-end layer, before it is added to the
    /// weight gradient in PyTorch's `[F, Cin, k]` order.
    var tapGradient: UnsafeMutablePointer<Float>
    /// Valid timesteps of the last forward pass, and whether it normalised with batch statistics.
    var validRows = 0
    /// [2·widest F] Double sums for the batch statistics.
    var statisticsScratch: UnsafeMutablePointer<Double>
    /// [3·widest F] one timestep's Float partial sums (added to `statisticsScratch` per
    /// timestep), then per-filter coefficients.
    var partialScratch: UnsafeMutablePointer<Float>
    var usedBatchStatistics = false
    var layers: [Layer] = []
    var stages: [Stage] = []
    var features: UnsafeMutablePointer<Float>
    var featureGradient: UnsafeMutablePointer<Float>
    var attention: UnsafeMutablePointer<Float>
    var attentionGradient: UnsafeMutablePointer<Float>
    var logitGradient: UnsafeMutablePointer<Float>
    var hiddenGradient: UnsafeMutablePointer<Float>
    var nextHiddenGradient: UnsafeMutablePointer<Float>
    var nextCellGradient: UnsafeMutablePointer<Float>
    var bias: UnsafeMutablePointer<Float>
    /// [4H, In+H] `dGatesᵀ·Z` of one direction, before it is added to the two weight gradients.
    var weightGradientScratch: UnsafeMutablePointer<Float>
    private var allocations: [UnsafeMutableRawPointer] = []

    /// Creates a workspace with room for `batchCapacity` samples of `timestepCapacity` steps.
    public init(layout: ParameterLayout, batchCapacity: Int, timestepCapacity: Int) {
        self.layout = layout
        let dummy = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        (input, inputGradient, logits, probabilities, inputMask, inputDropped) = (dummy, dummy, dummy, dummy, dummy, dummy)
        (features, featureGradient, attention, attentionGradient, logitGradient) = (dummy, dummy, dummy, dummy, dummy)
        (hiddenGradient, nextHiddenGradient, nextCellGradient, bias) = (dummy, dummy, dummy, dummy)
        weightGradientScratch = dummy
        (tapGradient, partialScratch) = (dummy, dummy)
        let dummyInts = UnsafeMutablePointer<Int>.allocate(capacity: 1)
        (lengths, labels) = (dummyInts, dummyInts)
        let dummyDoubles = UnsafeMutablePointer<Double>.allocate(capacity: 1)
        statisticsScratch = dummyDoubles
        allocations = [UnsafeMutableRawPointer(dummy), UnsafeMutableRawPointer(dummyInts), UnsafeMutableRawPointer(dummyDoubles)]
        allocate(batch: max(1, batchCapacity), timesteps: max(1, timestepCapacity))
    }

    deinit {
        for allocation in allocations { allocation.deallocate() }
    }

    /// Sets the batch shape, growing the buffers if needed; then write `input`, `lengths`, `labels`.
    public func prepare(batchSize: Int, timesteps: Int) {
        precondition(batchSize >= 1 && timesteps >= 1, "a batch needs at least one sample and one timestep")
        if batchSize > batchCapacity || timesteps > timestepCapacity {
            allocate(batch: max(batchSize, batchCapacity), timesteps: max(timesteps, timestepCapacity))
        }
        self.batchSize = batchSize
        self.timesteps = timesteps
    }

    private func allocate(batch: Int, timesteps: Int) {
        for allocation in allocations { allocation.deallocate() }
        allocations = []
        let arch = layout.architecture
        let h = arch.hiddenSize, d = arch.directions, c = arch.inputSize, k = arch.numClasses
        let rows = batch * timesteps
        func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 16) * 4, alignment: 64)
            allocations.append(raw)
            let pointer = raw.bindMemory(to: Float.self, capacity: max(count, 16))
            pointer.initialize(repeating: 0, count: max(count, 16))
            return pointer
        }
        func ints(_ count: Int) -> UnsafeMutablePointer<Int> {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 8, alignment: 64)
            allocations.append(raw)
            let pointer = raw.bindMemory(to: Int.self, capacity: max(count, 1))
            pointer.initialize(repeating: 0, count: max(count, 1))
            return pointer
        }
        input = floats(rows * c)
        inputGradient = floats(rows * c)
        inputMask = floats(arch.dropout.input > 0 ? rows * c : 0)
        inputDropped = floats(arch.dropout.input > 0 ? rows * c : 0)
        lengths = ints(batch)
        labels = ints(batch)
        convolutions = layout.frontEnd.map { layer in
            Convolution(
                columns: floats(rows * layer.inputs * layer.kernel),
                taps: floats(layer.filters * layer.inputs * layer.kernel), normalized: floats(rows * layer.filters),
                output: floats(rows * layer.filters), gradient: floats(rows * layer.filters),
                mean: floats(layer.filters), variance: floats(layer.filters), inverseDeviation: floats(layer.filters))
        }
        tapGradient = floats(layout.frontEnd.map { $0.filters * $0.inputs * $0.kernel }.max() ?? 0)
        let widest = layout.frontEnd.map(\.filters).max() ?? 0
        partialScratch = floats(3 * widest)
        let doubles = UnsafeMutableRawPointer.allocate(byteCount: max(2 * widest, 1) * 8, alignment: 64)
        allocations.append(doubles)
        statisticsScratch = doubles.bindMemory(to: Double.self, capacity: max(2 * widest, 1))
        statisticsScratch.initialize(repeating: 0, count: max(2 * widest, 1))
        layers = (0..<arch.numLayers).map { layer in
            let inputs = layer == 0 ? arch.lstmInputSize : h * d
            let dropout = layer > 0 && arch.dropout.betweenLayers > 0
            return Layer(
                output: floats(rows * h * d), outputGradient: floats(rows * h * d),
                dropped: dropout ? floats(rows * inputs) : nil, mask: dropout ? floats(rows * inputs) : nil,
                directions: (0..<d).map { _ in
                    Direction(
                        gates: floats(rows * 4 * h), gateGradient: floats(rows * 4 * h),
                        hidden: floats((timesteps + 1) * batch * h), cell: floats((timesteps + 1) * batch * h),
                        tanhCell: floats(rows * h), combined: floats(rows * (inputs + h)),
                        stackedTransposed: floats((inputs + h) * 4 * h))
                })
        }
        let widths = [arch.featureSize] + arch.dense
        stages = widths.enumerated().map { index, width in
            Stage(
                input: floats(batch * width), mask: floats(batch * width), gradient: floats(batch * width),
                preActivation: index > 0 ? floats(batch * width) : nil)
        }
        features = floats(batch * h * d)
        featureGradient = floats(batch * h * d)
        attention = floats(rows)
        attentionGradient = floats(rows)
        logits = floats(batch * k)
        probabilities = floats(batch * k)
        logitGradient = floats(batch * k)
        hiddenGradient = floats(batch * h)
        nextHiddenGradient = floats(batch * h)
        nextCellGradient = floats(batch * h)
        bias = floats(4 * h)
        weightGradientScratch = floats(4 * h * (max(arch.lstmInputSize, h * d) + h))
        batchCapacity = batch
        timestepCapacity = timesteps
    }

    /// The batch statistics front-end layer `layer` normalised with in the last forward pass:
    /// valid timesteps `count`, per-filter mean and biased variance. Nil when that pass ran in
    /// inference mode (running statistics) or the batch was empty.
    func batchStatistics(layer: Int) -> (count: Int, mean: UnsafePointer<Float>, variance: UnsafePointer<Float>)? {
        guard usedBatchStatistics, validRows > 0, convolutions.indices.contains(layer) else { return nil }
        return (validRows, UnsafePointer(convolutions[layer].mean), UnsafePointer(convolutions[layer].variance))
    }

    /// Fills `mask` with inverted-dropout scales: 0 with probability `p`, else `1/(1-p)`, and
    /// `dropped = source · mask`.
    func applyDropout(
        _ dropped: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>, source: UnsafePointer<Float>,
        count: Int, probability p: Float, generator: inout SplitMix64
    ) {
        let keep = 1 / (1 - p)
        let threshold = UInt64(Double(p) * 0x1p53)
        for index in 0..<count {
            let scale: Float = (generator.next() >> 11) < threshold ? 0 : keep
            mask[index] = scale
            dropped[index] = source[index] * scale
        }
    }
}
