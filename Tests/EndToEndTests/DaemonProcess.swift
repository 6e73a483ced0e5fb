import Foundation
import LSTMKit
import Testing
import ZeroMQ

/// Bounds for every wait, in seconds.
enum Timeouts {
    /// The daemon answers `status` after start.
    static let startup: Double = 20
    /// A message that must arrive.
    static let arrival: Double = 10
    /// The daemon exits after SIGTERM.
    static let exit: Double = 10
}

/// A temporary directory, short enough for the 107-byte limit of IPC paths; removed on `remove()`.
struct TemporaryDirectory {
    let url: URL
    var path: String { url.path }

    init() throws {
        url = URL(fileURLWithPath: "/tmp").appendingPathComponent("lstmd-e2e-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// An existing directory, e.g. inside another temporary directory.
    init(existing url: URL) {
        self.url = url
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// One `lstmd` process bound to IPC endpoints in a temporary directory, with a control client,
/// a frame sender and a label subscriber.
///
/// Not `Sendable`: its sockets belong to the test that made it.
final class DaemonProcess {
    let directory: TemporaryDirectory
    let process: Process
    let logURL: URL
    let ingestEndpoint: String
    let publishEndpoint: String
    let controlEndpoint: String
    let context: ZMQContext
    private var control: ZMQSocket
    let sender: ZMQSocket
    let subscriber: LabelSubscriber
    /// The status answered at start.
    private(set) var initialStatus: JSONValue = .null
    private var stopped = false

    /// Starts `lstmd` with `arguments` (besides the endpoints) and waits until `status` answers.
    /// - Throws: `HarnessError` when the binary is missing, the process exits, or it does not
    ///   answer within `Timeouts.startup`.
    /// `launcher`: a command that execs lstmd in its own process (e.g. `prlimit --nofile=…`).
    init(arguments: [String] = [], environment extra: [String: String] = [:], launcher: [String] = []) throws {
        directory = try TemporaryDirectory()
        ingestEndpoint = "ipc://\(directory.path)/ingest"
        publishEndpoint = "ipc://\(directory.path)/publish"
        controlEndpoint = "ipc://\(directory.path)/control"
        logURL = directory.url.appendingPathComponent("lstmd.log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        process = Process()
        let endpoints = ["--ingest", ingestEndpoint, "--publish", publishEndpoint, "--control", controlEndpoint]
        if let command = launcher.first {
            process.executableURL = URL(fileURLWithPath: command)
            process.arguments = launcher.dropFirst() + [try LSTMDBinary.url().path] + endpoints + arguments
        } else {
            process.executableURL = try LSTMDBinary.url()
            process.arguments = endpoints + arguments
        }
        let log = try FileHandle(forWritingTo: logURL)
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = nil
        environment["WATCHDOG_USEC"] = nil
        environment.merge(extra) { $1 }
        process.environment = environment
        context = try ZMQContext()
        control = try Self.makeControlSocket(context: context, endpoint: controlEndpoint)
        sender = try ZMQSocket(.push, context: context)
        try sender.set(.sendTimeout, to: Int(Timeouts.arrival * 1000))
        try sender.set(.linger, to: 2000)
        subscriber = try LabelSubscriber(context: context)
        try process.run()
        try? log.close()
        do {
            initialStatus = try waitForStatus()
            try sender.connect(ingestEndpoint)
            try subscriber.connect(publishEndpoint)
        } catch {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let log = self.log
            directory.remove()
            throw HarnessError("\(error)\n--- lstmd log ---\n\(log)")
        }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        directory.remove()
    }

    private static func makeControlSocket(context: ZMQContext, endpoint: String) throws -> ZMQSocket {
        let socket = try ZMQSocket(.req, context: context)
        try socket.set(.receiveTimeout, to: Int(Timeouts.arrival * 1000))
        try socket.set(.sendTimeout, to: Int(Timeouts.arrival * 1000))
        try socket.connect(endpoint)
        return socket
    }

    /// What the daemon wrote to stdout and stderr so far.
    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// Waits (bounded by `timeout`) until the log satisfies `condition`, polling the file.
    func waitForLog(timeout: Double = Timeouts.arrival, _ condition: (String) -> Bool) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition(log) { return true }
            // A daemon that exited writes nothing more: no point waiting out the timeout.
            if !process.isRunning { break }
            usleep(20_000)
        }
        return condition(log)
    }

    /// The model the daemon serves, as reported at start: channels, window, hop, classes.
    var channels: Int { Int(initialStatus["model"]?["channels"]?.numberValue ?? 0) }
    var window: Int { Int(initialStatus["model"]?["window"]?.numberValue ?? 0) }
    var hop: Int { Int(initialStatus["model"]?["hop"]?.numberValue ?? 0) }

    private func waitForStatus() throws -> JSONValue {
        let deadline = Date().addingTimeInterval(Timeouts.startup)
        try control.set(.receiveTimeout, to: 200)
        defer { try? control.set(.receiveTimeout, to: Int(Timeouts.arrival * 1000)) }
        while Date() < deadline {
            guard process.isRunning else {
                throw HarnessError("lstmd exited with status \(process.terminationStatus) before answering status")
            }
            if let reply = try? requestOnce(#"{"command":"status"}"#), reply["ok"] == .bool(true) {
                return reply
            }
            // A REQ socket that timed out cannot send again: start a new one.
            control.close()
            control = try Self.makeControlSocket(context: context, endpoint: controlEndpoint)
            try control.set(.receiveTimeout, to: 200)
        }
        throw HarnessError("lstmd did not answer status within \(Timeouts.startup) s")
    }

    private func requestOnce(_ text: String) throws -> JSONValue {
        guard try control.send(Array(text.utf8)) else { throw HarnessError("control send timed out") }
        guard let reply = try control.receiveMultipart() else { throw HarnessError("no control reply to \(text)") }
        return try JSONValue.parse(String(decoding: reply.parts.first ?? [], as: UTF8.self))
    }

    /// Sends a control request and returns the reply.
    /// - Throws: `HarnessError` when no reply arrives within `Timeouts.arrival`.
    @discardableResult
    func request(_ text: String) throws -> JSONValue {
        do {
            return try requestOnce(text)
        } catch {
            control.close()
            control = try Self.makeControlSocket(context: context, endpoint: controlEndpoint)
            throw HarnessError("control request \(text) failed: \(error) (daemon running: \(process.isRunning))")
        }
    }

    /// Sends a control request built from a JSON object.
    @discardableResult
    func request(_ object: [String: JSONValue]) throws -> JSONValue {
        try request(JSONValue.object(object).jsonText)
    }

    /// The current `status`.
    func status() throws -> JSONValue { try request(#"{"command":"status"}"#) }

    /// The `drops` counters of `status`.
    func drops() throws -> [String: Int] {
        guard case .object(let drops)? = try status()["drops"] else { throw HarnessError("status without drops") }
        return drops.mapValues { Int($0.numberValue ?? -1) }
    }

    /// The `streams` list, by id.
    func streams() throws -> [String: JSONValue] {
        guard case .array(let list)? = try request(#"{"command":"streams"}"#)["streams"] else {
            throw HarnessError("streams reply without a list")
        }
        var byID: [String: JSONValue] = [:]
        for item in list { if let id = item["id"]?.stringValue { byID[id] = item } }
        return byID
    }

    /// Sends a message of any parts on the ingest socket.
    func send(_ parts: [[UInt8]]) throws {
        guard try sender.send(parts: parts) else { throw HarnessError("ingest send timed out") }
    }

    /// Makes sure the subscriber receives labels (PUB/SUB joins late): sends frames on a probe
    /// stream until one of its labels arrives, then closes the probe stream in the daemon.
    func awaitSubscription() throws {
        var probe = TestStream(id: "__probe__", channels: channels)
        let deadline = Date().addingTimeInterval(Timeouts.arrival)
        var first = true
        while Date() < deadline {
            try send(probe.frame(values: [Float](repeating: 0.5, count: (first ? window : hop) * channels)))
            first = false
            if try subscriber.waitFor(stream: probe.id, count: 1, timeout: 0.05) { break }
        }
        guard subscriber.labels(of: probe.id).count >= 1 else {
            throw HarnessError("no probe label within \(Timeouts.arrival) s")
        }
        let reply = try request(["command": .string("close"), "stream": .string(probe.id)])
        guard reply["ok"] == .bool(true) else { throw HarnessError("cannot close the probe stream: \(reply)") }
    }

    /// Polls `status` until `condition` holds.
    /// - Returns: the status that satisfied it, or nil after `timeout`.
    func waitForStatus(timeout: Double = Timeouts.arrival, _ condition: (JSONValue) -> Bool) throws -> JSONValue? {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            let status = try status()
            if condition(status) { return status }
            usleep(20_000)
        } while Date() < deadline
        return nil
    }

    /// Sends SIGTERM and waits for the exit.
    /// - Returns: the exit status, or nil when the daemon did not exit within `Timeouts.exit`
    ///   (it is killed then) or was killed by a signal.
    func terminate() -> (status: Int32, reason: Process.TerminationReason)? {
        stopped = true
        guard process.isRunning else { return (process.terminationStatus, process.terminationReason) }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(Timeouts.exit)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        process.waitUntilExit()
        return (process.terminationStatus, process.terminationReason)
    }

    /// Sends SIGTERM and records an issue unless the daemon exits with status 0 in time.
    func stop(sourceLocation: SourceLocation = #_sourceLocation) {
        guard !stopped else { return }
        let result = terminate()
        #expect(
            result?.status == 0 && result?.reason == .exit,
            "lstmd did not exit cleanly after SIGTERM: \(String(describing: result))\n--- lstmd log ---\n\(log.suffix(4000))",
            sourceLocation: sourceLocation)
    }
}

/// Starts a daemon, runs `body`, and stops it (SIGTERM, exit 0 within 10 s expected) even when
/// `body` throws.
func withDaemon<R>(
    _ arguments: [String] = [], subscribe: Bool = true, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: (DaemonProcess) throws -> R
) throws -> R {
    let daemon = try DaemonProcess(arguments: arguments)
    defer { daemon.stop(sourceLocation: sourceLocation) }
    if subscribe { try daemon.awaitSubscription() }
    return try body(daemon)
}
