import Foundation
import LSTMKit
import LSTMTraining

/// Shows training progress: a bar redrawn per step on a terminal, one plain line per epoch when
/// standard error is not a terminal, or JSON events on standard output.
final class TrainingProgress {
    enum Mode { case bar, lines, json }

    let mode: Mode
    private var started = Date()
    private var epochStarted = Date()
    private var epochs = 1
    private var epochSeconds: [Double] = []
    private var last: EpochRecord?
    private var lastDraw = Date.distantPast

    init(mode: Mode) { self.mode = mode }

    func handle(_ event: TrainingEvent) {
        switch event {
        case .started(let plan):
            started = Date()
            epochStarted = started
            epochs = plan.epochs
            let counts = zip(plan.classNames, zip(plan.countsBefore, plan.countsAfter))
                .map { "\($0)=\($1.0)→\($1.1)" }.joined(separator: " ")
            switch mode {
            case .json:
                emit([
                    "event": .string("started"), "train_samples": .number(Double(plan.trainSamples)),
                    "validation_samples": .number(Double(plan.validationSamples)),
                    "classes": .array(plan.classNames.map { .string($0) }),
                    "counts_before": .array(plan.countsBefore.map { .number(Double($0)) }),
                    "counts_after": .array(plan.countsAfter.map { .number(Double($0)) }),
                    "parameters": .number(Double(plan.parameters)), "steps_per_epoch": .number(Double(plan.stepsPerEpoch)),
                    "epochs": .number(Double(plan.epochs)),
                ])
            case .bar, .lines:
                printError(
                    "training on \(plan.trainSamples) samples (validation \(plan.validationSamples)), \(plan.parameters) parameters, \(plan.stepsPerEpoch) steps per epoch")
                printError("class counts before → after balancing: \(counts)")
            }
        case .batch(let epoch, let step, let steps, let loss):
            guard mode == .bar else { return }
            let now = Date()
            guard step == steps || now.timeIntervalSince(lastDraw) > 0.1 else { return }
            lastDraw = now
            let width = 20
            let filled = width * step / steps
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            var line = "\r\u{1B}[2Kepoch \(epoch)/\(epochs) \(bar) \(step)/\(steps) loss \(fixed(loss))"
            if let last {
                line += " | last val " + validationText(last) + " | lr \(String(format: "%.1e", last.learningRate))"
            }
            line += " | ETA \(eta(epoch: epoch, fraction: Double(step) / Double(steps)))"
            FileHandle.standardError.write(Data(line.utf8))
        case .epoch(let record, let improved):
            last = record
            epochStarted = Date()
            epochSeconds.append(record.seconds)
            switch mode {
            case .json:
                var object: [String: JSONValue] = ["event": .string("epoch"), "improved": .bool(improved)]
                if case .object(let fields) = record.json { object.merge(fields) { $1 } }
                emit(object)
            case .bar, .lines:
                let line = "epoch \(record.epoch)/\(epochs) loss \(fixed(record.trainLoss)) acc \(fixed(record.trainAccuracy))"
                    + " | val \(validationText(record)) | lr \(String(format: "%.1e", record.learningRate))"
                    + " | \(String(format: "%.2f", record.seconds)) s\(improved ? " *" : "")"
                if mode == .bar {
                    FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line + "\n").utf8))
                } else {
                    printError(line)
                }
            }
        }
    }

    func finished(_ result: TrainingResult, model: ModelFile, modelPath: String, reportPath: String) {
        let best = result.history.bestEpoch ?? 0
        switch mode {
        case .json:
            var object: [String: JSONValue] = [
                "event": .string("finished"), "model": .string(modelPath), "report": .string(reportPath),
                "digest": .string(model.digest), "best_epoch": .number(Double(best)),
                "epochs_run": .number(Double(result.history.epochs.count)),
                "stopped_early": .bool(result.history.stoppedEarly), "seconds": .number(result.seconds),
            ]
            if let validation = result.validation { object["validation"] = validation.json }
            emit(object)
        case .bar, .lines:
            print("wrote \(modelPath) (\(model.digest)), report \(reportPath)")
            print(
                "best epoch \(best) of \(result.history.epochs.count)\(result.history.stoppedEarly ? " (early stop)" : ""), \(String(format: "%.1f", result.seconds)) s")
            if let validation = result.validation {
                print("validation (restored weights):")
                print(validation.formatted())
            }
        }
    }

    private func validationText(_ record: EpochRecord) -> String {
        guard let loss = record.validationLoss else { return "–" }
        return "loss \(fixed(loss)) acc \(fixed(record.validationAccuracy ?? 0)) f1 \(fixed(record.validationMacroF1 ?? 0))"
    }

    private func eta(epoch: Int, fraction: Double) -> String {
        let perEpoch = epochSeconds.isEmpty
            ? Date().timeIntervalSince(epochStarted) / max(fraction, 1e-3)
            : epochSeconds.suffix(5).reduce(0, +) / Double(min(5, epochSeconds.count))
        let remaining = perEpoch * (Double(epochs - epoch) + 1 - fraction)
        let seconds = Int(remaining.rounded())
        return seconds >= 60 ? "\(seconds / 60)m\(String(format: "%02d", seconds % 60))s" : "\(seconds)s"
    }

    private func fixed(_ value: Double) -> String { String(format: "%.4f", value) }

    private func emit(_ object: [String: JSONValue]) {
        print(JSONValue.object(object).jsonText)
        fflush(nil)
    }
}
