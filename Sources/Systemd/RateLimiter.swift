/// Limits repetitive log records per key (for example a drop reason) to `limit` per `interval`, and
/// counts what it suppresses so the next record can say "suppressed K similar messages".
///
/// Each key has a fixed window that opens at its first event. Within the window the first `limit`
/// events pass and the rest are counted. The first event after the window has ended opens a new
/// window, passes, and carries the count of the previous one in
/// ``Decision/suppressedBefore``. Keys that go quiet are reported and forgotten by
/// ``drainExpired(now:)``, which the owner calls from time to time (it also bounds memory).
///
/// A value type with no lock: the caller owns it (one per thread, or inside a
/// `Mutex<RateLimiter<Key>>` when shared). It never reads a clock unless the `now` argument is left to
/// its default, so tests pass instants made by adding durations to one reading.
public struct RateLimiter<Key: Hashable & Sendable>: Sendable {
    /// The verdict for one event.
    public struct Decision: Sendable, Equatable {
        /// Whether the caller should emit this event.
        public var allowed: Bool
        /// How many events of the same key were suppressed in the window that just ended; non-zero
        /// only on the first allowed event of a new window.
        public var suppressedBefore: Int

        /// Creates a decision.
        ///
        /// - Parameters:
        ///   - allowed: Whether the event passes.
        ///   - suppressedBefore: Events of this key suppressed in the previous window.
        public init(allowed: Bool, suppressedBefore: Int = 0) {
            self.allowed = allowed
            self.suppressedBefore = suppressedBefore
        }

        /// `"suppressed K similar messages"` when ``suppressedBefore`` is positive, else `nil`.
        public var suppressionNote: String? {
            RateLimiter.suppressionNote(count: suppressedBefore)
        }
    }

    private struct Window: Sendable {
        var start: ContinuousClock.Instant
        var passed: Int
        var suppressed: Int
    }

    /// Events that pass per key and window.
    public let limit: Int
    /// The length of one window.
    public let interval: Duration
    private var windows: [Key: Window] = [:]

    /// Creates a rate limiter.
    ///
    /// - Parameters:
    ///   - limit: Events per key that pass in each window; at least 1.
    ///   - interval: The window length; must be positive.
    public init(limit: Int, per interval: Duration) {
        precondition(limit >= 1, "RateLimiter limit must be at least 1, got \(limit)")
        precondition(interval > .zero, "RateLimiter interval must be positive, got \(interval)")
        self.limit = limit
        self.interval = interval
    }

    /// The number of keys with an open or unreported window.
    public var trackedKeys: Int { windows.count }

    /// Records one event for `key` and decides whether it passes.
    ///
    /// - Parameters:
    ///   - key: What makes events "similar", e.g. a drop reason.
    ///   - now: The current `ContinuousClock` reading.
    /// - Returns: Whether to emit the event, and how many were suppressed in the window before.
    public mutating func record(_ key: Key, now: ContinuousClock.Instant = .now) -> Decision {
        guard var window = windows[key], now < window.start + interval else {
            let carried = windows[key]?.suppressed ?? 0
            windows[key] = Window(start: now, passed: 1, suppressed: 0)
            return Decision(allowed: true, suppressedBefore: carried)
        }
        defer { windows[key] = window }
        if window.passed < limit {
            window.passed += 1
            return Decision(allowed: true)
        }
        window.suppressed += 1
        return Decision(allowed: false)
    }

    /// Forgets every key whose window has ended and returns those that had suppressed events, so the
    /// owner can report them even when no later event of that key arrives.
    ///
    /// - Parameter now: The current `ContinuousClock` reading.
    /// - Returns: `(key, suppressed)` for each ended window with `suppressed > 0`, in no set order.
    public mutating func drainExpired(now: ContinuousClock.Instant = .now) -> [(key: Key, suppressed: Int)] {
        var report: [(key: Key, suppressed: Int)] = []
        for (key, window) in windows where now >= window.start + interval {
            if window.suppressed > 0 { report.append((key, window.suppressed)) }
            windows[key] = nil
        }
        return report
    }

    /// `"suppressed K similar messages"` (singular for one) when `count` is positive, else `nil`.
    ///
    /// - Parameter count: The number of suppressed events.
    public static func suppressionNote(count: Int) -> String? {
        guard count > 0 else { return nil }
        return "suppressed \(count) similar message\(count == 1 ? "" : "s")"
    }
}
