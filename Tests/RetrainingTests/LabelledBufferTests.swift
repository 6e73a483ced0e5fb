import Foundation
import Testing
@testable import Retraining

@Suite struct LabelledBufferTests {
    /// Records of several classes and every source survive a close and a reopen, byte for byte.
    @Test func appendReopenRoundTrip() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var appended: [LabelledRecord] = []
        for index in 0..<30 {
            let source: LabelledRecord.Source = switch index % 3 {
            case 0: .window
            case 1: .sample(id: UInt64(1000 + index))
            default: .correction(id: UInt64(2000 + index))
            }
            appended.append(makeRecord(
                stream: "stream-\(index % 4)", timestamp: Int64(index) * 1_000_000_000 - 5,
                className: ["Walking", "Running", "Standing ✓"][index % 3], source: source,
                timesteps: 2 + index % 5, channels: 3, base: Float(index) * 0.5))
        }

        let buffer = try LabelledBuffer(directory: directory.url, configuration: .init(fsync: .always))
        #expect(buffer.recovery == LabelledBuffer.RecoveryReport())
        for record in appended {
            #expect(buffer.append(record).isAccepted)
        }
        #expect(await buffer.flush())
        let status = buffer.status
        #expect(status.records == 30)
        #expect(status.durableRecords == 30)
        #expect(status.classes == ["Walking": 10, "Running": 10, "Standing ✓": 10])
        #expect(try segmentFiles(in: directory.url).map(fileSize).reduce(0, +) == status.bytes)
        #expect(Self.sorted(try buffer.records()) == Self.sorted(appended))
        #expect(Self.sorted(try LabelledBuffer.records(in: directory.url)) == Self.sorted(appended))
        buffer.close()
        #expect(buffer.append(appended[0]) == .refused(.closed))

        let reopened = try LabelledBuffer(directory: directory.url)
        defer { reopened.close() }
        #expect(reopened.recovery.records == 30)
        #expect(reopened.recovery.truncatedSegments == 0)
        #expect(reopened.recovery.renamedSegments.isEmpty)
        #expect(reopened.status.records == 30)
        #expect(reopened.status.durableRecords == 30)
        #expect(reopened.status.classes == status.classes)
        #expect(Self.sorted(try reopened.records()) == Self.sorted(appended))
        // Records of one class come back in append order.
        #expect(try reopened.records().filter { $0.className == "Running" } == appended.filter { $0.className == "Running" })
    }

    /// A segment cut inside its last record loses that record only, is truncated to its valid
    /// prefix, and takes new records in a new segment.
    @Test func tornTailIsTruncated() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let records = (0..<5).map { makeRecord(timestamp: Int64($0), base: Float($0)) }
        let buffer = try LabelledBuffer(directory: directory.url, configuration: .init(fsync: .always))
        for record in records { _ = buffer.append(record) }
        #expect(await buffer.flush())
        buffer.close()

        let segment = try #require(try segmentFiles(in: directory.url).first)
        let size = try fileSize(segment)
        let frame = (size - SegmentFormat.header(className: "Walking").count) / 5
        try truncateFile(segment, to: size - 10)

        let reopened = try LabelledBuffer(directory: directory.url)
        #expect(reopened.recovery.records == 4)
        #expect(reopened.recovery.truncatedSegments == 1)
        #expect(reopened.recovery.truncatedBytes == frame - 10)
        #expect(try fileSize(segment) == size - frame)
        #expect(reopened.status.records == 4)
        #expect(try reopened.records() == Array(records.prefix(4)))
        let late = makeRecord(timestamp: 99, base: 99)
        #expect(reopened.append(late).isAccepted)
        #expect(await reopened.flush())
        reopened.close()

        let again = try LabelledBuffer(directory: directory.url)
        defer { again.close() }
        #expect(again.recovery.truncatedSegments == 0)
        #expect(try again.records() == Array(records.prefix(4)) + [late])
    }

    /// A flipped byte inside a record fails its CRC: that record and every later one in the
    /// segment are cut; other segments are untouched.
    @Test func flippedByteIsTruncatedAndCounted() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let walking = (0..<5).map { makeRecord(timestamp: Int64($0), className: "Walking", base: Float($0)) }
        let running = (0..<3).map { makeRecord(timestamp: Int64($0), className: "Running", base: Float(10 + $0)) }
        let buffer = try LabelledBuffer(directory: directory.url, configuration: .init(fsync: .always))
        for record in walking + running { _ = buffer.append(record) }
        #expect(await buffer.flush())
        buffer.close()

        let header = SegmentFormat.header(className: "Walking").count
        let segment = try #require(try segmentFiles(in: directory.url).first { url in
            (try? Data(contentsOf: url).range(of: Data("Walking".utf8))) != nil
        })
        let size = try fileSize(segment)
        let frame = (size - header) / 5
        // A value byte of the third record (frame header 8 + fixed 32 + "s1" + "Walking" + 4).
        try flipByte(in: segment, at: header + 2 * frame + 8 + 32 + 2 + 7 + 4)

        let reopened = try LabelledBuffer(directory: directory.url)
        defer { reopened.close() }
        #expect(reopened.recovery.truncatedSegments == 1)
        #expect(reopened.recovery.truncatedBytes == 3 * frame)
        #expect(reopened.recovery.records == 5)
        #expect(reopened.status.classes == ["Walking": 2, "Running": 3])
        #expect(try reopened.records().filter { $0.className == "Walking" } == Array(walking.prefix(2)))
        #expect(try reopened.records().filter { $0.className == "Running" } == running)
    }

    /// A garbled length (larger than the file) is a torn tail too.
    @Test func garbledLengthIsTruncated() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let buffer = try LabelledBuffer(directory: directory.url, configuration: .init(fsync: .always))
        for index in 0..<3 { _ = buffer.append(makeRecord(timestamp: Int64(index))) }
        #expect(await buffer.flush())
        buffer.close()
        let segment = try #require(try segmentFiles(in: directory.url).first)
        let header = SegmentFormat.header(className: "Walking").count
        let frame = (try fileSize(segment) - header) / 3
        try flipByte(in: segment, at: header + frame + 3)  // the high byte of the second length

        let reopened = try LabelledBuffer(directory: directory.url)
        defer { reopened.close() }
        #expect(reopened.recovery.records == 1)
        #expect(reopened.recovery.truncatedBytes == 2 * frame)
    }

    /// A segment whose header is corrupt is renamed aside, never deleted, and the rest recovers.
    @Test func corruptHeaderIsRenamedAside() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let buffer = try LabelledBuffer(directory: directory.url, configuration: .init(fsync: .always))
        _ = buffer.append(makeRecord(className: "Walking"))
        _ = buffer.append(makeRecord(className: "Running"))
        #expect(await buffer.flush())
        buffer.close()
        let segments = try segmentFiles(in: directory.url)
        #expect(segments.count == 2)
        let damaged = segments[0]
        let bytes = try Data(contentsOf: damaged)
        try flipByte(in: damaged, at: 13)  // inside the class name: header CRC mismatch

        let reopened = try LabelledBuffer(directory: directory.url)
        #expect(reopened.recovery.renamedSegments.count == 1)
        let renamed = try #require(reopened.recovery.renamedSegments.first)
        #expect(renamed.name == damaged.lastPathComponent)
        #expect(renamed.renamedTo == damaged.lastPathComponent + ".corrupt")
        #expect(renamed.reason.contains("checksum"))
        #expect(!FileManager.default.fileExists(atPath: damaged.path))
        let aside = directory.url.appendingPathComponent(renamed.renamedTo)
        #expect(try Data(contentsOf: aside).count == bytes.count)
        #expect(reopened.status.records == 1)
        // New segments never reuse the number of the one set aside.
        _ = reopened.append(makeRecord(className: "Walking"))
        #expect(await reopened.flush())
        reopened.close()
        let again = try LabelledBuffer(directory: directory.url)
        defer { again.close() }
        #expect(again.recovery.renamedSegments.isEmpty)
        #expect(again.status.records == 2)
        #expect(FileManager.default.fileExists(atPath: aside.path))
    }

    /// When the buffer is full, the common class loses its oldest segments; the rare class keeps
    /// every record.
    @Test func evictionKeepsRareClass() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let configuration = LabelledBuffer.Configuration(maxBytes: 64 << 10, segmentBytes: 8 << 10, fsync: .always)
        let buffer = try LabelledBuffer(directory: directory.url, configuration: configuration)
        let rare = (0..<5).map { makeRecord(timestamp: Int64($0), className: "Rare", timesteps: 40, channels: 6) }
        for record in rare { #expect(buffer.append(record).isAccepted) }
        for index in 0..<500 {
            let record = makeRecord(timestamp: Int64(index), className: "Common", timesteps: 40, channels: 6)
            #expect(buffer.append(record).isAccepted)
        }
        #expect(await buffer.flush())
        let status = buffer.status
        #expect(status.classes["Rare"] == 5)
        #expect(status.evicted > 0)
        #expect(status.records + status.evicted == 505)
        #expect(status.durableRecords == status.records)
        #expect(status.bytes <= configuration.maxBytes)
        #expect(try segmentFiles(in: directory.url).map(fileSize).reduce(0, +) == status.bytes)
        // The newest common records survive.
        let common = try buffer.records().filter { $0.className == "Common" }
        #expect(common.count == status.classes["Common"])
        #expect(common.map(\.timestamp) == Array(Int64(500 - common.count)..<500))
        buffer.close()

        let reopened = try LabelledBuffer(directory: directory.url, configuration: configuration)
        defer { reopened.close() }
        #expect(reopened.status.classes == status.classes)
        #expect(try reopened.records().filter { $0.className == "Rare" } == rare)
    }

    /// Reopening with a smaller bound evicts at open, from the largest class.
    @Test func evictionAtOpen() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let large = LabelledBuffer.Configuration(maxBytes: 1 << 20, segmentBytes: 4 << 10, fsync: .always)
        let buffer = try LabelledBuffer(directory: directory.url, configuration: large)
        for index in 0..<200 { _ = buffer.append(makeRecord(timestamp: Int64(index), className: "Common", timesteps: 40, channels: 6)) }
        for index in 0..<3 { _ = buffer.append(makeRecord(timestamp: Int64(index), className: "Rare", timesteps: 40, channels: 6)) }
        #expect(await buffer.flush())
        buffer.close()

        let small = LabelledBuffer.Configuration(maxBytes: 32 << 10, segmentBytes: 4 << 10, fsync: .always)
        let reopened = try LabelledBuffer(directory: directory.url, configuration: small)
        defer { reopened.close() }
        #expect(reopened.recovery.evictedRecords > 0)
        #expect(reopened.status.evicted == reopened.recovery.evictedRecords)
        #expect(reopened.status.classes["Rare"] == 3)
        #expect(reopened.status.records == 203 - reopened.recovery.evictedRecords)
        #expect(reopened.status.bytes <= small.maxBytes)
    }

    /// Refusals are answers, never blocks, and are counted.
    @Test func refusals() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let configuration = LabelledBuffer.Configuration(maxQueuedBytes: 1024, maxRecordBytes: 4096)
        let buffer = try LabelledBuffer(directory: directory.url, configuration: configuration)
        // 8 + 32 + 2 + 7 + 4·50·3 = 649 bytes: accepted; 8 + 32 + 2 + 7 + 4·100·3 = 1249 > queue bound.
        #expect(buffer.append(makeRecord(timesteps: 50)).isAccepted)
        #expect(buffer.append(makeRecord(timesteps: 100)) == .refused(.queueFull))
        #expect(buffer.append(makeRecord(timesteps: 400)) == .refused(.tooLarge))
        #expect(buffer.append(makeRecord(className: String(repeating: "x", count: 70_000))) == .refused(.tooLarge))
        #expect(await buffer.flush())
        buffer.close()
        #expect(buffer.append(makeRecord()) == .refused(.closed))
        #expect(buffer.status.refused == 4)
        #expect(buffer.status.records == 1)
    }

    /// With a long fsync interval nothing is durable until someone asks: `flush` forces the sync.
    @Test func intervalPolicyFlushForcesSync() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let buffer = try LabelledBuffer(directory: directory.url, configuration: .init(fsync: .interval(seconds: 3600)))
        defer { buffer.close() }
        var last: UInt64 = 0
        for index in 0..<10 {
            guard case .accepted(let sequence) = buffer.append(makeRecord(timestamp: Int64(index))) else {
                Issue.record("refused")
                return
            }
            last = sequence
        }
        #expect(last == 10)
        #expect(buffer.lastSequence == 10)
        #expect(buffer.status.records == 10)
        #expect(await buffer.waitUntilDurable(through: 5))
        #expect(buffer.status.durableRecords == 10)
        #expect(buffer.blockUntilDurable(timeout: .seconds(30)))
        #expect(buffer.blockUntilDurable(through: 10))
    }

    /// Appends from many tasks at once are all stored, each once.
    @Test func concurrentAppends() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let buffer = try LabelledBuffer(directory: directory.url)
        defer { buffer.close() }
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<4 {
                group.addTask {
                    for index in 0..<250 {
                        _ = buffer.append(makeRecord(stream: "t\(task)", timestamp: Int64(index), className: "c\(index % 3)"))
                    }
                }
            }
        }
        #expect(await buffer.flush())
        #expect(buffer.status.records == 1000)
        #expect(buffer.status.durableRecords == 1000)
        let records = try buffer.records()
        #expect(records.count == 1000)
        #expect(Set(records.map { "\($0.streamID)/\($0.timestamp)" }).count == 1000)
    }

    /// One directory, one writer: a second buffer on it is refused until the first closes.
    @Test func directoryIsLocked() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = try LabelledBuffer(directory: directory.url)
        #expect { try LabelledBuffer(directory: directory.url) } throws: {
            ($0 as? RetrainingError)?.message.contains("in use") == true
        }
        first.close()
        let second = try LabelledBuffer(directory: directory.url)
        second.close()
    }

    /// Leftover temporary files of a segment being created are removed at open; empty segments too.
    @Test func leftoversAreCleanedAtOpen() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let temporary = directory.url.appendingPathComponent(".0000000000000009.seg.tmp")
        try Data([1, 2, 3]).write(to: temporary)
        let empty = directory.url.appendingPathComponent(SegmentFormat.fileName(number: 3))
        try Data(SegmentFormat.header(className: "Walking")).write(to: empty)
        let unrelated = directory.url.appendingPathComponent("notes.txt")
        try Data("keep".utf8).write(to: unrelated)

        let buffer = try LabelledBuffer(directory: directory.url)
        defer { buffer.close() }
        #expect(buffer.recovery.removedEmptySegments == 1)
        #expect(!FileManager.default.fileExists(atPath: temporary.path))
        #expect(!FileManager.default.fileExists(atPath: empty.path))
        #expect(FileManager.default.fileExists(atPath: unrelated.path))
        _ = buffer.append(makeRecord())
        #expect(await buffer.flush())
        // Numbers continue after the highest segment seen.
        #expect(try segmentFiles(in: directory.url).map(\.lastPathComponent) == [SegmentFormat.fileName(number: 4)])
    }

    /// Many appends at the issue's target shape (windows of 100 timesteps × 6 channels) all
    /// become durable and read back; the speed is `lstmctl bench retrain`'s to measure.
    @Test func manyAppendsBecomeDurable() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let buffer = try LabelledBuffer(directory: directory.url, configuration: .init(maxQueuedBytes: 64 << 20))
        defer { buffer.close() }
        let records = (0..<2000).map {
            makeRecord(stream: "s\($0 % 100)", timestamp: Int64($0), className: "c\($0 % 4)", timesteps: 100, channels: 6)
        }
        for record in records { #expect(buffer.append(record).isAccepted) }
        #expect(await buffer.flush())
        #expect(buffer.status.records == records.count && buffer.status.durableRecords == records.count)
        #expect(try buffer.records().count == records.count)
    }

    static func sorted(_ records: [LabelledRecord]) -> [LabelledRecord] {
        records.sorted { ($0.className, $0.streamID, $0.timestamp) < ($1.className, $1.streamID, $1.timestamp) }
    }
}
