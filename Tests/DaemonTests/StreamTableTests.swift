@testable import Daemon
import Testing

/// The stream table's verdicts, on a clock the test moves.
@Suite struct StreamTableTests {
    static let second: UInt64 = 1_000_000_000

    static func accept(_ table: inout StreamTable, _ id: String, _ sequence: UInt64, at now: UInt64) -> StreamTable.Admission {
        Array(id.utf8).withUnsafeBytes { table.accept(id: $0, sequence: sequence, now: now) }
    }

    @Test func sequenceVerdicts() {
        var table = StreamTable(maxStreams: 10, idleTimeout: 60 * Self.second)
        guard case .new(let slot) = Self.accept(&table, "a", 5, at: 0) else { Issue.record("not new"); return }
        #expect(Self.accept(&table, "a", 6, at: 1) == .next(slot: slot))
        #expect(Self.accept(&table, "a", 6, at: 2) == .duplicate(last: 6))
        #expect(Self.accept(&table, "a", 3, at: 3) == .outOfOrder(last: 6))
        #expect(Self.accept(&table, "a", 9, at: 4) == .gap(slot: slot, last: 6))
        #expect(Self.accept(&table, "a", 10, at: 5) == .next(slot: slot))
        let record = table[slot]
        #expect(record.id == "a" && record.quotedID == "\"a\"")
        #expect(record.lastSequence == 10 && record.frames == 4 && record.gaps == 1 && record.lastSeen == 5)
    }

    /// A producer that starts over (sequence 0, or far behind: after a bogus 2⁶⁴−1) restarts its
    /// stream instead of being silenced as out of order until idle eviction.
    @Test func restartsAfterZeroOrAJumpBackBeyondTheReorderWindow() {
        var table = StreamTable(maxStreams: 10, idleTimeout: 60 * Self.second, reorderWindow: 100)
        guard case .new(let slot) = Self.accept(&table, "a", 500, at: 0) else { Issue.record("not new"); return }
        #expect(Self.accept(&table, "a", 400, at: 1) == .outOfOrder(last: 500))
        #expect(Self.accept(&table, "a", 399, at: 2) == .restart(slot: slot, last: 500))
        #expect(Self.accept(&table, "a", 400, at: 3) == .next(slot: slot))
        #expect(Self.accept(&table, "a", 0, at: 4) == .restart(slot: slot, last: 400))
        #expect(Self.accept(&table, "a", 0, at: 5) == .duplicate(last: 0))
        #expect(Self.accept(&table, "a", .max, at: 6) == .gap(slot: slot, last: 0))
        #expect(Self.accept(&table, "a", 1, at: 7) == .restart(slot: slot, last: .max))
        #expect(Self.accept(&table, "a", 2, at: 8) == .next(slot: slot))
        #expect(table[slot].lastSequence == 2 && table[slot].frames == 7)
    }

    @Test func idsAreComparedByTheirBytes() {
        var table = StreamTable(maxStreams: 10, idleTimeout: Self.second)
        // "café" precomposed and decomposed: equal Strings, different streams.
        guard case .new(let first) = Self.accept(&table, "caf\u{e9}", 0, at: 0),
            case .new(let second) = Self.accept(&table, "cafe\u{301}", 0, at: 0)
        else {
            Issue.record("both ids should be new streams")
            return
        }
        #expect(first != second && table.count == 2)
    }

    @Test func newStreamsBeyondTheLimitAreRejected() {
        var table = StreamTable(maxStreams: 2, idleTimeout: Self.second)
        _ = Self.accept(&table, "a", 0, at: 0)
        _ = Self.accept(&table, "b", 0, at: 0)
        #expect(Self.accept(&table, "c", 0, at: 0) == .rejected)
        // Known streams go on.
        #expect(Self.accept(&table, "a", 1, at: 0) != .rejected)
        #expect([UInt8]([0x66, 0xff]).withUnsafeBytes { table.accept(id: $0, sequence: 0, now: 0) } == .rejected)
    }

    @Test func evictionFollowsTheClock() {
        var table = StreamTable(maxStreams: 10, idleTimeout: 10 * Self.second)
        _ = Self.accept(&table, "quiet", 0, at: 0)
        _ = Self.accept(&table, "busy", 0, at: 0)
        _ = Self.accept(&table, "busy", 1, at: 8 * Self.second)
        // Exactly at the timeout: not yet.
        #expect(table.evict(now: 10 * Self.second).isEmpty)
        let evicted = table.evict(now: 10 * Self.second + 1)
        #expect(evicted.map(\.id) == ["quiet"])
        #expect(table.count == 1 && table.slot(of: "quiet") == nil)
        // The freed slot is reused, and the stream starts afresh.
        guard case .new(let slot) = Self.accept(&table, "quiet", 7, at: 11 * Self.second) else {
            Issue.record("an evicted stream comes back as new")
            return
        }
        #expect(slot == evicted[0].slot && table[slot].frames == 1)
        #expect(table.evict(now: 18 * Self.second + 1).map(\.id) == ["busy"])
    }

    @Test func removeFreesTheSlot() {
        var table = StreamTable(maxStreams: 1, idleTimeout: Self.second)
        guard case .new(let slot) = Self.accept(&table, "a", 0, at: 0) else { return }
        table.remove(slot: slot)
        #expect(table.count == 0)
        #expect(Self.accept(&table, "b", 0, at: 0) == .new(slot: slot))
    }
}
