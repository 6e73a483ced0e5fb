import Foundation
import Testing
@testable import Retraining

@Suite struct PromotionGateTests {
    static let classes = ["A", "B", "C"]

    /// Labels and predictions: class `k` has `counts[k]` windows of which `correct[k]` are
    /// predicted right and the rest as the next class.
    static func windows(counts: [Int], correct: [Int]) -> (labels: [Int], predictions: [Int]) {
        var labels: [Int] = []
        var predictions: [Int] = []
        for (index, count) in counts.enumerated() {
            labels += Array(repeating: index, count: count)
            predictions += Array(repeating: index, count: correct[index])
            predictions += Array(repeating: (index + 1) % counts.count, count: count - correct[index])
        }
        return (labels, predictions)
    }

    static func evaluate(
        counts: [Int] = [20, 20, 20], current: [Int], candidate: [Int], gate: PromotionGate = PromotionGate()
    ) -> PromotionReport {
        let currentWindows = windows(counts: counts, correct: current)
        let candidateWindows = windows(counts: counts, correct: candidate)
        return gate.evaluate(
            labels: currentWindows.labels, candidate: candidateWindows.predictions,
            current: currentWindows.predictions, classNames: classes)
    }

    @Test func betterCandidateIsPromoted() {
        let report = Self.evaluate(current: [16, 16, 16], candidate: [18, 18, 19])
        #expect(report.decision == .promote)
        #expect(report.promoted)
        #expect(report.failedRules.isEmpty)
        #expect(report.reason.hasPrefix("promoted: macro-F1"))
        #expect(report.validationCounts == [20, 20, 20])
        #expect(report.validationWindows == 60)
        #expect(abs(report.current.accuracy - 0.8) < 1e-12)
        #expect(abs(report.candidate.accuracy - 55.0 / 60) < 1e-12)
        #expect(report.candidate.confusionMatrix == [[18, 2, 0], [0, 18, 2], [1, 0, 19]])
        #expect(report.candidate.macroF1 > report.current.macroF1 + 0.01)
    }

    @Test func equalCandidateMissesTheMargin() {
        let report = Self.evaluate(current: [16, 16, 16], candidate: [16, 16, 16])
        #expect(report.decision == .reject)
        #expect(report.failedRules == [.macroF1])
        #expect(report.reason.hasPrefix("rejected: macro-F1"))
        // A gain just below the margin is not enough either; a zero margin accepts a tie.
        let tie = Self.evaluate(current: [16, 16, 16], candidate: [16, 16, 16], gate: PromotionGate(margin: 0))
        #expect(tie.promoted)
    }

    @Test func recallDropRejectsEvenWithBetterMacroF1() {
        let report = Self.evaluate(current: [12, 12, 20], candidate: [20, 20, 18])
        #expect(report.candidate.macroF1 > report.current.macroF1 + 0.01)
        #expect(report.decision == .reject)
        #expect(report.failedRules == [.recallDrop])
        #expect(report.reason.contains("recall of C drops 0.1000 (1.0000 → 0.9000) > 0.0500"))
        // A drop of exactly the limit (1 of 20 = 0.05) is allowed.
        let atLimit = Self.evaluate(current: [12, 12, 20], candidate: [20, 20, 19])
        #expect(atLimit.promoted, "\(atLimit.reason)")
    }

    @Test func tooFewValidationWindowsRejects() {
        let report = Self.evaluate(counts: [20, 20, 9], current: [10, 10, 5], candidate: [20, 20, 9])
        #expect(report.decision == .reject)
        #expect(report.failedRules == [.minPerClass])
        #expect(report.reason.contains("C has 9 validation windows (< 10)"))
        let absent = Self.evaluate(counts: [20, 20, 0], current: [10, 10, 0], candidate: [20, 20, 0])
        #expect(absent.failedRules == [.minPerClass])
        let lenient = Self.evaluate(
            counts: [20, 20, 9], current: [10, 10, 5], candidate: [20, 20, 9], gate: PromotionGate(minPerClass: 5))
        #expect(lenient.promoted)
    }

    @Test func everyFailureIsReported() {
        let report = Self.evaluate(counts: [20, 20, 3], current: [20, 20, 3], candidate: [10, 10, 3])
        #expect(report.failedRules == [.minPerClass, .recallDrop, .macroF1])
        #expect(report.reason.components(separatedBy: "; ").count == 3)
    }

    @Test func emptyValidationSetRejects() {
        let report = PromotionGate().evaluate(labels: [], candidate: [], current: [], classNames: Self.classes)
        #expect(report.decision == .reject)
        #expect(report.failedRules.contains(.minPerClass))
    }

    @Test func reportRoundTripsAsSnakeCaseJSON() throws {
        let report = Self.evaluate(current: [16, 16, 16], candidate: [18, 18, 19])
        let data = try JSONEncoder().encode(report)
        let text = String(decoding: data, as: UTF8.self)
        for key in ["\"decision\":\"promote\"", "\"failed_rules\"", "\"validation_counts\"", "\"macro_f1\"",
                    "\"balanced_accuracy\"", "\"confusion_matrix\"", "\"max_recall_drop\"", "\"min_per_class\""] {
            #expect(text.contains(key), "\(key)")
        }
        #expect(try JSONDecoder().decode(PromotionReport.self, from: data) == report)
    }
}
