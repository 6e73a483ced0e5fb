import ArgumentParser
import Foundation
import LSTMKit
import ZeroMQ

/// A run-time failure of a subcommand: printed as `Error: <message>`, exit status 1 (unlike a
/// `ValidationError`, which is a usage mistake and prints the usage line too).
struct CommandFailure: Error, CustomStringConvertible {
    /// What went wrong, for a person.
    var message: String

    init(_ message: String) { self.message = message }

    var description: String { message }
}

/// A problem with the input (a data file that does not parse, a model that does not fit the
/// data) or with a setting's value (a recipe key): printed as `Error: <message>` without the usage
/// banner, exit status 65 (EX_DATAERR) or 78 (EX_CONFIG) — it is not a usage mistake.
struct InputError: Error, CustomStringConvertible {
    /// sysexits' EX_DATAERR: the input data was incorrect.
    static let data: Int32 = 65
    /// sysexits' EX_CONFIG: a setting (recipe key or flag value) is wrong.
    static let configuration: Int32 = 78

    var message: String
    var exitCode: Int32

    init(_ message: String, exitCode: Int32 = InputError.data) {
        self.message = message
        self.exitCode = exitCode
    }

    var description: String { message }
}

/// Options every control subcommand (`status`, `streams`, `reset`, `close`, `reload`) shares.
struct ControlOptions: ParsableArguments {
    @Option(help: "The daemon's control (REP) endpoint.")
    var endpoint = "tcp://127.0.0.1:5557"

    @Option(help: "Seconds to wait for the reply.")
    var timeout = 5.0

    @Flag(help: "Print the reply object as one line of JSON.")
    var json = false

    @OptionGroup var curve: CurveOptions

    func validate() throws {
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be in (0, 3600] seconds, got \(timeout)") }
    }
}

/// Sends one control request to the daemon and returns its reply object.
///
/// One REQ socket per call, closed with linger 0: a daemon that does not answer within
/// `options.timeout` leaves nothing behind.
/// - Parameters:
///   - command: The command name (`status`, `streams`, `reset`, `close`, `reload`).
///   - fields: Extra request members, for example `"stream"`.
///   - options: Endpoint, timeout and output format.
/// - Returns: The reply, a JSON object whose `"ok"` is `true`.
/// - Throws: `CommandFailure` when the daemon does not answer in time, answers with something
///   that is not a JSON object, or answers `"ok": false` (its `"error"` is the message). With
///   `--json` the reply is printed before such a failure is thrown.
func controlRequest(_ command: String, _ fields: [String: JSONValue] = [:], options: ControlOptions) throws -> JSONValue {
    var request = fields
    request["command"] = .string(command)
    let replyText: String
    let keys = try options.curve.keys()
    do {
        let context = try ZMQContext()
        let socket = try ZMQSocket(.req, context: context)
        try socket.set(.linger, to: 0)
        let milliseconds = max(1, Int(options.timeout * 1000))
        try socket.set(.receiveTimeout, to: milliseconds)
        try socket.set(.sendTimeout, to: milliseconds)
        try keys.apply(to: socket)
        try socket.connect(options.endpoint)
        guard try socket.send(Array(JSONValue.object(request).jsonText.utf8)),
            let reply = try socket.receiveMultipart(maxParts: 1), let part = reply.parts.first
        else {
            throw CommandFailure(
                "no reply from \(options.endpoint) within \(formatSeconds(options.timeout)) s: is lstmd running with --control \(options.endpoint)?")
        }
        replyText = String(decoding: part, as: UTF8.self)
    } catch let error as ZMQError {
        throw CommandFailure("\(options.endpoint): \(error)")
    }
    guard let reply = try? JSONValue.parse(replyText), case .object = reply else {
        throw CommandFailure("\(options.endpoint) replied with something that is not a JSON object: \(replyText.prefix(200))")
    }
    if options.json { print(replyText) }
    guard case .bool(true) = reply["ok"] else {
        throw CommandFailure("lstmd: \(reply["error"]?.stringValue ?? replyText)")
    }
    return reply
}

/// A JSON number as an integer when it is one, else with up to 6 significant digits; "-" when
/// absent.
func formatNumber(_ value: JSONValue?) -> String {
    guard let number = value?.numberValue else { return value?.stringValue ?? "-" }
    if number.rounded() == number, abs(number) < 1e15 { return String(Int(number)) }
    return String(format: "%.6g", number)
}

/// Seconds with up to 3 decimals, trailing zeros dropped ("5", "0.25").
func formatSeconds(_ seconds: Double) -> String {
    var text = String(format: "%.3f", seconds)
    while text.hasSuffix("0") { text.removeLast() }
    if text.hasSuffix(".") { text.removeLast() }
    return text
}

extension ControlOptions {
    /// Options for requests to `endpoint` made by a command whose own flags differ from the
    /// shared ones (`label`, `retrain`): each reply is awaited up to `timeout` seconds, clamped
    /// to the range `--timeout` accepts.
    /// - Parameters:
    ///   - endpoint: The daemon's control endpoint.
    ///   - timeout: Seconds to wait for each reply.
    ///   - json: Print each reply as one line of JSON, as `--json` does.
    ///   - curve: The CURVE keys to connect with (none: plain).
    static func requests(to endpoint: String, timeout: Double, json: Bool = false, curve: CurveOptions? = nil) throws -> ControlOptions {
        let seconds = min(max(timeout, 0.001), 3600)
        return try ControlOptions.parse(["--endpoint=\(endpoint)", "--timeout=\(seconds)"] + (json ? ["--json"] : []) + (curve?.arguments ?? []))
    }
}

/// Rows as aligned text columns separated by two spaces; the last column is not padded. The
/// first row is usually the header.
func renderTable(_ rows: [[String]]) -> String {
    guard let columns = rows.map(\.count).max() else { return "" }
    let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
    return rows.map { row in
        row.enumerated().map { column, cell in
            column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }.joined(separator: "\n") + "\n"
}
