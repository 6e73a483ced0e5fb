import ArgumentParser
import Foundation
import LSTMKit

/// `lstmctl retrain [--wait] [--json]`: starts a retraining job in lstmd (or follows one) and,
/// with `--wait`, reports its verdict.
struct Retrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a retraining job in lstmd and, with --wait, report whether its candidate was promoted.",
        discussion: """
            Sends {"command":"retrain"}. The daemon trains a candidate in the background on its \
            labelled buffer, scores the candidate and the serving model on the same validation \
            windows, and promotes the candidate only when it passes the gate; the serving model \
            keeps serving meanwhile. One job runs at a time: a request while a job runs is folded \
            into at most one follow-up job, and the reply names the job that will include it. \
            Without --wait this prints that job's id and state ('retrain job 7 queued') and exits.

            --wait polls the job until it ends, then prints a summary: promoted or rejected and \
            why, the candidate's and the serving model's accuracy and macro-F1 on the validation \
            windows, the training and validation window counts and the duration. With --json it \
            prints the job's result object instead, as one line: job, promoted, reason, \
            candidate and current ({version, accuracy, macro_f1}), train_windows, \
            validation_windows, class_counts, duration_s. Exit status 0 when the job finished, \
            promoted or rejected; 1 when it failed or did not end within --timeout seconds \
            (default 3600; the job keeps running in the daemon: --job ID --wait waits again).

            --job ID follows an existing job instead of starting one: its state, or with --wait \
            its result.
            """)

    @Option(help: "The daemon's control (REP) endpoint.")
    var endpoint = "tcp://127.0.0.1:5557"

    @Flag(help: "Wait for the job to end and report its result.")
    var wait = false

    @Option(help: "Follow this job instead of starting one.")
    var job: String?

    @Option(help: ArgumentHelp(
        "Seconds: with --wait, to wait for the job to end (default 3600); otherwise, for the reply (default 5).",
        valueName: "seconds"))
    var timeout: Double?

    @Flag(help: "Print the reply (or, with --wait, the job's result) as one line of JSON.")
    var json = false

    @OptionGroup var curve: CurveOptions

    /// Seconds between `job` polls.
    static let pollInterval = 0.25
    /// The longest a single reply may take while waiting.
    static let replyTimeout = 10.0

    func validate() throws {
        if let timeout {
            guard timeout > 0, timeout <= (wait ? 7 * 86400 : 3600) else {
                throw ValidationError("--timeout must be in (0, \(wait ? "604800" : "3600")] seconds, got \(timeout)")
            }
        }
        if let job, job.isEmpty { throw ValidationError("--job must name a job") }
    }

    func run() throws {
        let total = timeout ?? (wait ? 3600 : 5)
        let deadline = Date().addingTimeInterval(total)
        let first = wait ? min(total, Self.replyTimeout) : total
        // Without --wait the reply itself is the output; with --wait only the result is.
        let options = try ControlOptions.requests(to: endpoint, timeout: first, json: json && !wait, curve: curve)
        var reply: JSONValue
        if let job {
            reply = try controlRequest("job", ["job": .string(job)], options: options)
        } else {
            reply = try controlRequest("retrain", options: options)
        }
        let id = reply["job"] ?? job.map { .string($0) } ?? .null
        let name = formatNumber(id)
        guard wait else {
            if !json { print("retrain job \(name) \(reply["state"]?.stringValue ?? "-")") }
            if job != nil, reply["state"]?.stringValue == "done" || reply["state"]?.stringValue == "failed" {
                if !json { print(Self.render(reply["result"] ?? .null), terminator: "") }
            }
            return
        }
        var state = reply["state"]?.stringValue ?? "-"
        if !json { printError("retrain job \(name) \(state)") }
        while state == "queued" || state == "running" {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else {
                throw CommandFailure(
                    "retrain job \(name) did not end within \(formatSeconds(total)) s (state: \(state)); it keeps running in lstmd: "
                        + "'lstmctl retrain --job \(name) --wait' waits again")
            }
            usleep(UInt32(min(Self.pollInterval, remaining) * 1e6))
            do {
                let poll = try ControlOptions.requests(to: endpoint, timeout: max(0.05, min(Self.replyTimeout, remaining)), curve: curve)
                reply = try controlRequest("job", ["job": id], options: poll)
            } catch let failure as CommandFailure {
                throw CommandFailure("while waiting for retrain job \(name): \(failure.message)")
            }
            let next = reply["state"]?.stringValue ?? "-"
            if next != state, !json { printError("retrain job \(name) \(next)") }
            state = next
        }
        let result = reply["result"]
        if json, let result { print(result.jsonText) }
        guard state == "done" else {
            let error = reply["error"]?.stringValue ?? result?["error"]?.stringValue ?? "state '\(state)'"
            throw CommandFailure("retrain job \(name) failed: \(error); the serving model is unchanged")
        }
        if !json { print(Self.render(result ?? .null), terminator: "") }
    }

    /// The human summary of a finished job's result.
    static func render(_ result: JSONValue) -> String {
        let candidate = result["candidate"], current = result["current"]
        let name = formatNumber(result["job"])
        let reason = result["reason"]?.stringValue.map { " (\($0))" } ?? ""
        var lines: [String] = []
        if let error = result["error"]?.stringValue {
            lines.append("job \(name) failed: \(error)")
        } else if result["promoted"] == .bool(true) {
            lines.append("job \(name) promoted: now serving \(formatNumber(candidate?["version"]))\(reason)")
        } else {
            lines.append("job \(name) rejected: \(formatNumber(current?["version"])) keeps serving\(reason)")
        }
        func metric(_ value: JSONValue?) -> String {
            value?.numberValue.map { String(format: "%.4f", $0) } ?? "-"
        }
        var rows = [["", "VERSION", "ACCURACY", "MACRO_F1"]]
        for (label, model) in [("candidate", candidate), ("current", current)] {
            rows.append([label, formatNumber(model?["version"]), metric(model?["accuracy"]), metric(model?["macro_f1"])])
        }
        lines.append(contentsOf: renderTable(rows).split(separator: "\n").map { "  " + $0 })
        lines.append(
            "  windows    \(formatNumber(result["train_windows"])) training, \(formatNumber(result["validation_windows"])) validation")
        if case .object(let counts)? = result["class_counts"], !counts.isEmpty {
            lines.append("  classes    " + counts.keys.sorted().map { "\($0) \(formatNumber(counts[$0]))" }.joined(separator: ", "))
        }
        if let seconds = result["duration_s"]?.numberValue {
            lines.append("  duration   \(String(format: "%.1f", seconds)) s")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
