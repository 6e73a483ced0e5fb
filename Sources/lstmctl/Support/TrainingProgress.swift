import Foundation
import LSTMKit
import LSTMTraining

/// Shows training progress: a bar redrawn per step on a terminal, one plain line per epoch when
/// standard error is not a terminal, or JSON events on standard output. Warnings and notes of the
/// plan always go to standard error. During `lstmctl cv` every line names its fold.
final class TrainingProgress {
    enum Mode { case bar, lines, json }

    let mode: Mode
    /// The fold being trained (`lstmctl cv`), or nil for a single run.
    var fold: (number: Int, count: Int)?
    private var started = Date()
    private var epochStarted = Date()
    private var epochs = 1
    private var epochSeconds: [Double] = []
    private var last: EpochRecord?
    private var lastDraw = Date.distantPast

    init(mode: Mode) { self.mode = mode }

    /// The mode for a command's progress: JSON events only where asked for (`train --json`),
    /// else a bar on a terminal and plain lines otherwise.
    static func mode(json: Bool) -> Mode {
        json ? .json : (isatty(STDERR_FILENO) != 0 ? .bar : .lines)
    }

    /// The ensemble member being trained (1-based for display), or nil for a single model.
    private var member: (number: Int, count: Int)?

    /// `fold 2/5 member 3/5 ` during cross-validation of an ensemble, else the parts that apply.
    private var prefix: String {
        (fold.map { "fold \($0.number)/\($0.count) " } ?? "") + (member.map { "member \($0.number)/\($0.count) " } ?? "")
    }

    /// `26 samples`, or `26 → 40 samples after oversample` when balancing changed the count.
    static func sampleCount(_ plan: TrainingPlan) -> String {
        plan.balancedSamples == plan.trainSamples
            ? "\(plan.trainSamples) samples"
            : "\(plan.trainSamples) → \(plan.balancedSamples) samples after \(plan.balancing.rawValue)"
    }

    func handle(_ event: TrainingEvent) {
        switch event {
        case .started(let plan):
            started = Date()
            epochStarted = started
            epochs = plan.epochs
            last = nil  // a new run (or fold) starts without a previous epoch
            epochSeconds = []
            member = nil
            let counts = zip(plan.classNames, zip(plan.countsBefore, plan.countsAfter))
                .map { "\($0)=\($1.0)→\($1.1)" }.joined(separator: " ")
            switch mode {
            case .json:
                emit([
                    "event": .string("started"), "train_samples": .number(Double(plan.trainSamples)),
                    "balanced_samples": .number(Double(plan.balancedSamples)),
                    "balancing": .string(plan.balancing.rawValue),
                    "validation_samples": .number(Double(plan.validationSamples)),
                    "warnings": .array(plan.warnings.map { .string($0) }),
                    "notes": .array(plan.notes.map { .string($0) }),
                    "classes": .array(plan.classNames.map { .string($0) }),
                    "counts_before": .array(plan.countsBefore.map { .number(Double($0)) }),
                    "counts_after": .array(plan.countsAfter.map { .number(Double($0)) }),
                    "parameters": .number(Double(plan.parameters)), "steps_per_epoch": .number(Double(plan.stepsPerEpoch)),
                    "epochs": .number(Double(plan.epochs)),
                    "data": plan.data?.json ?? .null,
                    "preprocessing": plan.preprocessing.json,
                    "ensemble": .number(Double(plan.ensemble)),
                ])
            case .bar, .lines:
                printError(
                    "\(prefix)training on \(Self.sampleCount(plan)) (validation \(plan.validationSamples)), \(plan.parameters) parameters, \(plan.stepsPerEpoch) steps per epoch")
                if plan.ensemble > 1 {
                    printError(
                        "\(prefix)ensemble of \(plan.ensemble) members trained in parallel where threads allow; "
                            + "progress shows the members the first thread trains, one after another")
                }
                printError("\(prefix)class counts before → after balancing: \(counts)")
                if !plan.preprocessing.isIdentity {
                    printError("\(prefix)preprocessing: \(Self.describe(plan.preprocessing))")
                }
                if let data = plan.data {
                    printError("\(prefix)data: " + data.rows.map { "\($0.key) \($0.value)" }.joined(separator: "; "))
                }
            }
            for suggestion in plan.data?.suggestions ?? [] { printError("\(prefix)suggestion: \(suggestion)") }
            for warning in plan.warnings { printError("\(prefix)warning: \(warning)") }
            for note in plan.notes { printError("\(prefix)note: \(note)") }
        case .batch(let epoch, let step, let steps, let loss):
            guard mode == .bar else { return }
            let now = Date()
            guard step == steps || now.timeIntervalSince(lastDraw) > 0.1 else { return }
            lastDraw = now
            let width = 20
            let filled = width * step / steps
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            var line = "\r\u{1B}[2K\(prefix)epoch \(epoch)/\(epochs) \(bar) \(step)/\(steps) loss \(fixed(loss))"
            if let last {
                line += " | last val " + validationText(last) + " | lr \(String(format: "%.1e", last.learningRate))"
            }
            line += " | ETA \(eta(epoch: epoch, fraction: Double(step) / Double(steps)))"
            FileHandle.standardError.write(Data(line.utf8))
        case .warning(let epoch, let message):
            warned(epoch: epoch, message: message)
        case .member(let index, let count):
            member = (index + 1, count)
            last = nil
            epochSeconds = []
            epochStarted = Date()
            if mode == .json {
                emit(["event": .string("member"), "member": .number(Double(index)), "members": .number(Double(count))])
            }
        case .epoch(let record, let improved):
            last = record
            epochStarted = Date()
            epochSeconds.append(record.seconds)
            switch mode {
            case .json:
                var object: [String: JSONValue] = ["event": .string("epoch"), "improved": .bool(improved)]
                if let member { object["member"] = .number(Double(member.number - 1)) }
                if case .object(let fields) = record.json { object.merge(fields) { $1 } }
                emit(object)
            case .bar, .lines:
                let line = "\(prefix)epoch \(record.epoch)/\(epochs) loss \(fixed(record.trainLoss)) acc \(fixed(record.trainAccuracy))"
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

    /// `per-sample normalisation, mean of every 8 timesteps`.
    static func describe(_ preprocessing: Preprocessing) -> String {
        var parts = [preprocessing.normalization == .perSample ? "per-sample normalisation" : "global scaler"]
        if preprocessing.downsample > 1 { parts.append("mean of every \(preprocessing.downsample) timesteps") }
        return parts.joined(separator: ", ")
    }

    func warned(epoch: Int, message: String) {
        switch mode {
        case .json:
            var object: [String: JSONValue] = ["event": .string("warning"), "epoch": .number(Double(epoch)), "message": .string(message)]
            if let member { object["member"] = .number(Double(member.number - 1)) }
            emit(object)
        case .bar:
            FileHandle.standardError.write(Data(("\r\u{1B}[2K\(prefix)warning: \(message)\n").utf8))
        case .lines:
            printError("\(prefix)warning: \(message)")
        }
    }

    func finished(_ result: TrainingResult, model: ModelFile, modelPath: String, reportPath: String) {
        let history = result.history
        switch mode {
        case .json:
            var object: [String: JSONValue] = [
                "event": .string("finished"), "model": .string(modelPath), "report": .string(reportPath),
                "digest": .string(model.digest), "best_epoch": .number(Double(history.bestEpoch ?? 0)),
                "selection": .string(history.selection.rawValue),
                "epochs_run": .number(Double(result.history.epochs.count)),
                "stopped_early": .bool(result.history.stoppedEarly), "seconds": .number(result.seconds),
            ]
            if let validation = result.validation { object["validation"] = validation.json }
            if !result.members.isEmpty {
                object["ensemble"] = .array(
                    result.members.enumerated().map { index, member in
                        .object([
                            "member": .number(Double(index)),
                            "seed": .string(member.model.provenance["recipe"]?["seed"]?.stringValue ?? ""),
                            "epochs_run": .number(Double(member.history.epochs.count)),
                            "validation": member.validation?.json ?? .null,
                        ])
                    })
            }
            emit(object)
        case .bar, .lines:
            print("wrote \(modelPath) (\(model.digest)), report \(reportPath)")
            print(
                "\(history.keptSummary)\(history.stoppedEarly ? ", stopped early" : ""), \(String(format: "%.1f", result.seconds)) s")
            if let validation = result.validation {
                print(
                    history.selection == .last ? "validation (last epoch's weights):"
                        : history.selection == .averaged ? "validation (averaged weights):" : "validation (restored weights):")
                print(validation.formatted())
            }
            if let line = Self.ensembleSummary(result) { print(line) }
        }
    }

    /// `Ensemble of 3 members (seeds …): validation accuracy per member 0.950, 0.975, 0.950;
    /// ensemble 0.975.`, or nil for a single model.
    static func ensembleSummary(_ result: TrainingResult) -> String? {
        guard !result.members.isEmpty else { return nil }
        let seeds = result.members.map { $0.model.provenance["recipe"]?["seed"]?.stringValue ?? "?" }
        var line = "Ensemble of \(result.members.count) members (seeds \(seeds.joined(separator: ", ")); probabilities averaged)"
        if let ensemble = result.validation {
            let accuracies = result.members.map { $0.validation.map { String(format: "%.4f", $0.accuracy) } ?? "–" }
            line += ": validation accuracy per member \(accuracies.joined(separator: ", ")); ensemble "
                + String(format: "%.4f", ensemble.accuracy) + "."
        } else {
            line += "; no validation data, so no per-member accuracy."
        }
        return line
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
