import LSTMKit

/// Everything that decides how a model is trained: the recipe, as data.
///
/// The defaults are the recipe `lstmctl train` uses with no flags; the README says how they were
/// chosen (stratified cross-validation on training data only). Loaded from flags and from a
/// `key = value` file (see `TrainingConfiguration+File.swift`).
public struct TrainingConfiguration: Sendable, Equatable {
    // Architecture.
    /// Hidden units per direction `H`.
    public var hiddenSize = 64
    /// Stacked LSTM layers.
    public var layers = 2
    /// Bidirectional layers.
    public var bidirectional = true
    /// Pooling head.
    public var head: Architecture.Head = .attention
    /// Dense ReLU layers between the head and the class layer.
    public var dense: [Int] = []
    /// Dropout on the input, between LSTM layers, and before each head layer.
    public var dropout = Architecture.Dropout(input: 0, betweenLayers: 0.2, head: 0.2)

    // Data.
    /// Per-channel scaling fitted on the training split.
    public var scaler: Scaler.Kind = .zscore
    /// Class balancing of the training split.
    public var balancing: BalancingStrategy = .none
    /// k for SMOTE.
    public var smoteNeighbours = 5
    /// On-the-fly augmentation.
    public var augmentation = Augmentation(
        jitterProbability: 0.5, jitterSigma: 0.03, scalingProbability: 0.5, scalingSigma: 0.1)
    /// Fraction of the training data held out (stratified) for validation, early stopping and
    /// the schedule; 0 (the default: measured better on small data sets) trains on everything
    /// and monitors the training loss.
    public var validationFraction = 0.0

    // Optimisation.
    /// Optimiser, learning rate, L1/L2, clipping.
    public var optimizer = Optimizer.Settings(kind: .adam, learningRate: 3e-3, clipNorm: 1)
    /// Learning-rate schedule.
    public var schedule: LearningRateSchedule = .plateau(factor: 0.5, patience: 10, minimum: 1e-5)
    /// Maximum epochs.
    public var epochs = 100
    /// Samples per optimiser step.
    public var batchSize = 16
    /// Epochs without improvement of the monitored quantity before stopping (0, the default,
    /// disables early stopping); `keep` decides which epoch's weights the model gets.
    public var patience = 0
    /// Which weights the model keeps: `best` (the epoch with the lowest monitored loss) or `last`.
    /// `auto` (default): `best` when there is validation data, `last` otherwise (the minimum of a
    /// training loss measured under augmentation and dropout is mostly noise).
    public var keep: KeepPolicy = .auto
    /// Seed for initialisation, splits, shuffling, balancing, augmentation and dropout.
    public var seed: UInt64 = 1
    /// Threads (batch shards); the result depends on it, never on timing.
    public var threads = 2

    // Streaming defaults written into the model.
    /// Window length `W`; 0 means the training data's longest sample.
    public var window = 0
    /// Hop; 0 means `W / 10` (at least 1).
    public var hop = 0

    /// The recipe's defaults.
    public init() {}

    /// Checks every value.
    /// - Throws: `TrainingError` naming the setting by its recipe key, the allowed range and the
    ///   value given, e.g. `learning_rate must be > 0, got -1`.
    public func validate() throws {
        func check(_ key: String, _ ok: Bool, _ rule: String) throws {
            guard !ok else { return }
            var shown = value(of: key)
            if shown.hasSuffix(".0") { shown.removeLast(2) }
            throw TrainingError("\(key) must be \(rule), got \(shown)")
        }
        func probability(_ value: Float) -> Bool { value >= 0 && value <= 1 }
        func fraction(_ value: Float) -> Bool { value >= 0 && value < 1 }
        func nonNegative(_ value: Float) -> Bool { value >= 0 && value.isFinite }
        try check("hidden_size", (1...8192).contains(hiddenSize), "in 1...8192")
        try check("layers", (1...4).contains(layers), "in 1...4")
        try check("dense", dense.allSatisfy { (1...65_536).contains($0) }, "widths in 1...65536 (or none)")
        try check("input_dropout", fraction(dropout.input), "in [0, 1)")
        try check("layer_dropout", fraction(dropout.betweenLayers), "in [0, 1)")
        try check("head_dropout", fraction(dropout.head), "in [0, 1)")
        try check("smote_neighbours", smoteNeighbours >= 1, "≥ 1")
        try check("jitter", probability(augmentation.jitterProbability), "in [0, 1]")
        try check("jitter_sigma", nonNegative(augmentation.jitterSigma), "≥ 0")
        try check("scaling", probability(augmentation.scalingProbability), "in [0, 1]")
        try check("scaling_sigma", nonNegative(augmentation.scalingSigma), "≥ 0")
        try check("time_warp", probability(augmentation.timeWarpProbability), "in [0, 1]")
        try check("time_warp_sigma", nonNegative(augmentation.timeWarpSigma), "≥ 0")
        try check("time_warp_knots", augmentation.timeWarpKnots >= 1, "≥ 1")
        try check("slice", probability(augmentation.sliceProbability), "in [0, 1]")
        try check("slice_ratio", augmentation.sliceRatio > 0 && augmentation.sliceRatio <= 1, "in (0, 1]")
        try check("validation_fraction", validationFraction >= 0 && validationFraction < 1, "in [0, 1)")
        try check("learning_rate", optimizer.learningRate > 0 && optimizer.learningRate.isFinite, "> 0")
        try check("beta1", fraction(optimizer.beta1), "in [0, 1)")
        try check("beta2", fraction(optimizer.beta2), "in [0, 1)")
        try check("epsilon", optimizer.epsilon > 0 && optimizer.epsilon.isFinite, "> 0")
        try check("weight_decay", nonNegative(optimizer.weightDecay), "≥ 0")
        try check("momentum", fraction(optimizer.momentum), "in [0, 1)")
        try check("rho", fraction(optimizer.rho), "in [0, 1)")
        try check("l1", nonNegative(optimizer.l1), "≥ 0")
        try check("l2", nonNegative(optimizer.l2), "≥ 0")
        try check("clip_norm", nonNegative(optimizer.clipNorm), "≥ 0 (0: off)")
        try check("epochs", epochs >= 1, "≥ 1")
        try check("batch_size", batchSize >= 1, "≥ 1")
        try check("patience", patience >= 0, "≥ 0 (0: off)")
        try check("threads", (1...256).contains(threads), "in 1...256")
        try check("window", window >= 0, "≥ 0 (0: the longest training sample)")
        try check("hop", hop >= 0, "≥ 0 (0: window / 10)")
        // The components' own checks, which the rules above mirror by recipe key.
        do {
            try optimizer.validate()
            try augmentation.validate()
        } catch {
            throw TrainingError("\(error)")
        }
        try schedule.validate()
        do {
            try architecture(inputSize: 1, classes: 2).validate()
        } catch let error as ModelError {
            throw TrainingError(error.message)
        }
    }

    /// The network this recipe trains for `inputSize` channels and `classes` classes.
    public func architecture(inputSize: Int, classes: Int) -> Architecture {
        Architecture(
            inputSize: inputSize, hiddenSize: hiddenSize, numLayers: layers, bidirectional: bidirectional,
            head: head, dense: dense, numClasses: classes, dropout: dropout)
    }
}

/// Which epoch's weights a training run keeps.
public enum KeepPolicy: String, Sendable, Equatable, CaseIterable {
    case auto, best, last
}

/// A training problem the caller can fix: bad settings or data.
public struct TrainingError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
