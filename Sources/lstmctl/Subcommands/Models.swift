import ArgumentParser
import Foundation
import LSTMKit

/// `lstmctl models`: the daemon's model store, one line per stored version.
struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the model versions in lstmd's store: which serves, which were rejected, and why.",
        discussion: """
            Sends {"command":"models"}. The store holds the model the daemon started with and \
            every candidate a retraining job produced, each with its verdict. Text output: one \
            line per version (VERSION, STATE, CREATED, TRIGGER, ACCURACY, MACRO_F1, REASON) in \
            the daemon's order, then the count and the version serving now. STATE is current \
            (serving), previous (served before it; a rollback target), rejected (failed the \
            promotion gate) or retired (superseded). ACCURACY and MACRO_F1 are scored on the \
            validation windows of the job that produced the version; REASON is the verdict and \
            its reason. With --json: the reply's "models" array as one line. \
            'lstmctl rollback VERSION' serves a stored version again.
            """)

    @OptionGroup var options: ControlOptions

    func run() throws {
        var quiet = options
        quiet.json = false
        let reply = try controlRequest("models", options: quiet)
        if options.json {
            print((reply["models"] ?? .array([])).jsonText)
            return
        }
        print(Self.render(reply), terminator: "")
    }

    /// The table of a `models` reply.
    static func render(_ reply: JSONValue) -> String {
        guard case .array(let models)? = reply["models"], !models.isEmpty else { return "no models in the store\n" }
        func metric(_ value: JSONValue?) -> String {
            value?.numberValue.map { String(format: "%.4f", $0) } ?? "-"
        }
        var rows = [["VERSION", "STATE", "CREATED", "TRIGGER", "ACCURACY", "MACRO_F1", "REASON"]]
        for model in models {
            let verdict = model["verdict"]?.stringValue ?? "", reason = model["reason"]?.stringValue ?? ""
            rows.append([
                formatNumber(model["version"]), model["state"]?.stringValue ?? "-", model["created"]?.stringValue ?? "-",
                model["trigger"]?.stringValue ?? "-", metric(model["accuracy"]), metric(model["macro_f1"]),
                [verdict, reason].filter { !$0.isEmpty }.joined(separator: ": "),
            ])
        }
        let serving = reply["current"].map { formatNumber($0) } ?? "-"
        return renderTable(rows) + "\(models.count) model\(models.count == 1 ? "" : "s"), serving \(serving)\n"
    }
}
