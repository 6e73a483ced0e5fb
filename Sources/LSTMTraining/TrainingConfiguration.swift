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
    /// The convolutional front end before the LSTMs (none by default).
    public var frontEnd: [Architecture.ConvolutionLayer] = []
    /// Dropout on the input, between LSTM layers, and before each head layer.
    public var dropout = Architecture.Dropout(input: 0, betweenLayers: 0.2, head: 0.2)

    // Data.
    /// Normalisation before the scaler, stored in the model: `global` (the scaler alone) or
    /// `perSample` (each sample/window z-normalised per channel on its own; the model's scaler is
    /// then the identity and `scaler` is not used).
    public var normalize: Preprocessing.Normalization = .global
    /// Raw timesteps averaged into one model step, stored in the model: `K ≥ 1`, or 0 for auto
    /// (`Preprocessing.autoFactor`: the longest training sample becomes ≤ 200 steps).
    public var downsample = 1
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
    /// Weight averaging: the model gets the mean of the weights after each of the last `swa`
    /// epochs run (fewer when fewer ran) instead of one epoch's (`keep` then does not apply);
    /// 0 or 1 (the default): off. No inference cost.
    public var swa = 0
    /// Ensemble members `N` in 1...16: N models trained with different seeds
    /// (`memberSeed(_:member:)`), stored in one file, whose probabilities are averaged; 1 (the
    /// default): a single model. Inference costs N times as much.
    public var ensemble = 1
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

    /// The seed of ensemble member `member`: `seed + member · 0x9E3779B97F4A7C15` (mod 2⁶⁴, the
    /// golden-ratio increment of `SplitMix64`), so member 0 is the plain model of `seed`.
    public static func memberSeed(_ seed: UInt64, member: Int) -> UInt64 {
        seed &+ UInt64(member) &* 0x9E37_79B9_7F4A_7C15
    }

    /// Checks every value: each setting's rule in ``table``, then the components' own checks.
    /// - Throws: `TrainingError` naming the setting by its recipe key, the allowed range and the
    ///   value given, e.g. `learning_rate must be > 0, got -1`.
    public func validate() throws {
        if let (key, message) = Self.table.problems(in: self).first {
            throw TrainingError("\(key) \(message)")
        }
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

    /// The preprocessing this recipe writes into a model trained on data whose longest sample
    /// has `longest` raw timesteps (`downsample` auto resolved).
    public func preprocessing(longest: Int) -> Preprocessing {
        Preprocessing(
            normalization: normalize, downsample: downsample == 0 ? Preprocessing.autoFactor(longest: longest) : downsample)
    }

    /// The network this recipe trains for `inputSize` channels and `classes` classes.
    public func architecture(inputSize: Int, classes: Int) -> Architecture {
        Architecture(
            inputSize: inputSize, hiddenSize: hiddenSize, numLayers: layers, bidirectional: bidirectional,
            head: head, dense: dense, numClasses: classes, dropout: dropout, frontEnd: frontEnd)
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
