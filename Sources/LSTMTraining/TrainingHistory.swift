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
    /// How the kept weights were chosen.
    public enum Selection: String, Sendable, Equatable, Codable {
        /// The epoch with the lowest validation loss.
        case bestValidationLoss = "best_validation_loss"
        /// The epoch with the lowest training loss (`keep = best` without validation data).
        case bestTrainingLoss = "best_training_loss"
        /// The last epoch: asked for (`keep = last`), or no validation data to choose by.
        case last
        /// The mean of the last `averagedEpochs` epochs' weights (`swa`).
        case averaged
    }

    /// The epochs in the order they ran.
    public var epochs: [EpochRecord]
    /// The `epoch` number (1-based) of the record whose weights were kept (the last epoch's
    /// when `selection` is `.last`), or `nil` before training ends.
    public var bestEpoch: Int?
    /// Whether training stopped before its epoch budget because validation stopped improving.
    public var stoppedEarly: Bool
    /// How `bestEpoch` was chosen.
    public var selection: Selection
    /// With `selection == .averaged`: how many epochs' weights were averaged (the last ones).
    public var averagedEpochs: Int?

    /// Creates a history.
    ///
    /// - Parameters:
    ///   - epochs: The epoch records, in order.
    ///   - bestEpoch: The 1-based epoch whose weights were kept, or `nil`.
    ///   - stoppedEarly: Whether early stopping ended the run.
    ///   - selection: How the kept epoch was chosen.
    public init(
        epochs: [EpochRecord] = [], bestEpoch: Int? = nil, stoppedEarly: Bool = false,
        selection: Selection = .bestValidationLoss
    ) {
        self.epochs = epochs
        self.bestEpoch = bestEpoch
        self.stoppedEarly = stoppedEarly
        self.selection = selection
    }

    enum CodingKeys: String, CodingKey {
        case epochs
        case bestEpoch = "best_epoch"
        case stoppedEarly = "stopped_early"
        case selection
        case averagedEpochs = "averaged_epochs"
    }

    /// Decodes a history; `selection` defaults to `best_validation_loss` when absent.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        epochs = try container.decode([EpochRecord].self, forKey: .epochs)
        bestEpoch = try container.decodeIfPresent(Int.self, forKey: .bestEpoch)
        stoppedEarly = try container.decode(Bool.self, forKey: .stoppedEarly)
        selection = try container.decodeIfPresent(Selection.self, forKey: .selection) ?? .bestValidationLoss
        averagedEpochs = try container.decodeIfPresent(Int.self, forKey: .averagedEpochs)
    }

    /// The record of `bestEpoch`, or `nil` when there is none.
    public var bestRecord: EpochRecord? {
        guard let bestEpoch else { return nil }
        return epochs.first { $0.epoch == bestEpoch }
    }

    /// Whether the epochs were scored on validation data.
    public var hasValidation: Bool { epochs.contains { $0.validationLoss != nil } }

    /// The epoch a chart should mark as best: `bestEpoch` when one was chosen by a loss, `nil`
    /// when the last epoch was kept (nothing was picked).
    public var markedEpoch: Int? { selection == .last || selection == .averaged ? nil : bestEpoch }

    /// Which epoch's weights were kept and why, for people: `best epoch 37 of 100 (lowest
    /// validation loss)`, `last epoch (no validation data to pick a best one)`, ….
    public var keptSummary: String {
        let total = epochs.count
        switch selection {
        case .bestValidationLoss:
            return "best epoch \(bestEpoch.map(String.init) ?? "–") of \(total) (lowest validation loss)"
        case .bestTrainingLoss:
            return "best epoch \(bestEpoch.map(String.init) ?? "–") of \(total) (lowest training loss; no validation data)"
        case .averaged:
            let count = averagedEpochs ?? 1
            return "mean of the weights of the last \(count) epochs (\(total - count + 1)–\(total) of \(total), swa)"
        case .last:
            return hasValidation
                ? "last epoch \(total) of \(total) (keep = last)"
                : "last epoch (no validation data to pick a best one), \(total) epoch\(total == 1 ? "" : "s") run"
        }
    }

    /// `{"epochs": [<EpochRecord.json>...], "best_epoch": n or null, "stopped_early": bool,
    /// "selection": "best_validation_loss" | "best_training_loss" | "last"}`.
    public var json: JSONValue {
        .object([
            CodingKeys.epochs.rawValue: .array(epochs.map(\.json)),
            CodingKeys.bestEpoch.rawValue: bestEpoch.map { .number(Double($0)) } ?? .null,
            CodingKeys.stoppedEarly.rawValue: .bool(stoppedEarly),
            CodingKeys.selection.rawValue: .string(selection.rawValue),
        ].merging(averagedEpochs.map { [CodingKeys.averagedEpochs.rawValue: JSONValue.number(Double($0))] } ?? [:]) { $1 })
    }
}
