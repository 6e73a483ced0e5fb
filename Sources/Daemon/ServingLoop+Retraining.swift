import Foundation
import LSTMKit
import Retraining

/// The retraining commands of the control socket.
extension ServingLoop {
    private var retrainingOff: JSONValue {
        ControlHandler.failure("retraining is off: lstmd has no state directory (set state_directory)")
    }

    func label(stream id: String, className: String) -> JSONValue {
        guard let retrainer else { return retrainingOff }
        guard let slot = table.slot(of: id) else { return ControlHandler.failure("unknown stream '\(id)'") }
        do {
            let sequence = try tap.correct(slot: slot, className: className)
            let durable = retrainer.buffer.blockUntilDurable(through: sequence, timeout: .seconds(2))
            let status = retrainer.buffer.status
            logger.notice("window labelled by an operator", metadata: ["stream": "\(id)", "class": "\(className)"])
            return .object([
                "ok": .bool(true), "stream": .string(id), "class": .string(className), "stored": .number(1),
                "durable": .bool(durable), "records": .number(Double(status.records)),
                "durable_records": .number(Double(status.durableRecords)),
            ])
        } catch {
            return ControlHandler.failure("label refused: \(error)")
        }
    }

    func retrain() -> JSONValue {
        guard let retrainer else { return retrainingOff }
        let job = retrainer.request()
        return .object(["ok": .bool(true), "job": .string(job.id), "state": .string(job.state.rawValue)])
    }

    func job(_ id: String) -> JSONValue {
        guard let retrainer else { return retrainingOff }
        return retrainer.describe(job: id) ?? ControlHandler.failure("unknown job '\(id)'")
    }

    func models() -> JSONValue {
        guard let retrainer else { return retrainingOff }
        do {
            let entries = try retrainer.store.entries()
            let formatter = ISO8601DateFormatter()
            let list = entries.map { entry -> JSONValue in
                let metadata = entry.metadata
                return .object([
                    "version": .string(entry.version), "created": .string(formatter.string(from: metadata.created)),
                    "trigger": .string(metadata.trigger), "state": .string(entry.state.rawValue),
                    "verdict": .string(metadata.verdict.rawValue), "reason": .string(metadata.reason),
                    "accuracy": metadata.gate.map { .number($0.candidate.accuracy) } ?? .null,
                    "macro_f1": metadata.gate.map { .number($0.candidate.macroF1) } ?? .null,
                ])
            }
            let current = try retrainer.store.currentVersion()
            return .object(["ok": .bool(true), "current": current.map { .string($0) } ?? .null, "models": .array(list)])
        } catch {
            return ControlHandler.failure("cannot read the model store: \(error)")
        }
    }

    /// `rollback`: loads the stored version on the loader thread (refused, unless `force`, when
    /// its channels or classes differ from the running model's), makes it the store's current
    /// version and swaps it in; the reply follows the swap.
    func rollback(to version: String, force: Bool) -> JSONValue {
        guard retrainer != nil else { return retrainingOff }
        return begin(.rollback(version), reason: "rollback", request: "rollback", checksShape: true, force: force)
    }
}
