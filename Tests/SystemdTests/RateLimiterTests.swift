import Testing

@testable import Systemd

struct RateLimiterTests {
    let start = ContinuousClock.now

    @Test func allowsLimitPerWindowThenSuppresses() {
        var limiter = RateLimiter<String>(limit: 3, per: .seconds(10))
        let decisions = (0..<5).map { limiter.record("short-frame", now: start + .seconds($0)) }
        #expect(decisions.map(\.allowed) == [true, true, true, false, false])
        #expect(decisions.allSatisfy { $0.suppressedBefore == 0 })
    }

    @Test func reportsSuppressedCountWhenWindowRollsOver() {
        var limiter = RateLimiter<String>(limit: 2, per: .seconds(10))
        for offset in 0..<7 { _ = limiter.record("bad-id", now: start + .seconds(offset)) }
        let next = limiter.record("bad-id", now: start + .seconds(10))
        #expect(next == RateLimiter<String>.Decision(allowed: true, suppressedBefore: 5))
        #expect(next.suppressionNote == "suppressed 5 similar messages")
        // The new window starts at the rollover event and reports nothing more.
        #expect(limiter.record("bad-id", now: start + .seconds(11)) == .init(allowed: true))
        #expect(limiter.record("bad-id", now: start + .seconds(12)) == .init(allowed: false))
        #expect(limiter.record("bad-id", now: start + .seconds(20)) == .init(allowed: true, suppressedBefore: 1))
    }

    @Test func windowWithoutSuppressionReportsNothing() {
        var limiter = RateLimiter<String>(limit: 2, per: .seconds(1))
        _ = limiter.record("a", now: start)
        let later = limiter.record("a", now: start + .seconds(5))
        #expect(later == .init(allowed: true))
        #expect(later.suppressionNote == nil)
    }

    @Test func keysAreIndependent() {
        var limiter = RateLimiter<String>(limit: 1, per: .seconds(10))
        #expect(limiter.record("a", now: start).allowed)
        #expect(!limiter.record("a", now: start).allowed)
        #expect(limiter.record("b", now: start).allowed)
        #expect(limiter.trackedKeys == 2)
    }

    @Test func drainReportsAndForgetsEndedWindows() {
        var limiter = RateLimiter<String>(limit: 1, per: .seconds(10))
        for _ in 0..<4 { _ = limiter.record("noisy", now: start) }
        _ = limiter.record("quiet", now: start)
        _ = limiter.record("late", now: start + .seconds(5))
        #expect(limiter.drainExpired(now: start + .seconds(9)).isEmpty)
        let report = limiter.drainExpired(now: start + .seconds(10))
        #expect(report.count == 1)
        #expect(report.first?.key == "noisy")
        #expect(report.first?.suppressed == 3)
        #expect(limiter.trackedKeys == 1)
        // Reported counts are not reported again.
        #expect(limiter.record("noisy", now: start + .seconds(11)) == .init(allowed: true))
    }

    @Test func suppressionNoteWording() {
        #expect(RateLimiter<Int>.suppressionNote(count: 0) == nil)
        #expect(RateLimiter<Int>.suppressionNote(count: 1) == "suppressed 1 similar message")
        #expect(RateLimiter<Int>.suppressionNote(count: 12) == "suppressed 12 similar messages")
    }
}
