internal import CSystemd
import Glibc
import Logging

/// Tells the service manager about the daemon's state through the `sd_notify(3)` protocol.
///
/// Every call is cheap when the daemon does not run under systemd (`NOTIFY_SOCKET` unset): libsystemd
/// returns at once and nothing is sent. Sending never throws: each method returns whether a datagram
/// was sent, and a failure is reported at `debug` level to the optional logger, so the serving loop
/// can call these methods without error handling.
///
/// The notifier reads the environment at each call and never unsets `NOTIFY_SOCKET`, so it is a
/// plain value that any thread may use.
public struct SystemdNotifier: Sendable {
    private let logger: Logger?

    /// Creates a notifier.
    ///
    /// - Parameter logger: Receives a `debug` record when a message cannot be sent; `nil` stays silent.
    public init(logger: Logger? = nil) {
        self.logger = logger
    }

    /// Whether the service manager listens: `NOTIFY_SOCKET` is set and not empty.
    public var isEnabled: Bool {
        guard let socket = ProcessEnvironment.value("NOTIFY_SOCKET") else { return false }
        return !socket.isEmpty
    }

    /// The watchdog timeout the service manager enforces (`WatchdogSec=`), or `nil` when the watchdog
    /// is disabled for this process.
    ///
    /// Read from `WATCHDOG_USEC` through `sd_watchdog_enabled(3)`, which also checks that
    /// `WATCHDOG_PID`, when set, names this process. Ping with ``watchdog()`` at about half this
    /// interval; ``WatchdogPacer`` does the bookkeeping.
    public var watchdogInterval: Duration? {
        var usec: UInt64 = 0
        let result = sd_watchdog_enabled(0, &usec)
        guard result > 0, usec > 0 else { return nil }
        return .microseconds(Int64(clamping: usec))
    }

    /// Sends `READY=1`: start-up (or a reload) has finished and the daemon serves.
    ///
    /// - Returns: `true` when the message was sent, `false` when notifications are disabled or failed.
    @discardableResult
    public func ready() -> Bool {
        send("READY=1")
    }

    /// Sends `RELOADING=1` together with `MONOTONIC_USEC=` (now on `CLOCK_MONOTONIC`, in µs), in one
    /// message, as `Type=notify-reload` requires. Send ``ready()`` once the reload is complete.
    ///
    /// - Returns: `true` when the message was sent.
    @discardableResult
    public func reloading() -> Bool {
        send("RELOADING=1\nMONOTONIC_USEC=\(Self.monotonicMicroseconds())")
    }

    /// Sends `STOPPING=1`: the daemon has begun to shut down.
    ///
    /// - Returns: `true` when the message was sent.
    @discardableResult
    public func stopping() -> Bool {
        send("STOPPING=1")
    }

    /// Sends `STATUS=<text>`, the one-line status that `systemctl status` shows.
    ///
    /// - Parameter text: Free text; newlines are replaced by spaces because they separate fields in
    ///   the protocol.
    /// - Returns: `true` when the message was sent.
    @discardableResult
    public func status(_ text: String) -> Bool {
        send("STATUS=\(Self.singleLine(text))")
    }

    /// Sends `WATCHDOG=1`, the keep-alive ping. Call it only while the serving loop makes progress.
    ///
    /// - Returns: `true` when the message was sent.
    @discardableResult
    public func watchdog() -> Bool {
        send("WATCHDOG=1")
    }

    /// Sends `EXTEND_TIMEOUT_USEC=<µs>`: asks for more time for the current start-up, reload or
    /// shutdown step (for example while a large model loads).
    ///
    /// - Parameter duration: The extension counted from now; negative values count as zero.
    /// - Returns: `true` when the message was sent.
    @discardableResult
    public func extendTimeout(by duration: Duration) -> Bool {
        send("EXTEND_TIMEOUT_USEC=\(Self.microseconds(duration))")
    }

    /// Sends a raw state string as is, e.g. `"READY=1\nSTATUS=serving"`.
    ///
    /// - Parameter raw: Newline-separated `KEY=value` assignments (see `sd_notify(3)`).
    /// - Returns: `true` when the message was sent, `false` when notifications are disabled or the
    ///   send failed.
    @discardableResult
    public func send(_ raw: String) -> Bool {
        let result = sd_notify(0, raw)
        if result < 0 {
            logger?.debug(
                "sd_notify failed",
                metadata: ["errno": "\(-result)", "error": "\(String(cString: strerror(-result)))"])
        }
        return result > 0
    }

    /// Microseconds on `CLOCK_MONOTONIC`, the clock `MONOTONIC_USEC=` is read against.
    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) &* 1_000_000 &+ UInt64(now.tv_nsec) / 1_000
    }

    /// Whole microseconds in `duration`, clamped at zero.
    static func microseconds(_ duration: Duration) -> UInt64 {
        guard duration > .zero else { return 0 }
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000)
        if overflow { return .max }
        return whole &+ UInt64(attoseconds / 1_000_000_000_000)
    }

    /// `text` with line breaks turned into spaces.
    static func singleLine(_ text: String) -> String {
        guard text.contains(where: \.isNewline) else { return text }
        return String(text.map { $0.isNewline ? " " : $0 })
    }
}
