import LSTMKit

/// One epoch of training, as recorded by the trainer.
///
/// `Codable` uses the same snake_case keys as `json`.
public struct EpochRecord: Sendable, Equatable, Codable {
    /// The 1-based epoch number.
    public var epoch: Int
    /// The mean training loss over the epoch's batches.
    public var trainLoss: Double
    /// The fraction of training samples classified correctly during the epoch, in 0...1.
    public var trainAccuracy: Double
    /// The mean loss on the validation split, when there is one.
    public var validationLoss: Double?
    /// The validation accuracy in 0...1, when there is a validation split.
    public var validationAccuracy: Double?
    /// The validation macro-F1 in 0...1, when there is a validation split.
    public var validationMacroF1: Double?
    /// The learning rate used in the epoch (its last step's, when it varies within the epoch).
    public var learningRate: Double
    /// The wall-clock duration of the epoch in seconds.
    public var seconds: Double

    /// Creates a record.
    ///
    /// - Parameters:
    ///   - epoch: The 1-based epoch number.
    ///   - trainLoss: The mean training loss.
    ///   - trainAccuracy: The training accuracy in 0...1.
    ///   - validationLoss: The validation loss, or `nil` without a validation split.
    ///   - validationAccuracy: The validation accuracy, or `nil`.
    ///   - validationMacroF1: The validation macro-F1, or `nil`.
    ///   - learningRate: The learning rate of the epoch.
    ///   - seconds: The epoch's duration in seconds.
    public init(
        epoch: Int, trainLoss: Double, trainAccuracy: Double, validationLoss: Double? = nil,
        validationAccuracy: Double? = nil, validationMacroF1: Double? = nil, learningRate: Double,
        seconds: Double
    ) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.trainAccuracy = trainAccuracy
        self.validationLoss = validationLoss
        self.validationAccuracy = validationAccuracy
        self.validationMacroF1 = validationMacroF1
        self.learningRate = learningRate
        self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey {
        case epoch
        case trainLoss = "train_loss"
        case trainAccuracy = "train_accuracy"
        case validationLoss = "validation_loss"
        case validationAccuracy = "validation_accuracy"
        case validationMacroF1 = "validation_macro_f1"
        case learningRate = "learning_rate"
        case seconds
    }

    /// The record as a JSON object with snake_case keys (`epoch`, `train_loss`, `train_accuracy`,
    /// `validation_loss`, `validation_accuracy`, `validation_macro_f1`, `learning_rate`,
    /// `seconds`). `nil` fields are omitted; a non-finite value (a diverged loss) is `null`,
    /// since JSON has no NaN or infinity.
    public var json: JSONValue {
        var members: [String: JSONValue] = [
            CodingKeys.epoch.rawValue: .number(Double(epoch)),
            CodingKeys.trainLoss.rawValue: Self.number(trainLoss),
            CodingKeys.trainAccuracy.rawValue: Self.number(trainAccuracy),
            CodingKeys.learningRate.rawValue: Self.number(learningRate),
            CodingKeys.seconds.rawValue: Self.number(seconds),
        ]
        if let validationLoss { members[CodingKeys.validationLoss.rawValue] = Self.number(validationLoss) }
        if let validationAccuracy {
            members[CodingKeys.validationAccuracy.rawValue] = Self.number(validationAccuracy)
        }
        if let validationMacroF1 {
            members[CodingKeys.validationMacroF1.rawValue] = Self.number(validationMacroF1)
        }
        return .object(members)
    }

    private static func number(_ value: Double) -> JSONValue {
        value.isFinite ? .number(value) : .null
    }
}

/// The epochs of one training run and how it ended.
public struct TrainingHistory: Sendable, Equatable, Codable {
    /// The epochs in the order they ran.
    public var epochs: [EpochRecord]
    /// The `epoch` number (1-based) of the record whose weights were kept, or `nil` when the
    /// final weights were kept.
    public var bestEpoch: Int?
    /// Whether training stopped before its epoch budget because validation stopped improving.
    public var stoppedEarly: Bool

    /// Creates a history.
    ///
    /// - Parameters:
    ///   - epochs: The epoch records, in order.
    ///   - bestEpoch: The 1-based epoch whose weights were kept, or `nil`.
    ///   - stoppedEarly: Whether early stopping ended the run.
    public init(epochs: [EpochRecord] = [], bestEpoch: Int? = nil, stoppedEarly: Bool = false) {
        self.epochs = epochs
        self.bestEpoch = bestEpoch
        self.stoppedEarly = stoppedEarly
    }

    enum CodingKeys: String, CodingKey {
        case epochs
        case bestEpoch = "best_epoch"
        case stoppedEarly = "stopped_early"
    }

    /// The record of `bestEpoch`, or `nil` when there is none.
    public var bestRecord: EpochRecord? {
        guard let bestEpoch else { return nil }
        return epochs.first { $0.epoch == bestEpoch }
    }

    /// `{"epochs": [<EpochRecord.json>...], "best_epoch": n or null, "stopped_early": bool}`.
    public var json: JSONValue {
        .object([
            CodingKeys.epochs.rawValue: .array(epochs.map(\.json)),
            CodingKeys.bestEpoch.rawValue: bestEpoch.map { .number(Double($0)) } ?? .null,
            CodingKeys.stoppedEarly.rawValue: .bool(stoppedEarly),
        ])
    }
}
