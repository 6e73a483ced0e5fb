import Foundation
import Logging

/// SIGTERM/SIGINT stop the daemon (after the frames already received); SIGHUP reloads.
///
/// The handler only writes the signal's number to a pipe (async-signal-safe); a thread of ours
/// reads the pipe and acts. Dispatch signal sources are not used: resuming one starts
/// libdispatch's manager thread, which asks for a user-interactive nice value (-4) and, without
/// CAP_SYS_NICE (any systemd service with DynamicUser=), logs "Failed to set thread priority for
/// worker thread … errno=13" to syslog at every start.
final class SignalHandlers {
    /// What a signal asks.
    enum Request {
        /// SIGTERM, SIGINT.
        case stop
        /// SIGHUP.
        case reload
    }

    private let thread: Thread

    /// Installs the handlers.
    /// - Parameter handle: runs on the handlers' thread for each signal received.
    init(logger: Logger, handle: @escaping @Sendable (Request) -> Void) {
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
                    handle(.reload)
                } else {
                    logger.notice("stopping", metadata: ["signal": "\(number)"])
                    handle(.stop)
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
