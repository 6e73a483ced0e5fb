@testable import Daemon
import Testing

/// When jobs start, on a clock the test moves (seconds).
@Suite struct RetrainScheduleTests {
    @Test func intervalJobsNeedTimeAndNewData() {
        var schedule = RetrainSchedule(interval: 60, minimumNew: 10, now: 0)
        #expect(schedule.next(now: 59, newSinceLastJob: 100) == nil, "before the interval")
        #expect(schedule.next(now: 61, newSinceLastJob: 9) == nil, "too few new windows")
        let job = schedule.next(now: 61, newSinceLastJob: 10)
        #expect(job?.trigger == "interval" && job?.state == .running)
        schedule.finished()
        #expect(schedule.next(now: 100, newSinceLastJob: 50) == nil, "the interval counts from the last start")
        #expect(schedule.next(now: 122, newSinceLastJob: 50)?.trigger == "interval")
    }

    @Test func intervalZeroMeansOnlyOnRequest() {
        var schedule = RetrainSchedule(interval: 0, minimumNew: 0, now: 0)
        #expect(schedule.next(now: 1e6, newSinceLastJob: 1_000_000) == nil)
        let requested = schedule.request(now: 5)
        #expect(schedule.next(now: 5, newSinceLastJob: 0)?.id == requested.id)
    }

    @Test func triggersDuringAJobCoalesceIntoOneFollowUp() {
        var schedule = RetrainSchedule(interval: 0, minimumNew: 0, now: 0)
        let first = schedule.request(now: 1)
        #expect(schedule.next(now: 1, newSinceLastJob: 0)?.id == first.id)
        let second = schedule.request(now: 2)
        let third = schedule.request(now: 3)
        #expect(second.id != first.id && third.id == second.id, "one follow-up for every trigger during the job")
        #expect(schedule.next(now: 4, newSinceLastJob: 0) == nil, "one job at a time")
        schedule.finished()
        #expect(schedule.next(now: 5, newSinceLastJob: 0)?.id == second.id)
        schedule.finished()
        #expect(schedule.next(now: 6, newSinceLastJob: 0) == nil)
    }
}

@Suite struct JobOrderTests {
    /// Job ids order by their numbers, not as text ("9-1" before "10-1"), so pruning keeps the newest.
    @Test func jobIDsOrderNumerically() {
        let ids = ["10-1", "9-2", "9-10", "100-3", "9-9"]
        #expect(ids.sorted(by: Retrainer.isOlder) == ["9-2", "9-9", "9-10", "10-1", "100-3"])
    }
}
