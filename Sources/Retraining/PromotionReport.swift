import LSTMTraining

/// The verdict of the promotion gate with the evidence behind it: both models' scores on the same
/// validation windows and the rules applied. `Codable` (snake_case keys) so it can be stored
/// beside the candidate and printed by `lstmctl retrain --json`.
public struct PromotionReport: Sendable, Equatable, Codable {
    /// Promote the candidate or keep the current model.
    public enum Decision: String, Sendable, Equatable, Codable {
        case promote
        case reject
    }

    /// A rule of the gate.
    public enum Rule: String, Sendable, Equatable, Codable, CaseIterable {
        /// Every class has at least `minPerClass` validation windows.
        case minPerClass = "min_per_class"
        /// No class's recall drops by more than `maxRecallDrop`.
        case recallDrop = "recall_drop"
        /// The candidate's macro-F1 is at least the current's plus `margin`.
        case macroF1 = "macro_f1"
    }

    /// One model's scores on the validation windows.
    public struct Score: Sendable, Equatable, Codable {
        /// The fraction of windows predicted correctly.
        public var accuracy: Double
        /// The mean recall over the classes present.
        public var balancedAccuracy: Double
        /// The mean F1 over the classes present in labels or predictions.
        public var macroF1: Double
        /// Per class, in class order.
        public var recall: [Double]
        /// Per class, in class order.
        public var f1: [Double]
        /// `K × K`: rows true classes, columns predicted.
        public var confusionMatrix: [[Int]]

        /// The scores of `metrics`.
        public init(_ metrics: ClassificationMetrics) {
            accuracy = metrics.accuracy
            balancedAccuracy = metrics.balancedAccuracy
            macroF1 = metrics.macroF1
            recall = metrics.recall
            f1 = metrics.f1
            confusionMatrix = metrics.confusionMatrix
        }

        enum CodingKeys: String, CodingKey {
            case accuracy, recall, f1
            case balancedAccuracy = "balanced_accuracy"
            case macroF1 = "macro_f1"
            case confusionMatrix = "confusion_matrix"
        }
    }

    /// The verdict.
    public var decision: Decision
    /// One line for people: the rules that failed with their numbers, or why the candidate passed.
    public var reason: String
    /// The rules that failed; empty when promoted.
    public var failedRules: [Rule]
    /// The class names, in the models' order.
    public var classes: [String]
    /// Validation windows per true class, in class order.
    public var validationCounts: [Int]
    /// The candidate's scores.
    public var candidate: Score
    /// The current model's scores.
    public var current: Score
    /// The gate that decided.
    public var gate: PromotionGate

    /// Whether the candidate is promoted.
    public var promoted: Bool { decision == .promote }

    /// The number of validation windows.
    public var validationWindows: Int { validationCounts.reduce(0, +) }

    enum CodingKeys: String, CodingKey {
        case decision, reason, classes, candidate, current, gate
        case failedRules = "failed_rules"
        case validationCounts = "validation_counts"
    }
}
