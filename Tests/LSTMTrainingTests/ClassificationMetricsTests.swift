import Foundation
import LSTMKit
import Testing

@testable import LSTMTraining

// Expected values come from scikit-learn 1.9.1 (see each comment for the call), with
// `labels=[0, …, K-1]` for per-class arrays and `zero_division=0`. Tolerance 1e-12.

private let tolerance = 1e-12

private func close(_ actual: [Double], _ expected: [Double]) -> Bool {
    actual.count == expected.count && zip(actual, expected).allSatisfy { abs($0 - $1) <= tolerance }
}

private func close(_ actual: Double, _ expected: Double) -> Bool {
    abs(actual - expected) <= tolerance
}

@Suite("ClassificationMetrics")
struct ClassificationMetricsTests {
    @Test("perfect predictions score 1 everywhere and fill only the diagonal")
    func perfect() {
        let labels = [0, 1, 2, 2, 1, 0, 2]
        let metrics = ClassificationMetrics(predictions: labels, labels: labels, classNames: ["a", "b", "c"])
        #expect(metrics.confusionMatrix == [[2, 0, 0], [0, 2, 0], [0, 0, 3]])
        #expect(metrics.support == [2, 2, 3])
        #expect(metrics.precision == [1, 1, 1])
        #expect(metrics.recall == [1, 1, 1])
        #expect(metrics.f1 == [1, 1, 1])
        #expect(metrics.accuracy == 1)
        #expect(metrics.balancedAccuracy == 1)
        #expect(metrics.macroF1 == 1)
        #expect(metrics.count == 7)
    }

    @Test("mixed errors match scikit-learn")
    func mixed() {
        let labels = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
        let predictions = [0, 0, 1, 0, 1, 1, 0, 2, 2, 1]
        let metrics = ClassificationMetrics(predictions: predictions, labels: labels, classNames: ["a", "b", "c"])
        // sklearn.metrics.confusion_matrix(y, p, labels=[0, 1, 2])
        #expect(metrics.confusionMatrix == [[3, 1, 0], [1, 2, 0], [0, 1, 2]])
        // sklearn.metrics.precision_recall_fscore_support(y, p, labels=[0, 1, 2], zero_division=0)
        #expect(close(metrics.precision, [0.75, 0.5, 1.0]))
        #expect(close(metrics.recall, [0.75, 0.6666666666666666, 0.6666666666666666]))
        #expect(close(metrics.f1, [0.75, 0.5714285714285714, 0.8]))
        #expect(metrics.support == [4, 3, 3])
        // sklearn.metrics.accuracy_score(y, p)
        #expect(close(metrics.accuracy, 0.7))
        // sklearn.metrics.balanced_accuracy_score(y, p)
        #expect(close(metrics.balancedAccuracy, 0.6944444444444443))
        // sklearn.metrics.f1_score(y, p, average="macro", labels=[0, 1, 2], zero_division=0)
        #expect(close(metrics.macroF1, 0.7071428571428572))
        #expect(metrics.predictedCounts == [4, 4, 2])
        #expect(close(metrics.rowNormalizedConfusionMatrix[1], [1.0 / 3, 2.0 / 3, 0]))
    }

    @Test("a class that is never predicted has precision 0, not NaN")
    func neverPredicted() {
        let labels = [0, 0, 1, 1, 2, 2]
        let predictions = [0, 0, 1, 1, 1, 0]
        let metrics = ClassificationMetrics(predictions: predictions, labels: labels, classNames: ["a", "b", "c"])
        // sklearn.metrics.precision_recall_fscore_support(y, p, labels=[0, 1, 2], zero_division=0)
        #expect(close(metrics.precision, [0.6666666666666666, 0.6666666666666666, 0.0]))
        #expect(close(metrics.recall, [1.0, 1.0, 0.0]))
        #expect(close(metrics.f1, [0.8, 0.8, 0.0]))
        // sklearn.metrics.accuracy_score / balanced_accuracy_score
        #expect(close(metrics.accuracy, 0.6666666666666666))
        #expect(close(metrics.balancedAccuracy, 0.6666666666666666))
        // sklearn.metrics.f1_score(y, p, average="macro", labels=[0, 1, 2], zero_division=0)
        #expect(close(metrics.macroF1, 0.5333333333333333))
    }

    @Test("a class predicted but absent from the labels counts in macro-F1 but not in balanced accuracy")
    func predictedButAbsentFromLabels() {
        let labels = [0, 0, 1, 1]
        let predictions = [0, 2, 1, 1]
        let metrics = ClassificationMetrics(predictions: predictions, labels: labels, classNames: ["a", "b", "c"])
        #expect(metrics.support == [2, 2, 0])
        // sklearn.metrics.precision_recall_fscore_support(y, p, labels=[0, 1, 2], zero_division=0)
        #expect(close(metrics.precision, [1.0, 1.0, 0.0]))
        #expect(close(metrics.recall, [0.5, 1.0, 0.0]))
        #expect(close(metrics.f1, [0.6666666666666666, 1.0, 0.0]))
        // sklearn.metrics.balanced_accuracy_score(y, p)
        #expect(close(metrics.balancedAccuracy, 0.75))
        // sklearn.metrics.f1_score(y, p, average="macro", labels=[0, 1, 2], zero_division=0)
        #expect(close(metrics.macroF1, 0.5555555555555555))
    }

    @Test("a class absent from labels and predictions is left out of the averages")
    func absentEverywhere() {
        let labels = [0, 1, 1, 0, 2]
        let predictions = [0, 1, 0, 0, 2]
        let metrics = ClassificationMetrics(
            predictions: predictions, labels: labels, classNames: ["a", "b", "c", "d"])
        #expect(metrics.confusionMatrix == [[2, 0, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
        #expect(metrics.support == [2, 2, 1, 0])
        #expect(close(metrics.precision, [0.6666666666666666, 1.0, 1.0, 0.0]))
        #expect(close(metrics.recall, [1.0, 0.5, 1.0, 0.0]))
        // sklearn.metrics.accuracy_score(y, p)
        #expect(close(metrics.accuracy, 0.8))
        // sklearn.metrics.balanced_accuracy_score(y, p)
        #expect(close(metrics.balancedAccuracy, 0.8333333333333334))
        // sklearn.metrics.f1_score(y, p, average="macro", labels=[0, 1, 2], zero_division=0): the union
        #expect(close(metrics.macroF1, 0.8222222222222223))
        #expect(metrics.rowNormalizedConfusionMatrix[3] == [0, 0, 0, 0])
    }

    @Test("no samples gives zeros, not NaN")
    func empty() {
        let metrics = ClassificationMetrics(predictions: [], labels: [], classNames: ["a", "b"])
        #expect(metrics.count == 0)
        #expect(metrics.accuracy == 0)
        #expect(metrics.balancedAccuracy == 0)
        #expect(metrics.macroF1 == 0)
        #expect(metrics.json.jsonText != "null")
    }

    @Test("JSON holds the summary, the matrix and per-class values")
    func json() throws {
        let metrics = ClassificationMetrics(
            predictions: [0, 0, 1, 0, 1, 1, 0, 2, 2, 1], labels: [0, 0, 0, 0, 1, 1, 1, 2, 2, 2],
            classNames: ["walking", "running", "standing"])
        // Round-trip through text so the test sees what a file would hold.
        let json = try JSONValue.parse(metrics.json.jsonText)
        #expect(json["accuracy"]?.numberValue == 0.7)
        #expect(json["balanced_accuracy"]?.numberValue.map { close($0, 0.6944444444444443) } == true)
        #expect(json["macro_f1"]?.numberValue.map { close($0, 0.7071428571428572) } == true)
        #expect(json["count"]?.numberValue == 10)
        #expect(json["classes"] == .array([.string("walking"), .string("running"), .string("standing")]))
        let row: (Int, Int, Int) -> JSONValue = { .array([.number(Double($0)), .number(Double($1)), .number(Double($2))]) }
        #expect(json["confusion_matrix"] == .array([row(3, 1, 0), row(1, 2, 0), row(0, 1, 2)]))
        let running = try #require(json["per_class"]?["running"])
        #expect(running["precision"]?.numberValue == 0.5)
        #expect(running["recall"]?.numberValue.map { close($0, 2.0 / 3) } == true)
        #expect(running["f1"]?.numberValue.map { close($0, 0.5714285714285714) } == true)
        #expect(running["support"]?.numberValue == 3)
        #expect(json["per_class"]?["walking"]?["support"]?.numberValue == 4)
        #expect(json["per_class"]?["standing"]?["precision"]?.numberValue == 1)
    }

    @Test("formatted() shows the summary, every class name and the aligned matrix")
    func formatted() throws {
        let metrics = ClassificationMetrics(
            predictions: [0, 0, 1, 0, 1, 1, 0, 2, 2, 1], labels: [0, 0, 0, 0, 1, 1, 1, 2, 2, 2],
            classNames: ["walking", "running", "standing"])
        let text = metrics.formatted()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "accuracy 0.7000  balanced accuracy 0.6944  macro F1 0.7071  samples 10")
        for name in metrics.classNames { #expect(text.contains(name)) }
        #expect(lines.contains("class     precision  recall      f1  support"))
        #expect(lines.contains("running      0.5000  0.6667  0.5714        3"))
        #expect(lines.contains("true \\ predicted  walking  running  standing"))
        #expect(lines.contains("walking                 3        1         0"))
        #expect(lines.contains("running                 1        2         0"))
        #expect(lines.contains("standing                0        1         2"))
        // Every matrix line ends at the same column.
        let matrixStart = try #require(lines.firstIndex { $0.hasPrefix("true \\ predicted") })
        let widths = Set(lines[matrixStart...].map(\.count))
        #expect(widths.count == 1)
    }
}

@Suite("MeanStd")
struct MeanStdTests {
    @Test("sample standard deviation matches numpy.std(ddof=1)")
    func values() {
        // numpy.mean([0.95, 1.0]), numpy.std([0.95, 1.0], ddof=1)
        let two = MeanStd([0.95, 1.0])
        #expect(close(two.mean, 0.975))
        #expect(close(two.std, 0.03535533905932741))
        // numpy.mean / numpy.std(ddof=1) of [0.9, 0.925, 0.95, 0.975, 1.0]
        let five = MeanStd([0.9, 0.925, 0.95, 0.975, 1.0])
        #expect(close(five.mean, 0.95))
        #expect(close(five.std, 0.03952847075210472))
    }

    @Test("one value has standard deviation 0")
    func single() {
        let one = MeanStd([0.5])
        #expect(one.mean == 0.5)
        #expect(one.std == 0)
    }

    @Test("formatted shows four decimals each")
    func formatted() {
        #expect(MeanStd([0.95, 1.0]).formatted == "0.9750 ± 0.0354")
        #expect(MeanStd([0.5]).formatted == "0.5000 ± 0.0000")
    }
}
