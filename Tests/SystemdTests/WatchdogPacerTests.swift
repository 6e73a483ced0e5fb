import Testing

@testable import Systemd

struct WatchdogPacerTests {
    let start = ContinuousClock.now

    @Test func waitsForHalfTheInterval() {
        var pacer = WatchdogPacer(interval: .seconds(10), start: start)
        #expect(pacer.pingPeriod == .seconds(5))
        pacer.recordProgress()
        #expect(pacer.poll(now: start) == .wait(until: start + .seconds(5)))
        #expect(pacer.poll(now: start + .milliseconds(4_999)) == .wait(until: start + .seconds(5)))
        #expect(pacer.poll(now: start + .seconds(5)) == .ping)
    }

    @Test func pingResetsTheScheduleAndTheProgressFlag() {
        var pacer = WatchdogPacer(interval: .seconds(10), start: start)
        pacer.recordProgress()
        #expect(pacer.poll(now: start + .seconds(6)) == .ping)
        #expect(pacer.lastPing == start + .seconds(6))
        #expect(!pacer.progressSinceLastPing)
        #expect(pacer.poll(now: start + .seconds(7)) == .wait(until: start + .seconds(11)))
        pacer.recordProgress()
        #expect(pacer.poll(now: start + .seconds(11)) == .ping)
    }

    @Test func withholdsThePingWithoutProgress() {
        var pacer = WatchdogPacer(interval: .seconds(10), start: start)
        #expect(pacer.poll(now: start + .seconds(5)) == .stalled(sinceLastPing: .seconds(5)))
        #expect(pacer.poll(now: start + .seconds(8)) == .stalled(sinceLastPing: .seconds(8)))
        // Progress resumes: the overdue ping goes out at once.
        pacer.recordProgress()
        #expect(pacer.poll(now: start + .seconds(9)) == .ping)
        #expect(pacer.nextPingDue == start + .seconds(14))
    }

    @Test func progressRecordedTwiceCountsOnce() {
        var pacer = WatchdogPacer(interval: .seconds(2), start: start)
        pacer.recordProgress()
        pacer.recordProgress()
        #expect(pacer.poll(now: start + .seconds(1)) == .ping)
        #expect(pacer.poll(now: start + .seconds(2)) == .stalled(sinceLastPing: .seconds(1)))
    }
}
