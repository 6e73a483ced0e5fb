import Daemon
import Dispatch
import Foundation
import LSTMKit
import Logging
import Systemd

/// SIGTERM/SIGINT stop the daemon (after the frames already received); SIGHUP reloads the model.
final class SignalHandlers {
    private let sources: [any DispatchSourceSignal]

    init(daemon: Daemon, notifier: SystemdNotifier, logger: Logger) {
        let queue = DispatchQueue(label: "lstmd.signals")
        var sources: [any DispatchSourceSignal] = []
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler {
                logger.notice("stopping", metadata: ["signal": "\(signalNumber)"])
                notifier.stopping()
                daemon.stop()
            }
            source.resume()
            sources.append(source)
        }
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: queue)
        hangup.setEventHandler {
            logger.notice("reload requested (SIGHUP)")
            daemon.requestReload()
        }
        hangup.resume()
        sources.append(hangup)
        self.sources = sources
    }
}

/// Pings the systemd watchdog at half its interval, but only while the serving loop makes
/// progress, and keeps STATUS= current.
final class Supervisor: Sendable {
    private let daemon: Daemon
    private let notifier: SystemdNotifier
    private let done = DispatchSemaphore(value: 0)

    init(daemon: Daemon, notifier: SystemdNotifier) {
        self.daemon = daemon
        self.notifier = notifier
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "lstmd-supervisor"
        thread.start()
    }

    func stop() {
        done.signal()
    }

    private func run() {
        let interval = notifier.watchdogInterval
        let period: Double = interval.map { max(0.01, Double($0.components.seconds) / 2 + Double($0.components.attoseconds) / 2e18) } ?? 2
        var lastPinged: UInt64 = 0
        var lastStatus = Date.distantPast
        while done.wait(timeout: .now() + period / 2) == .timedOut {
            let progress = daemon.lastProgress
            if interval != nil, progress != lastPinged {
                notifier.watchdog()
                lastPinged = progress
            }
            if Date().timeIntervalSince(lastStatus) >= 2 {
                lastStatus = Date()
                notifier.status(statusLine(daemon.status))
            }
        }
    }

    private func statusLine(_ status: JSONValue) -> String {
        let version = status["model"]?["version"]?.stringValue ?? "?"
        let streams = Int(status["streams"]?["active"]?.numberValue ?? 0)
        let fps = status["rates"]?["frames_per_s"]?.numberValue ?? 0
        return "model \(version), \(streams) streams, \(String(format: "%.0f", fps)) frames/s"
    }
}
