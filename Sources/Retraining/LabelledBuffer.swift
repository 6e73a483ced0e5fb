import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The durable buffer of labelled records: append-only segment files in one directory, written
/// by a thread of its own so that `append` never waits for the disk.
///
/// **Appends.** `append` checks the record's size, puts it on a bounded in-memory queue and
/// returns at once; when the queue holds `maxQueuedBytes`, it refuses (and counts the refusal)
/// instead of blocking. The writer thread (not the Swift concurrency pool) takes the whole queue
/// at a time, frames each record (length, CRC-32C, payload; see `SegmentFormat`), writes it and
/// fsyncs according to `FsyncPolicy`. A record is **durable** once fsynced; `waitUntilDurable`
/// and `flush` wait for that.
///
/// **Eviction: per-class segment chains.** Each class has its own chain of segments, sealed at
/// `segmentBytes`. When the files exceed `maxBytes`, the writer removes the oldest sealed segment
/// of the class holding the most bytes, and repeats. Guarantees: records are only ever removed
/// from the class that currently holds the most bytes, so a rare class is never pushed out by a
/// common one (a class holding fewer bytes than another is never touched); a class's newest
/// segment is never evicted, so every class that has records keeps its most recent ones; within a
/// class, the oldest records go first. The cost: eviction removes a whole segment at a time, and
/// when every class is down to its newest segment the files may exceed `maxBytes` by up to one
/// segment per class (so keep `segmentBytes` well below `maxBytes / classes`; the default is
/// `maxBytes / 64`).
///
/// **Recovery.** `init` reads every segment up to its first invalid record (short or garbled
/// length, CRC mismatch, impossible sizes), truncates the torn tail and reports it; a segment
/// whose header is invalid is renamed to `<name>.corrupt`, never deleted. New records always go
/// to new segments.
///
/// **Reading.** `records()` returns the live records written so far (for a training job);
/// `LabelledBuffer.records(in:)` reads a directory without opening it for writing (for a job in
/// another process).
///
/// The type is `Sendable`: every method may be called from any thread. Close it with `close()`
/// (also done by `deinit`).
public final class LabelledBuffer: Sendable {
    /// The directory holding the segments.
    public let directory: URL
    /// The sizes and fsync policy.
    public let configuration: Configuration
    /// What opening the directory found and repaired.
    public let recovery: RecoveryReport

    private let core: BufferCore

    /// Opens (creating if needed) the buffer in `directory`, recovers its segments and starts the
    /// writer thread.
    ///
    /// - Parameters:
    ///   - directory: The directory of the segment files, e.g. `STATE_DIRECTORY/buffer`.
    ///   - configuration: Sizes and fsync policy.
    ///   - logger: Receives one warning per repaired segment and one error per I/O failure.
    /// - Throws: `RetrainingError(.io)` when the directory cannot be created or listed, another
    ///   buffer has it open (a `flock` on `.lock`), or a segment cannot be read, truncated or
    ///   renamed.
    public init(
        directory: URL, configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "lstmd.buffer")
    ) throws {
        self.directory = directory
        self.configuration = configuration
        let writer = BufferWriter(directory: directory.path, configuration: configuration, logger: logger)
        let (recovery, status) = try writer.recover()
        self.recovery = recovery
        self.core = BufferCore(status: status, segments: writer.snapshot())
        writer.core = core
        let thread = Thread { writer.run() }
        thread.name = "lstmd-buffer-writer"
        thread.start()
    }

    deinit {
        // The last reference may be dropped on the writer thread (a `whenDurable` callback that
        // held it): there, waiting for the writer to exit would never return.
        if core.isWriterThread {
            core.state.withLock { $0.closing = true }
            core.wake.signal()
        } else {
            close()
        }
    }

    /// Hands `record` to the writer thread and returns at once.
    ///
    /// - Parameter record: The record to store.
    /// - Returns: `.accepted(sequence:)`, or `.refused` when the queue is full, the record too
    ///   large or the buffer closed (each refusal is counted in `Status.refused`).
    public func append(_ record: LabelledRecord) -> AppendResult {
        guard let payload = SegmentFormat.payloadSize(of: record),
            payload + SegmentFormat.frameHeaderBytes <= configuration.maxRecordBytes
        else {
            core.state.withLock { $0.status.refused += 1 }
            return .refused(.tooLarge)
        }
        let size = payload + SegmentFormat.frameHeaderBytes
        let (result, wake) = core.state.withLock { state -> (AppendResult, Bool) in
            if state.closing {
                state.status.refused += 1
                return (.refused(.closed), false)
            }
            if state.queuedBytes + size > configuration.maxQueuedBytes {
                state.status.refused += 1
                return (.refused(.queueFull), false)
            }
            state.queue.append(QueuedRecord(record: record, size: size))
            state.queuedBytes += size
            state.status.records += 1
            state.status.classes[record.className, default: 0] += 1
            let sequence = state.nextSequence
            state.nextSequence += 1
            return (.accepted(sequence: sequence), state.takeSleepingWriter())
        }
        if wake { core.wake.signal() }
        return result
    }

    /// A snapshot of the counters.
    public var status: Status {
        core.state.withLock { $0.status }
    }

    /// The sequence number of the last accepted record (0 before the first).
    public var lastSequence: UInt64 {
        core.state.withLock { $0.nextSequence - 1 }
    }

    /// Calls `callback` once every record accepted up to `sequence` is durable, or at once if it
    /// already is.
    ///
    /// - Precondition: `sequence ≤ lastSequence`.
    ///
    /// The callback runs on the writer thread (or the caller's, when already durable): keep it
    /// short and never call `blockUntilDurable` or `close` from it.
    ///
    /// - Parameters:
    ///   - sequence: A sequence number from `append` (or 0).
    ///   - callback: Receives `true` when all those records are durable, `false` when one of them
    ///     was lost to an I/O error or the buffer closed first.
    public func whenDurable(through sequence: UInt64, _ callback: @escaping @Sendable (Bool) -> Void) {
        let (ready, wake) = core.state.withLock { state -> (Bool?, Bool) in
            precondition(sequence < state.nextSequence, "LabelledBuffer: sequence \(sequence) was never accepted")
            if sequence <= state.durableThrough { return (state.outcome(through: sequence), false) }
            if state.writerExited { return (false, false) }
            state.waiters.append(Waiter(sequence: sequence, callback: callback))
            return (nil, state.takeSleepingWriter())
        }
        if wake { core.wake.signal() }
        if let ready { callback(ready) }
    }

    /// Waits until every record accepted up to `sequence` is durable.
    ///
    /// - Parameter sequence: A sequence number from `append`.
    /// - Returns: `true` when they are durable; `false` when one was lost or the buffer closed.
    public func waitUntilDurable(through sequence: UInt64) async -> Bool {
        await withCheckedContinuation { continuation in
            whenDurable(through: sequence) { continuation.resume(returning: $0) }
        }
    }

    /// Waits until every record accepted so far is durable (with `.interval` fsync, this forces a
    /// sync now rather than at the next tick).
    ///
    /// - Returns: `true` when they are durable; `false` when one was lost or the buffer closed.
    @discardableResult
    public func flush() async -> Bool {
        await waitUntilDurable(through: lastSequence)
    }

    /// Blocks the calling thread until every record accepted up to `sequence` is durable, or until
    /// `timeout` passes. Never call it on the writer thread (from a `whenDurable` callback).
    ///
    /// - Parameters:
    ///   - sequence: A sequence number from `append`; default every record accepted so far.
    ///   - timeout: How long to wait at most; nil waits as long as it takes.
    /// - Returns: `true` when they are durable; `false` on a loss, a closed buffer or a timeout.
    public func blockUntilDurable(through sequence: UInt64? = nil, timeout: Duration? = nil) -> Bool {
        let semaphore = DispatchSemaphore(value: 0)
        let outcome = Mutex(false)
        whenDurable(through: sequence ?? lastSequence) { durable in
            outcome.withLock { $0 = durable }
            semaphore.signal()
        }
        if let timeout {
            let (seconds, attoseconds) = timeout.components
            let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
            guard semaphore.wait(timeout: .now() + .nanoseconds(max(0, nanoseconds))) == .success else { return false }
        } else {
            semaphore.wait()
        }
        return outcome.withLock { $0 }
    }

    /// The live records written to the segment files so far, in segment order (records of one
    /// class in append order). Records still queued are not included: `flush()` first to include
    /// everything appended. Segments evicted while reading are skipped.
    ///
    /// - Throws: `RetrainingError(.io)` when a segment cannot be read.
    public func records() throws -> [LabelledRecord] {
        let segments = core.state.withLock { $0.segments }
        var records: [LabelledRecord] = []
        for segment in segments {
            guard let bytes = try POSIX.readFile(segment.path, limit: segment.length) else { continue }
            records += bytes.withUnsafeBytes { raw in
                guard case .success(let header) = SegmentFormat.parseHeader(raw) else { return [] }
                return SegmentFormat.scan(raw, header: header, decode: true).records
            }
        }
        return records
    }

    /// Reads the valid records of every segment in `directory`, in segment order, without
    /// opening the buffer for writing and without repairing anything: each segment is read up to
    /// its first invalid record, segments with an invalid header are skipped. For a training job
    /// in another process while the daemon keeps appending.
    ///
    /// - Parameter directory: A buffer directory.
    /// - Throws: `RetrainingError(.io)` when the directory or a segment cannot be read.
    public static func records(in directory: URL) throws -> [LabelledRecord] {
        let names = try POSIX.entries(of: directory.path).compactMap { name -> (UInt64, String)? in
            guard let number = SegmentFormat.number(inFileName: name), name == SegmentFormat.fileName(number: number)
            else { return nil }
            return (number, name)
        }
        var records: [LabelledRecord] = []
        for (_, name) in names.sorted(by: { $0.0 < $1.0 }) {
            guard let bytes = try POSIX.readFile(directory.appendingPathComponent(name).path) else { continue }
            records += bytes.withUnsafeBytes { raw in
                guard case .success(let header) = SegmentFormat.parseHeader(raw) else { return [] }
                return SegmentFormat.scan(raw, header: header, decode: true).records
            }
        }
        return records
    }

    /// Stops accepting records, writes and fsyncs everything queued, closes the files and stops
    /// the writer thread; returns when it has. Idempotent.
    public func close() {
        core.state.withLock { $0.closing = true }
        core.wake.signal()
        core.finished.wait()
        core.finished.signal()
    }
}

/// A record waiting for the writer, with its encoded size.
struct QueuedRecord: Sendable {
    var record: LabelledRecord
    var size: Int
}

/// A callback waiting for durability.
struct Waiter: Sendable {
    var sequence: UInt64
    var callback: @Sendable (Bool) -> Void
}

/// A live segment as readers see it: written bytes only.
struct SegmentSnapshot: Sendable, Equatable {
    var path: String
    var length: Int
}

/// The state shared between `LabelledBuffer`'s callers and its writer thread.
struct SharedState: Sendable {
    var queue: [QueuedRecord] = []
    /// Bytes queued or being written; bounded by `maxQueuedBytes`.
    var queuedBytes = 0
    /// The sequence number the next accepted record gets.
    var nextSequence: UInt64 = 1
    /// Every record up to this sequence is durable or lost.
    var durableThrough: UInt64 = 0
    /// The smallest sequence that may have been lost, if any.
    var firstLost: UInt64?
    var waiters: [Waiter] = []
    var closing = false
    var writerExited = false
    /// The writer waits on `wake` and wants a signal.
    var writerSleeping = false
    var status: LabelledBuffer.Status
    var segments: [SegmentSnapshot]

    /// Whether the writer sleeps; if so, marks it awake, so that exactly one caller signals.
    mutating func takeSleepingWriter() -> Bool {
        defer { writerSleeping = false }
        return writerSleeping
    }

    /// Whether the records up to `sequence`, all processed, were all made durable.
    func outcome(through sequence: UInt64) -> Bool {
        guard let firstLost else { return true }
        return firstLost > sequence
    }
}

/// The shared state and the semaphores of one buffer.
final class BufferCore: Sendable {
    let state: Mutex<SharedState>
    /// Signalled to wake the writer.
    let wake = DispatchSemaphore(value: 0)
    /// Signalled once when the writer thread exits (and re-signalled by each waiter).
    let finished = DispatchSemaphore(value: 0)
    /// The writer thread, once it runs.
    let writerThread = Mutex<pthread_t?>(nil)

    /// Whether the calling thread is the writer thread.
    var isWriterThread: Bool {
        writerThread.withLock { thread in thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
    }

    init(status: LabelledBuffer.Status, segments: [SegmentSnapshot]) {
        state = Mutex(SharedState(status: status, segments: segments))
    }
}
