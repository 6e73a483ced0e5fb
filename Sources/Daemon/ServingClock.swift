import Foundation
import Synchronization

/// The clocks the serving path reads: monotonic time for stream lifecycle, rates and progress
/// stamps, wall time for the labels' `emitted_ns`. Injected, so lifecycle tests run on a
/// `ManualServingClock` instead of sleeping.
public protocol ServingClock: Sendable {
    /// Monotonic time, ns (CLOCK_MONOTONIC for the system clock).
    func monotonicNanoseconds() -> UInt64
    /// Wall-clock time, ns since the Unix epoch (CLOCK_REALTIME for the system clock).
    func realtimeNanoseconds() -> Int64
}

/// The system's CLOCK_MONOTONIC and CLOCK_REALTIME.
public struct SystemServingClock: ServingClock {
    public init() {}

    public func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    public func realtimeNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}

/// A clock that moves only when told to (tests).
public final class ManualServingClock: ServingClock {
    private let now: Mutex<UInt64>

    /// - Parameter start: the first reading, ns.
    public init(start: UInt64 = 1_000_000_000) {
        now = Mutex(start)
    }

    /// Moves the clock forward.
    public func advance(by nanoseconds: UInt64) {
        now.withLock { $0 += nanoseconds }
    }

    public func monotonicNanoseconds() -> UInt64 { now.withLock { $0 } }
    public func realtimeNanoseconds() -> Int64 { Int64(monotonicNanoseconds()) }
}
