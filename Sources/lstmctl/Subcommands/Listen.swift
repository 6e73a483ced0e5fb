import ArgumentParser
import Foundation
import LSTMKit
import ZeroMQ

/// `lstmctl listen --endpoint E`: prints the labels lstmd publishes.
struct Listen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the labels lstmd publishes, one line each.",
        discussion: """
            Text lines: stream, label, its probability, sequence number of the frame that completed \
            the window, model version. With --json each line is the label object exactly as \
            published. Lines are flushed one by one, so pipes see them at once. Ends after --count \
            labels, or after --timeout seconds without one (exit 1 when --count was not reached).
            """)

    @Option(help: "The daemon's label (PUB) endpoint.")
    var endpoint = "tcp://127.0.0.1:5556"

    @Option(help: "Only streams whose id starts with this prefix (default: all).")
    var stream = ""

    @Flag(help: "Print each label object as received, one JSON object per line.")
    var json = false

    @Option(help: "Exit after this many labels.")
    var count: Int?

    @Option(help: "Exit after this many seconds without a label.")
    var timeout: Double?

    @OptionGroup var curve: CurveOptions

    func validate() throws {
        if let count { guard count >= 1 else { throw ValidationError("--count must be at least 1, got \(count)") } }
        if let timeout { guard timeout > 0, timeout <= 86_400 else { throw ValidationError("--timeout must be in (0, 86400] seconds, got \(timeout)") } }
    }

    func run() throws {
        var received = 0
        let keys = try curve.keys()
        do {
            let context = try ZMQContext()
            let socket = try ZMQSocket(.sub, context: context)
            try socket.set(.linger, to: 0)
            try socket.set(.receiveTimeout, to: timeout.map { max(1, Int($0 * 1000)) } ?? -1)
            try socket.subscribe(stream.utf8)
            try keys.apply(to: socket)
            try socket.connect(endpoint)
            let output = FileHandle.standardOutput
            while count.map({ received < $0 }) ?? true {
                guard let message = try socket.receiveMultipart(maxParts: 2) else { break }
                guard message.partCount == 2 else {
                    printError("skipped a message of \(message.partCount) parts (a label is [stream id][JSON])")
                    continue
                }
                let text = String(decoding: message.parts[1], as: UTF8.self)
                let line = json ? text : Self.summary(text)
                output.write(Data((line + "\n").utf8))
                received += 1
            }
        } catch {
            // Every call above throws only ZMQError.
            throw CommandFailure("\(endpoint): \(error)")
        }
        if let count, received < count, let timeout {
            throw CommandFailure("no label for \(formatSeconds(timeout)) s: received \(received) of \(count)")
        }
    }

    /// The human line for one label object: stream, label, top probability, seq, model version.
    static func summary(_ text: String) -> String {
        guard let label = try? JSONValue.parse(text), case .object = label else { return "unparsed: \(text)" }
        let name = label["label"]?.stringValue ?? "-"
        let probability = label["probabilities"]?[name]?.numberValue.map { String(format: "%.4f", $0) } ?? "-"
        return [
            label["stream"]?.stringValue ?? "-", name, probability,
            "seq \(formatNumber(label["seq"]))", "model \(label["model_version"]?.stringValue ?? "-")",
        ].joined(separator: "\t")
    }
}
