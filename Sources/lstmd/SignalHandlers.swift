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
    /// - Parameter onStop: runs on SIGTERM/SIGINT before the daemon is asked to stop. SIGHUP asks
    ///   the daemon to re-read its configuration (`Daemon.requestReload()`).
    init(
        daemon: Daemon, notifier: SystemdNotifier, logger: Logger,
        onStop: @escaping @Sendable () -> Void = {}
    ) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            fatalError("lstmd: cannot create the signal pipe: errno \(errno)")
        }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // A storm of signals must never block the handler: extra bytes are simply dropped.
        _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
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
        // A parent may have started us with these signals blocked (a child inherits the mask of
        // the thread that spawned it, and libdispatch's workers block nearly everything): then no
        // handler would ever run. Unblock them on this (the main) thread, which outlives the
        // others; a process-directed signal goes to a thread that does not block it.
        var wanted = sigset_t()
        sigemptyset(&wanted)
        for signalNumber in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&wanted, signalNumber) }
        pthread_sigmask(SIG_UNBLOCK, &wanted, nil)
        thread = Thread {
            var byte: UInt8 = 0
            while true {
                let count = read(readEnd, &byte, 1)
                if count < 0, errno == EINTR { continue }
                guard count == 1 else { return }
                let number = Int32(byte)
                if number == SIGHUP {
                    // The serving loop re-reads the configuration, as for `lstmctl reload
                    // --configuration`: one path, one set of messages.
                    logger.notice("reload requested (SIGHUP)")
                    daemon.requestReload()
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

/// The write end of the signal pipe, read by the async-signal-safe handler. Set once, before any
/// handler is installed: that first access also runs the global's lazy initialisation (a
/// `swift_once` in unoptimised builds), so the handler's reads never do.
nonisolated(unsafe) private var signalPipe: Int32 = -1

/// Pings the systemd watchdog while the serving loop makes progress, and keeps STATUS= current.
///
/// The pacing policy is `WatchdogPacer`'s (a ping every half `WATCHDOG_USEC`, only when the
/// serving loop stamped progress since the previous one); this thread only feeds it: it wakes every
/// eighth of the interval and, once a ping is due, records progress only when
/// `Daemon.lastProgress` moved since the last ping and is at most a quarter interval old (the
/// loop stamps it every housekeeping pass, at most an eighth of the interval apart), then sends
/// what the pacer decides. A loop that hangs right after a ping is pinged at most once more:
/// systemd kills and restarts it at most 1.25 intervals after it hung.
final class Supervisor: Sendable {
    private let daemon: Daemon
    private let notifier: SystemdNotifier
    private let logger: Logger
    private let done = DispatchSemaphore(value: 0)

    init(daemon: Daemon, notifier: SystemdNotifier, logger: Logger) {
        self.daemon = daemon
        self.notifier = notifier
        self.logger = logger
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
        let clock = ContinuousClock()
        let interval = notifier.watchdogInterval
        var pacer = interval.map { WatchdogPacer(interval: $0, start: clock.now) }
        let wake = interval.map { max(0.005, $0.seconds / 8) } ?? 1
        let freshness = UInt64(max(0, (interval?.seconds ?? 0) / 4) * 1e9)
        var stampAtLastPing = daemon.lastProgress
        var lastStatus = Date.distantPast
        var reportedStall = false
        while done.wait(timeout: .now() + wake) == .timedOut {
            if pacer != nil {
                let now = clock.now
                let stamp = daemon.lastProgress
                if now >= pacer!.nextPingDue, stamp != stampAtLastPing, monotonicNanoseconds() &- stamp <= freshness {
                    pacer!.recordProgress()
                }
                switch pacer!.poll(now: now) {
                case .ping:
                    notifier.watchdog()
                    stampAtLastPing = stamp
                    reportedStall = false
                case .wait:
                    break
                case .stalled(let since):
                    if !reportedStall {
                        logger.warning("the serving loop made no progress: watchdog pings withheld", metadata: ["since_last_ping_s": "\(since.seconds)"])
                        reportedStall = true
                    }
                }
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

/// CLOCK_MONOTONIC in ns, the clock of `Daemon.lastProgress`.
private func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}
