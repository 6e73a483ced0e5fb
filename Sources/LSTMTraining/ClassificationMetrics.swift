import Foundation
import LSTMKit

/// Multi-class metrics from predicted and true class indices. Rows of the confusion matrix are
/// true classes, columns predicted.
///
/// The definitions follow scikit-learn with `zero_division=0`: a ratio whose denominator is zero
/// is 0, never NaN, so every value here is finite and safe to write as JSON or plot.
public struct ClassificationMetrics: Sendable, Equatable {
    /// The class names; index `k` names class `k`.
    public let classNames: [String]
    /// `K × K` counts: `confusionMatrix[t][p]` is the number of samples of true class `t` that
    /// were predicted as class `p`.
    public let confusionMatrix: [[Int]]
    /// The number of samples of each true class (the row sums of the confusion matrix).
    public let support: [Int]
    /// Per class: correct predictions of the class over all predictions of it; 0 when the class
    /// was never predicted (scikit-learn `zero_division=0`).
    public let precision: [Double]
    /// Per class: correct predictions of the class over its support; 0 when its support is 0.
    public let recall: [Double]
    /// Per class: the harmonic mean of precision and recall, `2·tp / (support + predicted)`;
    /// 0 when the class neither occurs nor is predicted.
    public let f1: [Double]
    /// The fraction of samples predicted correctly; 0 when there are no samples.
    public let accuracy: Double
    /// The mean recall over the classes with support > 0 (scikit-learn
    /// `balanced_accuracy_score`); 0 when there are no samples.
    public let balancedAccuracy: Double
    /// The mean F1 over the classes that occur in the labels or the predictions (scikit-learn
    /// `f1_score(average="macro", labels=<union>)`); 0 when there are no samples.
    public let macroF1: Double

    /// Computes the metrics.
    ///
    /// - Parameters:
    ///   - predictions: The predicted class index of each sample.
    ///   - labels: The true class index of each sample, as many as `predictions`.
    ///   - classNames: The class names; every index must lie in `0..<classNames.count`.
    /// - Precondition: `predictions` and `labels` have equal counts and all indices are in range.
    public init(predictions: [Int], labels: [Int], classNames: [String]) {
        precondition(
            predictions.count == labels.count,
            "ClassificationMetrics: \(predictions.count) predictions for \(labels.count) labels")
        let classCount = classNames.count
        var matrix = [[Int]](repeating: [Int](repeating: 0, count: classCount), count: classCount)
        for (predicted, truth) in zip(predictions, labels) {
            precondition(
                (0..<classCount).contains(truth),
                "ClassificationMetrics: label \(truth) outside 0..<\(classCount)")
            precondition(
                (0..<classCount).contains(predicted),
                "ClassificationMetrics: prediction \(predicted) outside 0..<\(classCount)")
            matrix[truth][predicted] += 1
        }

        let support = matrix.map { $0.reduce(0, +) }
        let predictedCounts = (0..<classCount).map { column in matrix.reduce(0) { $0 + $1[column] } }
        let correct = (0..<classCount).map { matrix[$0][$0] }

        let recall = (0..<classCount).map { Self.ratio(correct[$0], support[$0]) }
        let f1 = (0..<classCount).map { Self.ratio(2 * correct[$0], support[$0] + predictedCounts[$0]) }
        self.classNames = classNames
        self.confusionMatrix = matrix
        self.support = support
        self.precision = (0..<classCount).map { Self.ratio(correct[$0], predictedCounts[$0]) }
        self.recall = recall
        self.f1 = f1
        self.accuracy = Self.ratio(correct.reduce(0, +), labels.count)

        let present = (0..<classCount).filter { support[$0] > 0 }
        self.balancedAccuracy = Self.mean(present.map { recall[$0] })
        let seen = (0..<classCount).filter { support[$0] > 0 || predictedCounts[$0] > 0 }
        self.macroF1 = Self.mean(seen.map { f1[$0] })
    }

    /// The number of samples.
    public var count: Int { support.reduce(0, +) }

    /// The number of samples predicted as each class (the column sums of the confusion matrix).
    public var predictedCounts: [Int] {
        classNames.indices.map { column in confusionMatrix.reduce(0) { $0 + $1[column] } }
    }

    /// The confusion matrix with each row divided by its support, so row `t` holds the fractions
    /// of true class `t` predicted as each class; rows of classes with no support are all 0.
    public var rowNormalizedConfusionMatrix: [[Double]] {
        zip(confusionMatrix, support).map { row, total in row.map { Self.ratio($0, total) } }
    }

    /// The metrics as JSON:
    /// `{"accuracy", "balanced_accuracy", "macro_f1", "count", "classes": [...],
    /// "confusion_matrix": [[...]], "per_class": {"<name>": {"precision", "recall", "f1", "support"}}}`.
    ///
    /// Duplicate class names share one `per_class` entry (the last class wins).
    public var json: JSONValue {
        var perClass: [String: JSONValue] = [:]
        for (index, name) in classNames.enumerated() {
            perClass[name] = .object([
                "precision": .number(precision[index]),
                "recall": .number(recall[index]),
                "f1": .number(f1[index]),
                "support": .number(Double(support[index])),
            ])
        }
        return .object([
            "accuracy": .number(accuracy),
            "balanced_accuracy": .number(balancedAccuracy),
            "macro_f1": .number(macroF1),
            "count": .number(Double(count)),
            "classes": .array(classNames.map { .string($0) }),
            "confusion_matrix": .array(confusionMatrix.map { row in .array(row.map { .number(Double($0)) }) }),
            "per_class": .object(perClass),
        ])
    }

    /// `json` with the members in a fixed order (`accuracy`, `balanced_accuracy`, `macro_f1`,
    /// `count`, `classes`, `confusion_matrix`, `per_class`) and `per_class` in class order, as
    /// `lstmctl evaluate --json` prints it.
    public var orderedJSON: OrderedJSON {
        guard case .object(let members) = json else { return .value(json) }
        let perClass = classNames.indices.map { index in
            (key: classNames[index], value: OrderedJSON.object([
                ("precision", .value(.number(precision[index]))), ("recall", .value(.number(recall[index]))),
                ("f1", .value(.number(f1[index]))), ("support", .value(.number(Double(support[index])))),
            ]))
        }
        return .object(
            ["accuracy", "balanced_accuracy", "macro_f1", "count", "classes", "confusion_matrix"].map {
                (key: $0, value: OrderedJSON.value(members[$0]!))
            } + [(key: "per_class", value: .object(perClass))])
    }

    /// Human-readable multi-line text: a summary line, a per-class table (precision, recall, F1,
    /// support) and the confusion matrix labelled with class names, in aligned columns.
    public func formatted() -> String {
        var lines = [
            "accuracy \(Self.decimal(accuracy))  balanced accuracy \(Self.decimal(balancedAccuracy))"
                + "  macro F1 \(Self.decimal(macroF1))  samples \(count)",
            "",
        ]
        var perClass = [["class", "precision", "recall", "f1", "support"]]
        for index in classNames.indices {
            perClass.append([
                classNames[index], Self.decimal(precision[index]), Self.decimal(recall[index]),
                Self.decimal(f1[index]), String(support[index]),
            ])
        }
        lines += Self.alignedRows(perClass)
        lines += ["", "confusion matrix (rows: true class, columns: predicted class)"]
        var matrix = [["true \\ predicted"] + classNames]
        for (index, row) in confusionMatrix.enumerated() {
            matrix.append([classNames[index]] + row.map(String.init))
        }
        lines += Self.alignedRows(matrix)
        return lines.joined(separator: "\n")
    }

    /// `numerator / denominator`, or 0 when the denominator is 0.
    static func ratio(_ numerator: Int, _ denominator: Int) -> Double {
        denominator == 0 ? 0 : Double(numerator) / Double(denominator)
    }

    /// The arithmetic mean, or 0 for no values.
    static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
    }

    /// `value` with four decimals, e.g. `0.9750`.
    static func decimal(_ value: Double) -> String {
        String(format: "%.4f", value)
    }

    /// Pads a table into lines: the first column left-aligned, the others right-aligned, columns
    /// two spaces apart. Widths count characters.
    static func alignedRows(_ rows: [[String]]) -> [String] {
        let columnCount = rows.map(\.count).max() ?? 0
        let widths = (0..<columnCount).map { column in
            rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0
        }
        return rows.map { row in
            row.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 ? cell + padding : padding + cell
            }
            .joined(separator: "  ")
        }
    }
}

/// The mean and sample standard deviation of a set of values, e.g. one metric over the folds of
/// a cross-validation.
public struct MeanStd: Sendable, Equatable {
    /// The arithmetic mean.
    public let mean: Double
    /// The sample standard deviation (divisor `n − 1`); 0 for a single value.
    public let std: Double

    /// Summarises `values`.
    ///
    /// - Precondition: `values` is not empty.
    public init(_ values: [Double]) {
        precondition(!values.isEmpty, "MeanStd needs at least one value")
        let mean = values.reduce(0, +) / Double(values.count)
        self.mean = mean
        if values.count < 2 {
            self.std = 0
        } else {
            let squares = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
            self.std = (squares / Double(values.count - 1)).squareRoot()
        }
    }

    /// Four decimals each, e.g. `0.9750 ± 0.0250`.
    public var formatted: String {
        "\(ClassificationMetrics.decimal(mean)) ± \(ClassificationMetrics.decimal(std))"
    }
}
