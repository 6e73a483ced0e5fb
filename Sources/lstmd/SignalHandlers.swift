import Daemon
import Dispatch
import Foundation
import LSTMKit
import Logging
import Systemd

/// SIGTERM/SIGINT stop the daemon (after the frames already received); SIGHUP reloads the model.
final class SignalHandlers {
    private let sources: [any DispatchSourceSignal]

    /// Installs the handlers.
    /// - Parameter onStop: runs on SIGTERM/SIGINT before the daemon is asked to stop.
    /// - Parameter reloadConfiguration: re-reads the configuration (file, environment, flags) on
    ///   SIGHUP; when it throws, the error is logged and the current configuration and model stay.
    init(
        daemon: Daemon, notifier: SystemdNotifier, logger: Logger,
        reloadConfiguration: @escaping @Sendable () throws -> Configuration,
        onStop: @escaping @Sendable () -> Void = {}
    ) {
        let queue = DispatchQueue(label: "lstmd.signals")
        var sources: [any DispatchSourceSignal] = []
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler {
                logger.notice("stopping", metadata: ["signal": "\(signalNumber)"])
                notifier.stopping()
                onStop()
                daemon.stop()
            }
            source.resume()
            sources.append(source)
        }
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: queue)
        hangup.setEventHandler {
            logger.notice("reload requested (SIGHUP)")
            do {
                daemon.requestReload(configuration: try reloadConfiguration())
            } catch {
                notifier.reloading()
                logger.error("configuration refused; the current configuration and model keep serving", metadata: ["error": "\(error)"])
                notifier.ready()
                notifier.status("reload refused: \(error)")
            }
        }
        hangup.resume()
        sources.append(hangup)
        self.sources = sources
    }
}

/// Pings the systemd watchdog while the serving loop makes progress, and keeps STATUS= current.
///
/// The supervisor wakes every quarter of `WATCHDOG_USEC` and sends `WATCHDOG=1` only when the
/// serving loop stamped progress (`Daemon.lastProgress`, stamped every housekeeping pass, at most
/// an eighth of the interval apart) since the previous ping. A healthy loop is thus pinged every
/// quarter interval, comfortably inside systemd's limit even with scheduling delays; a hung loop
/// stops the pings and systemd kills and restarts the service after one interval.
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
        let wake = interval.map { max(0.005, $0.seconds / 4) } ?? 1
        var lastPinged = daemon.lastProgress
        var lastStatus = Date.distantPast
        while done.wait(timeout: .now() + wake) == .timedOut {
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
