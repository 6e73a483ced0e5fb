import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The writer thread of a `LabelledBuffer`: owns the segment files, their descriptors and the
/// per-class chains.
///
/// `@unchecked Sendable`: after `LabelledBuffer.init` has run `recover()` and handed the object to
/// the writer thread, only that thread touches its stored properties; everything shared with
/// callers lives in `core` behind its `Mutex`.
final class BufferWriter: @unchecked Sendable {
    /// A segment of a chain.
    struct Segment {
        var number: UInt64
        var path: String
        /// The bytes written to the file (header included), not counting `pending`.
        var length: Int
        /// The live records in the file.
        var records: Int
    }

    /// The open, newest segment of a chain.
    struct ActiveSegment {
        var segment: Segment
        var fd: Int32
        /// Records written but not yet fsynced.
        var unsynced = 0
        /// Encoded frames not yet written.
        var pending: [UInt8] = []
        /// Records in `pending`.
        var pendingRecords = 0
    }

    /// The segments of one class, oldest first.
    struct Chain {
        /// Sealed segments: fsynced, closed, never written again.
        var sealed: [Segment] = []
        var active: ActiveSegment?
        /// The bytes of all segments, `pending` included.
        var bytes = 0
    }

    let directory: String
    let configuration: LabelledBuffer.Configuration
    let logger: Logger
    /// Set by `LabelledBuffer.init` before the thread starts.
    var core: BufferCore!

    var chains: [String: Chain] = [:]
    var nextSegmentNumber: UInt64 = 1
    var totalBytes = 0
    /// The sequence of the last record taken from the queue.
    var processedThrough: UInt64 = 0
    /// Every record up to this sequence was fsynced (or lost).
    var syncedThrough: UInt64 = 0
    var lastSync = ContinuousClock.now
    /// Counter changes not yet published to `core`.
    var pendingDurable = 0
    var pendingEvicted = 0
    var pendingLost = 0
    var pendingFirstLost: UInt64?
    var classDecrements: [String: Int] = [:]
    /// Bytes of the batch being written, released from the queue bound when published.
    var releasedQueueBytes = 0

    /// The descriptor holding the directory's lock (`.lock`, `flock`), or -1.
    var lockFD: Int32 = -1

    init(directory: String, configuration: LabelledBuffer.Configuration, logger: Logger) {
        self.directory = directory
        self.configuration = configuration
        self.logger = logger
    }

    deinit {
        releaseLock()
    }

    /// Takes the directory's lock, so that no second buffer (in this process or another) writes it.
    ///
    /// A lock that is busy is tried again for up to `lockPatience`: a child process that this
    /// process is starting holds a copy of every descriptor, the lock's included, from the fork
    /// until its exec closes them (`O_CLOEXEC`), so a buffer closed and reopened while any thread
    /// spawns a process can find its own released lock still held for that moment. (CI saw it:
    /// four reopen tests refused while the end-to-end tests started processes beside them.)
    /// - Throws: `RetrainingError(.io)` when another buffer holds it.
    func takeLock() throws {
        let path = directory + "/.lock"
        let fd = try POSIX.open(path, O_RDWR | O_CREAT)
        let deadline = ContinuousClock.now + Self.lockPatience
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR || (code == EWOULDBLOCK && ContinuousClock.now < deadline) {
                if code == EWOULDBLOCK { usleep(5_000) }
                continue
            }
            POSIX.close(fd)
            throw RetrainingError(
                .io, "the labelled buffer \(directory) is in use by another buffer",
                cause: RetrainingError(.io, "cannot lock \(path)", cause: POSIX.Errno(code: code)))
        }
        lockFD = fd
    }

    /// How long a busy lock is tried again before the buffer is refused as in use.
    static let lockPatience: Duration = .seconds(5)

    /// Releases the directory's lock.
    func releaseLock() {
        if lockFD >= 0 { POSIX.close(lockFD) }
        lockFD = -1
    }

    /// What the writer does next.
    private enum Work {
        case batch([QueuedRecord], firstSequence: UInt64, syncNow: Bool)
        case sync
        case close
        case idle
    }

    /// The thread's body: takes batches until the buffer closes.
    func run() {
        core.writerThread.withLock { $0 = pthread_self() }
        while true {
            switch takeWork() {
            case .batch(let batch, let firstSequence, let syncNow):
                write(batch, firstSequence: firstSequence)
                if syncNow || configuration.fsync == .always || syncIsDue() { syncAll() }
                evict()
                publish()
            case .sync:
                syncAll()
                publish()
            case .close:
                syncAll()
                for name in chains.keys {
                    if let active = chains[name]?.active { POSIX.close(active.fd) }
                }
                publish(exiting: true)
                releaseLock()
                core.finished.signal()
                return
            case .idle:
                if let deadline = syncDeadline() {
                    let remaining = ContinuousClock.now.duration(to: deadline)
                    if remaining <= .zero {
                        syncAll()
                        publish()
                    } else {
                        let (seconds, attoseconds) = remaining.components
                        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000) + 1
                        _ = core.wake.wait(timeout: .now() + .nanoseconds(nanoseconds))
                    }
                } else {
                    core.wake.wait()
                }
            }
        }
    }

    /// Takes the queue, or decides to sync, close or sleep.
    private func takeWork() -> Work {
        let isDirty = processedThrough > syncedThrough
        return core.state.withLock { state in
            state.writerSleeping = false
            if !state.queue.isEmpty {
                let batch = state.queue
                state.queue = []
                let first = state.nextSequence - UInt64(batch.count)
                return .batch(batch, firstSequence: first, syncNow: state.closing || !state.waiters.isEmpty)
            }
            if state.closing { return .close }
            if isDirty && !state.waiters.isEmpty { return .sync }
            state.writerSleeping = true
            return .idle
        }
    }

    /// When the next interval sync is due, or nil when nothing is waiting for one.
    private func syncDeadline() -> ContinuousClock.Instant? {
        guard processedThrough > syncedThrough, case .interval(let seconds) = configuration.fsync else { return nil }
        return lastSync.advanced(by: .nanoseconds(Int64(seconds * 1e9)))
    }

    private func syncIsDue() -> Bool {
        guard let deadline = syncDeadline() else { return false }
        return ContinuousClock.now >= deadline
    }

    /// Encodes and writes a batch, chain by chain.
    private func write(_ batch: [QueuedRecord], firstSequence: UInt64) {
        var touched: Set<String> = []
        for queued in batch {
            let record = queued.record
            let name = record.className
            releasedQueueBytes += queued.size
            if chains[name] == nil { chains[name] = Chain() }
            if needsRotation(name, adding: queued.size) { seal(name) }
            if chains[name]!.active == nil {
                do {
                    chains[name]!.active = try createSegment(className: name)
                    totalBytes += chains[name]!.active!.segment.length
                    chains[name]!.bytes += chains[name]!.active!.segment.length
                } catch {
                    logger.error("labelled buffer: record lost: \(error)")
                    lose(1, className: name)
                    continue
                }
            }
            let before = chains[name]!.active!.pending.count
            SegmentFormat.appendFrame(of: record, to: &chains[name]!.active!.pending)
            let added = chains[name]!.active!.pending.count - before
            chains[name]!.active!.pendingRecords += 1
            chains[name]!.bytes += added
            totalBytes += added
            touched.insert(name)
            if chains[name]!.active!.pending.count >= 1 << 20 { flushPending(name) }
        }
        processedThrough = firstSequence + UInt64(batch.count) - 1
        for name in touched { flushPending(name) }
    }

    /// Whether the active segment of `name` must be sealed before a frame of `size` bytes.
    private func needsRotation(_ name: String, adding size: Int) -> Bool {
        guard let active = chains[name]?.active else { return false }
        let records = active.segment.records + active.pendingRecords
        return records > 0 && active.segment.length + active.pending.count + size > configuration.segmentBytes
    }

    /// Writes the pending frames of the active segment of `name`. On failure the pending records
    /// are lost, the file is cut back to its last good length and the segment sealed.
    private func flushPending(_ name: String) {
        guard var active = chains[name]?.active, active.pendingRecords > 0 else { return }
        let records = active.pendingRecords
        let bytes = active.pending.count
        do {
            try active.pending.withUnsafeBytes { try POSIX.writeAll(active.fd, $0, path: active.segment.path) }
            active.segment.length += bytes
            active.segment.records += records
            active.unsynced += records
            active.pending.removeAll(keepingCapacity: true)
            active.pendingRecords = 0
            chains[name]!.active = active
        } catch {
            logger.error("labelled buffer: \(records) records lost: \(error)")
            try? POSIX.truncate(active.fd, to: active.segment.length, path: active.segment.path)
            active.pending.removeAll()
            active.pendingRecords = 0
            chains[name]!.active = active
            chains[name]!.bytes -= bytes
            totalBytes -= bytes
            lose(records, className: name)
            seal(name)
        }
    }

    /// Flushes, fsyncs and closes the active segment of `name` and moves it to the sealed ones.
    private func seal(_ name: String) {
        flushPending(name)
        guard var active = chains[name]?.active else { return }
        chains[name]!.active = nil
        do {
            try POSIX.sync(active.fd, path: active.segment.path)
            pendingDurable += active.unsynced
        } catch {
            logger.error("labelled buffer: \(active.unsynced) records lost: \(error)")
            lose(active.unsynced, className: name)
            active.segment.records -= active.unsynced
        }
        POSIX.close(active.fd)
        chains[name]!.sealed.append(active.segment)
    }

    /// Flushes and fsyncs every active segment; every processed record is then durable or lost.
    func syncAll() {
        for name in chains.keys.sorted() {
            flushPending(name)
            guard var active = chains[name]?.active, active.unsynced > 0 else { continue }
            do {
                try POSIX.sync(active.fd, path: active.segment.path)
                pendingDurable += active.unsynced
                active.unsynced = 0
                chains[name]!.active = active
            } catch {
                logger.error("labelled buffer: \(active.unsynced) records lost: \(error)")
                lose(active.unsynced, className: name)
                chains[name]!.active!.segment.records -= active.unsynced
                chains[name]!.active!.unsynced = 0
                seal(name)
            }
        }
        syncedThrough = processedThrough
        lastSync = ContinuousClock.now
    }

    /// Counts `count` records of `className` as lost.
    private func lose(_ count: Int, className: String) {
        guard count > 0 else { return }
        pendingLost += count
        classDecrements[className, default: 0] += count
        let candidate = syncedThrough + 1
        pendingFirstLost = min(pendingFirstLost ?? candidate, candidate)
    }

    /// Removes the oldest segment of the class holding the most bytes until the files fit in
    /// `maxBytes` or that class has only its newest segment left.
    func evict() {
        var removed = false
        while totalBytes > configuration.maxBytes {
            // The newest segment of a chain is its active one, or its last sealed one when it has
            // none open (after recovery): never evicted.
            guard let (name, chain) = chains.max(by: { ($0.value.bytes, $1.key) < ($1.value.bytes, $0.key) }),
                chain.sealed.count > (chain.active == nil ? 1 : 0), let oldest = chain.sealed.first
            else { break }
            do {
                try POSIX.unlink(oldest.path)
            } catch {
                logger.error("labelled buffer: cannot evict: \(error)")
                break
            }
            removed = true
            chains[name]!.sealed.removeFirst()
            chains[name]!.bytes -= oldest.length
            totalBytes -= oldest.length
            pendingEvicted += oldest.records
            classDecrements[name, default: 0] += oldest.records
        }
        if removed { try? POSIX.syncDirectory(directory) }
    }

    /// Creates a segment atomically (header in a temporary file, fsync, rename, directory fsync)
    /// and returns it open for appending.
    private func createSegment(className: String) throws -> ActiveSegment {
        let number = nextSegmentNumber
        nextSegmentNumber += 1
        let name = SegmentFormat.fileName(number: number)
        let path = directory + "/" + name
        let temporary = directory + "/." + name + ".tmp"
        let header = SegmentFormat.header(className: className)
        let fd = try POSIX.open(temporary, O_RDWR | O_CREAT | O_TRUNC)
        do {
            try header.withUnsafeBytes { try POSIX.writeAll(fd, $0, path: temporary) }
            try POSIX.sync(fd, path: temporary)
            try POSIX.rename(temporary, path)
            try POSIX.syncDirectory(directory)
        } catch {
            POSIX.close(fd)
            try? POSIX.unlink(temporary)
            throw error
        }
        return ActiveSegment(segment: Segment(number: number, path: path, length: header.count, records: 0), fd: fd)
    }

    /// The live segments as readers see them, in segment order.
    func snapshot() -> [SegmentSnapshot] {
        chains.values.flatMap { chain in
            chain.sealed + (chain.active.map { [$0.segment] } ?? [])
        }
        .sorted { $0.number < $1.number }
        .map { SegmentSnapshot(path: $0.path, length: $0.length) }
    }

    /// Publishes the counters and the segment list, and calls the waiters that are now resolved.
    private func publish(exiting: Bool = false) {
        let segments = snapshot()
        let ready = core.state.withLock { state -> [(Waiter, Bool)] in
            state.queuedBytes -= releasedQueueBytes
            state.status.durableRecords += pendingDurable - pendingEvicted
            state.status.records -= pendingEvicted + pendingLost
            state.status.evicted += pendingEvicted
            state.status.lost += pendingLost
            state.status.bytes = totalBytes
            for (name, count) in classDecrements {
                let left = (state.status.classes[name] ?? 0) - count
                state.status.classes[name] = left > 0 ? left : nil
            }
            if let lost = pendingFirstLost { state.firstLost = min(state.firstLost ?? lost, lost) }
            state.durableThrough = max(state.durableThrough, syncedThrough)
            state.segments = segments
            if exiting { state.writerExited = true }
            var ready: [(Waiter, Bool)] = []
            var waiting: [Waiter] = []
            for waiter in state.waiters {
                if waiter.sequence <= state.durableThrough {
                    ready.append((waiter, state.outcome(through: waiter.sequence)))
                } else if exiting {
                    ready.append((waiter, false))
                } else {
                    waiting.append(waiter)
                }
            }
            state.waiters = waiting
            return ready
        }
        releasedQueueBytes = 0
        pendingDurable = 0
        pendingEvicted = 0
        pendingLost = 0
        pendingFirstLost = nil
        classDecrements = [:]
        for (waiter, outcome) in ready { waiter.callback(outcome) }
    }
}
