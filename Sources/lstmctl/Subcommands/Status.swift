import ArgumentParser
import Foundation
import LSTMKit

/// `lstmctl status`: the daemon's model, streams, counters, drops and rates.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a running lstmd's model, streams, counters, drops and rates.",
        discussion: """
            Sends {"command":"status"} to the control endpoint. Exits 1 when the daemon does not \
            answer within --timeout seconds or refuses the request.
            """)

    @OptionGroup var options: ControlOptions

    func run() throws {
        let reply = try controlRequest("status", options: options)
        if options.json { return }
        print(Self.render(reply), terminator: "")
    }

    /// The human-readable report of a status reply.
    static func render(_ reply: JSONValue) -> String {
        let model = reply["model"], streams = reply["streams"], counters = reply["counters"], rates = reply["rates"]
        var lines: [String] = []
        func line(_ key: String, _ value: String) {
            lines.append(key.padding(toLength: 10, withPad: " ", startingAt: 0) + value)
        }
        line("uptime", "\(formatSeconds(reply["uptime_s"]?.numberValue ?? 0)) s")
        line("model", "\(model?["version"]?.stringValue ?? "-")  \(model?["path"]?.stringValue ?? "")")
        line("digest", model?["digest"]?.stringValue ?? "-")
        var classes: [String] = []
        if case .array(let names)? = model?["classes"] { classes = names.compactMap(\.stringValue) }
        line(
            "serving",
            "mode \(model?["mode"]?.stringValue ?? "-"), window \(formatNumber(model?["window"])), "
                + "hop \(formatNumber(model?["hop"])), \(formatNumber(model?["channels"])) channels, "
                + "classes \(classes.joined(separator: ", "))")
        line(
            "streams",
            "\(formatNumber(streams?["active"])) active / \(formatNumber(streams?["max"])) max, "
                + "\(formatNumber(streams?["evicted"])) evicted, \(formatNumber(streams?["rejected"])) rejected, "
                + "\(formatNumber(streams?["bytes"])) bytes of state")
        line(
            "counters",
            "\(formatNumber(counters?["frames"])) frames, \(formatNumber(counters?["timesteps"])) timesteps, "
                + "\(formatNumber(counters?["labels"])) labels, \(formatNumber(counters?["labelled_frames"])) labelled frames, "
                + "\(formatNumber(counters?["gaps"])) gaps, \(formatNumber(counters?["reloads"])) reloads, "
                + "\(formatNumber(counters?["dropped"])) dropped")
        var drops: [String] = []
        if case .object(let members)? = reply["drops"] {
            for key in members.keys.sorted() {
                if let count = members[key]?.numberValue, count != 0 { drops.append("\(key) \(formatNumber(.number(count)))") }
            }
        }
        line("drops", drops.isEmpty ? "none" : drops.joined(separator: ", "))
        let rate = { (key: String) in String(format: "%.1f", rates?[key]?.numberValue ?? 0) }
        line(
            "rates",
            "\(rate("frames_per_s")) frames/s, \(rate("timesteps_per_s")) timesteps/s, \(rate("labels_per_s")) labels/s")
        return lines.joined(separator: "\n") + "\n"
    }
}
