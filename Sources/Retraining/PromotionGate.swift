import LSTMTraining

/// Decides whether a retrained candidate replaces the current model, from both models'
/// predictions on the same validation windows.
///
/// The candidate is promoted only if all three rules hold:
/// 1. every class has at least `minPerClass` validation windows (too few, and the scores say
///    nothing);
/// 2. no class's recall drops by more than `maxRecallDrop` (a better average must not hide a class
///    the candidate forgot);
/// 3. candidate macro-F1 ≥ current macro-F1 + `margin`.
///
/// Comparisons allow 1e-9 of rounding. Metrics are `LSTMTraining.ClassificationMetrics`.
public struct PromotionGate: Sendable, Equatable, Codable {
    /// The macro-F1 the candidate must gain. Default 0.01.
    public var margin: Double
    /// The largest recall drop allowed for any class. Default 0.05.
    public var maxRecallDrop: Double
    /// The fewest validation windows any class may have. Default 10.
    public var minPerClass: Int

    /// Creates a gate.
    ///
    /// - Parameters:
    ///   - margin: The required macro-F1 gain; default 0.01 (`retrain_promote_margin`).
    ///   - maxRecallDrop: The largest recall drop per class; default 0.05 (`retrain_max_recall_drop`).
    ///   - minPerClass: The fewest validation windows per class; default 10
    ///     (`retrain_min_validation_per_class`).
    /// - Precondition: `maxRecallDrop ≥ 0` and `minPerClass ≥ 0`.
    public init(margin: Double = 0.01, maxRecallDrop: Double = 0.05, minPerClass: Int = 10) {
        precondition(maxRecallDrop >= 0 && minPerClass >= 0, "PromotionGate: negative maxRecallDrop or minPerClass")
        self.margin = margin
        self.maxRecallDrop = maxRecallDrop
        self.minPerClass = minPerClass
    }

    /// Scores both models and decides.
    ///
    /// - Parameters:
    ///   - labels: The true class index of each validation window.
    ///   - candidate: The candidate's predicted class index for each window.
    ///   - current: The current model's predicted class index for each window.
    ///   - classNames: The class names; every index lies in `0..<classNames.count`.
    /// - Returns: The report, always with a decision and a reason.
    /// - Precondition: equal counts and indices in range.
    public func evaluate(labels: [Int], candidate: [Int], current: [Int], classNames: [String]) -> PromotionReport {
        let candidateMetrics = ClassificationMetrics(predictions: candidate, labels: labels, classNames: classNames)
        let currentMetrics = ClassificationMetrics(predictions: current, labels: labels, classNames: classNames)
        let counts = candidateMetrics.support
        let tolerance = 1e-9
        var failed: [PromotionReport.Rule] = []
        var problems: [String] = []
        var passes: [String] = []

        let short = classNames.indices.filter { counts[$0] < minPerClass }
        if short.isEmpty {
            let fewest = classNames.indices.min { counts[$0] < counts[$1] }
            passes.append(
                "every class has ≥ \(minPerClass) validation windows"
                    + (fewest.map { " (fewest: \(classNames[$0]) \(counts[$0]))" } ?? ""))
        } else {
            failed.append(.minPerClass)
            problems.append(short.map { "\(classNames[$0]) has \(counts[$0]) validation windows (< \(minPerClass))" }
                .joined(separator: ", "))
        }

        let drops = classNames.indices.map { currentMetrics.recall[$0] - candidateMetrics.recall[$0] }
        let dropped = classNames.indices.filter { drops[$0] > maxRecallDrop + tolerance }
        if dropped.isEmpty {
            let largest = classNames.indices.max { drops[$0] < drops[$1] }
            passes.append(
                "largest recall drop "
                    + (largest.map { "\(Self.decimal(max(0, drops[$0]))) (\(classNames[$0]))" } ?? "0")
                    + " ≤ \(Self.decimal(maxRecallDrop))")
        } else {
            failed.append(.recallDrop)
            problems.append(dropped.map {
                "recall of \(classNames[$0]) drops \(Self.decimal(drops[$0])) "
                    + "(\(Self.decimal(currentMetrics.recall[$0])) → \(Self.decimal(candidateMetrics.recall[$0])))"
                    + " > \(Self.decimal(maxRecallDrop))"
            }.joined(separator: ", "))
        }

        let comparison = "\(Self.decimal(candidateMetrics.macroF1)) vs current \(Self.decimal(currentMetrics.macroF1))"
            + " + margin \(Self.decimal(margin))"
        if candidateMetrics.macroF1 >= currentMetrics.macroF1 + margin - tolerance {
            passes.append("macro-F1 \(comparison)")
        } else {
            failed.append(.macroF1)
            problems.append("macro-F1 \(comparison) is not enough")
        }

        let decision: PromotionReport.Decision = failed.isEmpty ? .promote : .reject
        let reason = failed.isEmpty
            ? "promoted: " + passes.reversed().joined(separator: "; ")
            : "rejected: " + problems.joined(separator: "; ")
        return PromotionReport(
            decision: decision, reason: reason, failedRules: failed, classes: classNames, validationCounts: counts,
            candidate: .init(candidateMetrics), current: .init(currentMetrics), gate: self)
    }

    /// `value` with four decimals.
    static func decimal(_ value: Double) -> String {
        let scaled = (value * 10_000).rounded()
        let sign = scaled < 0 ? "-" : ""
        let magnitude = Int(abs(scaled))
        let fraction = String(magnitude % 10_000)
        return sign + "\(magnitude / 10_000)." + String(repeating: "0", count: 4 - fraction.count) + fraction
    }

    enum CodingKeys: String, CodingKey {
        case margin
        case maxRecallDrop = "max_recall_drop"
        case minPerClass = "min_per_class"
    }
}
