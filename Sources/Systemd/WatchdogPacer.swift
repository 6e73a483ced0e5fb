/// Decides when to send the systemd watchdog ping (`WATCHDOG=1`).
///
/// A ping must prove that the daemon works, not merely that some timer thread is alive. So the
/// serving loop calls ``recordProgress()`` each time it completes an iteration (an idle poll timeout
/// counts: it shows the loop is not stuck), and whoever owns the pacer calls
/// ``poll(now:)`` regularly and sends the ping when it answers ``Action/ping``. Pings go out every
/// half ``interval`` (``pingPeriod``) and only when progress was recorded since the previous ping;
/// a loop that hangs therefore stops the pings and systemd restarts the service after ``interval``.
///
/// A pure state machine over `ContinuousClock` instants that the caller passes in: it never reads a
/// clock itself, so tests drive it with instants made by adding durations to one reading. It is a
/// value type with no locking: its owner serialises access (one thread, or a `Mutex`).
public struct WatchdogPacer: Sendable, Equatable {
    /// What the caller should do after ``poll(now:)``.
    public enum Action: Sendable, Equatable {
        /// Send `WATCHDOG=1` now (the pacer has already recorded the ping).
        case ping
        /// Nothing is due; poll again at `until` at the latest.
        case wait(until: ContinuousClock.Instant)
        /// A ping is due but the serving loop reported no progress since the last one, so the ping is
        /// withheld. `sinceLastPing` tells how long ago the last ping went out; systemd acts once it
        /// reaches ``WatchdogPacer/interval``.
        case stalled(sinceLastPing: Duration)
    }

    /// The watchdog timeout systemd enforces (`WatchdogSec=`, from ``SystemdNotifier/watchdogInterval``).
    public let interval: Duration
    /// How often pings go out: half of ``interval``.
    public let pingPeriod: Duration
    /// When the last ping was sent (or the pacer started).
    public private(set) var lastPing: ContinuousClock.Instant
    /// Whether the serving loop reported progress since ``lastPing``.
    public private(set) var progressSinceLastPing: Bool

    /// Creates a pacer.
    ///
    /// - Parameters:
    ///   - interval: The watchdog timeout; must be positive.
    ///   - start: When the service started (or last pinged); the first ping is due half an interval
    ///     later.
    public init(interval: Duration, start: ContinuousClock.Instant) {
        precondition(interval > .zero, "WatchdogPacer needs a positive interval, got \(interval)")
        self.interval = interval
        self.pingPeriod = interval / 2
        self.lastPing = start
        self.progressSinceLastPing = false
    }

    /// The instant the next ping is due.
    public var nextPingDue: ContinuousClock.Instant {
        lastPing + pingPeriod
    }

    /// Records that the serving loop completed an iteration since the last ping.
    public mutating func recordProgress() {
        progressSinceLastPing = true
    }

    /// Decides what to do at `now`.
    ///
    /// When it returns ``Action/ping`` the pacer counts the ping as sent at `now` and clears the
    /// progress flag, so the caller must send `WATCHDOG=1` right away.
    ///
    /// - Parameter now: The current reading of `ContinuousClock`.
    /// - Returns: ``Action/ping``, ``Action/wait(until:)`` or ``Action/stalled(sinceLastPing:)``.
    public mutating func poll(now: ContinuousClock.Instant) -> Action {
        let due = nextPingDue
        guard now >= due else { return .wait(until: due) }
        guard progressSinceLastPing else { return .stalled(sinceLastPing: lastPing.duration(to: now)) }
        lastPing = now
        progressSinceLastPing = false
        return .ping
    }
}
