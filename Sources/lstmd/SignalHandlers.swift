import Daemon
import Dispatch
import Foundation
import LSTMKit
import Logging
import Systemd

/// SIGTERM/SIGINT stop the daemon (after the frames already received); SIGHUP reloads the model.
///
/// The handler only writes the signal's number to a pipe (async-signal-safe); a thread of ours
/// reads the pipe and acts. Dispatch signal sources are not used: resuming one starts
/// libdispatch's manager thread, which asks for a user-interactive nice value (-4) and, without
/// CAP_SYS_NICE (any systemd service with DynamicUser=), logs "Failed to set thread priority for
/// worker thread … errno=13" to syslog at every start.
final class SignalHandlers {
    private let thread: Thread

    /// Installs the handlers.
    /// - Parameter onStop: runs on SIGTERM/SIGINT before the daemon is asked to stop.
    /// - Parameter reloadConfiguration: re-reads the configuration (file, environment, flags) on
    ///   SIGHUP; when it throws, the error is logged and the current configuration and model stay.
    init(
        daemon: Daemon, notifier: SystemdNotifier, logger: Logger,
        reloadConfiguration: @escaping @Sendable () throws -> Configuration,
        onStop: @escaping @Sendable () -> Void = {}
    ) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            fatalError("lstmd: cannot create the signal pipe: errno \(errno)")
        }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        signalPipe = fds[1]
        let readEnd = fds[0]
        for signalNumber in [SIGTERM, SIGINT, SIGHUP] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                var byte = UInt8(truncatingIfNeeded: number)
                let saved = errno
                _ = write(signalPipe, &byte, 1)
                errno = saved
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(signalNumber, &action, nil)
        }
        thread = Thread {
            var byte: UInt8 = 0
            while true {
                let count = read(readEnd, &byte, 1)
                if count < 0, errno == EINTR { continue }
                guard count == 1 else { return }
                let number = Int32(byte)
                if number == SIGHUP {
                    logger.notice("reload requested (SIGHUP)")
                    do {
                        daemon.requestReload(configuration: try reloadConfiguration())
                    } catch {
                        notifier.reloading()
                        logger.error("configuration refused; the current configuration and model keep serving", metadata: ["error": "\(error)"])
                        notifier.ready()
                        notifier.status("reload refused: \(error)")
                    }
                } else {
                    logger.notice("stopping", metadata: ["signal": "\(number)"])
                    notifier.stopping()
                    onStop()
                    daemon.stop()
                }
            }
        }
        thread.name = "lstmd-signals"
        thread.start()
    }
}

/// The write end of the signal pipe, read by the async-signal-safe handler (set once, before any
/// handler is installed).
nonisolated(unsafe) private var signalPipe: Int32 = -1

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
