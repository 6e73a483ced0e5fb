import ArgumentParser
import Foundation
import LSTMKit

/// `lstmctl streams`: the daemon's active streams, one line each.
struct Streams: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List a running lstmd's active streams (sorted by id).",
        discussion: """
            Text output: one line per stream with its frames, timesteps, labels, sequence gaps, \
            last sequence number, last label and idle seconds, then the total count.
            """)

    @OptionGroup var options: ControlOptions

    @Option(help: "The most streams to list.")
    var limit = 1000

    func validate() throws {
        guard limit >= 0 else { throw ValidationError("--limit must not be negative, got \(limit)") }
    }

    func run() throws {
        let reply = try controlRequest("streams", ["limit": .number(Double(limit))], options: options)
        if options.json { return }
        var rows: [[String]] = [["STREAM", "FRAMES", "TIMESTEPS", "LABELS", "GAPS", "LAST_SEQ", "LAST_LABEL", "IDLE_S"]]
        var listed = 0
        if case .array(let streams)? = reply["streams"] {
            listed = streams.count
            for stream in streams {
                rows.append([
                    stream["id"]?.stringValue ?? "-", formatNumber(stream["frames"]), formatNumber(stream["timesteps"]),
                    formatNumber(stream["labels"]), formatNumber(stream["gaps"]), formatNumber(stream["last_sequence"]),
                    stream["last_label"]?.stringValue ?? "-",
                    String(format: "%.1f", stream["idle_s"]?.numberValue ?? 0),
                ])
            }
        }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            let cells = row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }
            print(cells.joined(separator: "  "))
        }
        let total = formatNumber(reply["count"])
        print(listed == Int(reply["count"]?.numberValue ?? 0) ? "\(total) streams" : "\(total) streams (\(listed) listed)")
    }
}
