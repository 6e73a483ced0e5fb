import Foundation
import LSTMKit
import Glibc
import Testing

/// The real `lstmd` speaks the sd_notify protocol to a socket the test owns, as systemd would see
/// it with `Type=notify` and `WatchdogSec=`.
@Suite struct NotifyTests {
    static let watchdogMicroseconds = 400_000

    /// One datagram and when it arrived (seconds since the test started).
    struct Message {
        var text: String
        var at: Double
    }

    /// Collects datagrams until `until` returns true for one (which is returned) or `timeout`
    /// seconds pass (nil).
    private func receive(
        _ socket: NotifySocket, into log: inout [Message], start: Date, timeout: Double, until: (String) -> Bool
    ) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard let text = socket.receive(timeout: deadline.timeIntervalSinceNow) else { continue }
            log.append(Message(text: text, at: Date().timeIntervalSince(start)))
            if until(text) { return text }
        }
        return nil
    }

    private func environment(_ socket: NotifySocket, _ extra: [String: String] = [:]) -> [String: String] {
        ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "\(Self.watchdogMicroseconds)"].merging(extra) { $1 }
    }

    @Test func readyWatchdogReloadStopSequence() throws {
        let socket = try NotifySocket()
        let start = Date()
        let daemon = try DaemonProcess(environment: environment(socket))
        var log: [Message] = []
        let ready = receive(socket, into: &log, start: start, timeout: 30) { $0 == "READY=1" }
        try #require(ready != nil, "no READY=1; daemon log:\n\(daemon.log)")
        #expect(!log.contains { $0.text.contains("WATCHDOG=1") }, "a watchdog ping before READY=1")

        // Pings keep coming while the loop runs. Their pacing (every half interval, only after
        // fresh progress) is `WatchdogPacer`'s, tested on instants the test makes (SystemdTests):
        // here only that they arrive, waiting for the third without a wall-clock bound to meet.
        var pings = 0
        _ = receive(socket, into: &log, start: start, timeout: 30) { text in
            if text == "WATCHDOG=1" { pings += 1 }
            return pings >= 3
        }
        #expect(pings >= 3, "only \(pings) watchdog pings; daemon log:\n\(daemon.log)")

        // SIGHUP: RELOADING=1 with MONOTONIC_USEC in one datagram, then READY=1.
        let before = monotonicMicroseconds()
        daemon.signal(SIGHUP)
        let reloading = receive(socket, into: &log, start: start, timeout: 15) { $0.hasPrefix("RELOADING=1") }
        let reloadText = try #require(reloading, "no RELOADING=1; daemon log:\n\(daemon.log)")
        let fields = reloadText.split(separator: "\n")
        #expect(fields.count == 2)
        let usec = fields.first { $0.hasPrefix("MONOTONIC_USEC=") }.flatMap { UInt64($0.dropFirst("MONOTONIC_USEC=".count)) }
        let stamp = try #require(usec, "RELOADING=1 without MONOTONIC_USEC: '\(reloadText)'")
        #expect(stamp >= before && stamp <= monotonicMicroseconds())
        let readyAgain = receive(socket, into: &log, start: start, timeout: 15) { $0 == "READY=1" }
        #expect(readyAgain != nil, "no READY=1 after the reload; daemon log:\n\(daemon.log)")
        // Pings go on after the reload.
        let afterReload = log.count
        _ = receive(socket, into: &log, start: start, timeout: 0.6) { _ in false }
        #expect(log[afterReload...].contains { $0.text == "WATCHDOG=1" })

        // SIGTERM: STOPPING=1, exit 0.
        daemon.signal(SIGTERM)
        let stopping = receive(socket, into: &log, start: start, timeout: 15) { $0 == "STOPPING=1" }
        #expect(stopping != nil, "no STOPPING=1")
        let status = daemon.waitForExit(timeout: 20)
        #expect(status == 0, "exit status \(String(describing: status)); log:\n\(daemon.log)")
        let order = log.map(\.text).filter { ["READY=1", "STOPPING=1"].contains($0) || $0.hasPrefix("RELOADING=1") }
        #expect(order.count == 4 && order[0] == "READY=1" && order[1].hasPrefix("RELOADING=1") && order[2] == "READY=1" && order[3] == "STOPPING=1", "\(order)")
    }

    @Test func stalledServingLoopStopsThePings() throws {
        let socket = try NotifySocket()
        let start = Date()
        let daemon = try DaemonProcess(environment: environment(socket, ["LSTMD_DEBUG_STALL_AFTER_MS": "1000"]))
        var log: [Message] = []
        let ready = receive(socket, into: &log, start: start, timeout: 30) { $0 == "READY=1" }
        try #require(ready != nil, "no READY=1; daemon log:\n\(daemon.log)")
        let readyAt = log.last!.at
        // The loop stalls 1 s after READY=1; watch for 2.2 s more.
        _ = receive(socket, into: &log, start: start, timeout: 3.2) { _ in false }
        let end = Date().timeIntervalSince(start)
        let pings = log.filter { $0.text == "WATCHDOG=1" }.map(\.at)
        #expect(pings.count >= 2, "the loop pinged \(pings.count) times before it stalled")
        let last = try #require(pings.last)
        let interval = Double(Self.watchdogMicroseconds) / 1e6
        #expect(end - last > 2 * interval, "a ping \(end - last) s before the end: the stall did not stop the pings")
        #expect(last - readyAt < 1.0 + interval, "pings went on \(last - readyAt) s after READY=1")
        #expect(daemon.log.contains("stalling the serving loop"))

        // A stalled loop still stops on SIGTERM.
        daemon.signal(SIGTERM)
        let status = daemon.waitForExit(timeout: 20)
        #expect(status == 0, "exit status \(String(describing: status)); log:\n\(daemon.log)")
    }

    /// Settings that validate but do not work (a missing model, a mode the model cannot run, an
    /// endpoint that cannot be bound) are configuration problems too: exit 78, so the unit does
    /// not restart them every 2 s, with the key and where its value came from.
    @Test(arguments: [
        ([], ["LSTMD_MODEL": "/missing.safetensors"], "model (environment variable LSTMD_MODEL): model /missing.safetensors"),
        (["--mode", "continuous", "--model", "BIDIRECTIONAL"], [:], "mode (--mode): model "),
        (["--ingest", "tcp://localhost"], [:], "ingest (--ingest): cannot bind ingest endpoint tcp://localhost"),
        // Plain TCP beyond loopback needs CURVE or an explicit insecure_tcp.
        (["--publish", "tcp://0.0.0.0:5999"], [:], "publish (--publish): plain TCP endpoint tcp://0.0.0.0:5999 is not loopback: set curve_directory"),
        (["--curve-directory", "/nonexistent"], [:], "curve_directory (--curve-directory): /nonexistent/server.key_secret: cannot read"),
    ])
    func startProblemsExitWithEXConfigNamingTheKeyAndSource(
        arguments: [String], environment: [String: String], expected: String
    ) throws {
        // A bidirectional model cannot run in continuous mode.
        let models = try Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: models) }
        let bidirectional = models.appendingPathComponent("bi.safetensors")
        var model = ModelFile.randomlyInitialized(
            architecture: Architecture(inputSize: 6, hiddenSize: 4, bidirectional: true, numClasses: 2), window: 10, hop: 5, seed: 1)
        try model.write(to: bidirectional)
        let daemon = try DaemonProcess(
            arguments: arguments.map { $0 == "BIDIRECTIONAL" ? bidirectional.path : $0 }, environment: environment)
        let status = daemon.waitForExit(timeout: 20)
        #expect(status == 78, "\(daemon.log)")
        #expect(daemon.log.contains("cannot start: configuration: \(expected)"), "\(daemon.log)")
    }

    @Test func badConfigurationExitsWithEXConfigNamingTheKey() throws {
        let daemon = try DaemonProcess(arguments: ["--max-streams", "0"])
        let status = daemon.waitForExit(timeout: 20)
        #expect(status == 78)
        #expect(daemon.log.contains("--max-streams: max_streams: must be in"), "\(daemon.log)")
    }
}
