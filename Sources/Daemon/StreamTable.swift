/// What the daemon knows of one stream whatever model serves: its id, sequence tracking and
/// counters. Model state lives in the classifier (`StreamClassifier`), keyed by the same slot, so
/// a model swap replaces the classifier and keeps every record as it is.
struct StreamRecord {
    let id: String
    /// `id` as a JSON string literal, made once for the label messages.
    let quotedID: String
    /// The last accepted sequence number.
    var lastSequence: UInt64
    /// The table clock's time of the last accepted frame, ns.
    var lastSeen: UInt64
    var frames = 0
    var labels = 0
    var gaps = 0
    /// The most recent label's class index, or -1.
    var lastLabel = -1
    /// The CURVE key (Z85) of the client that opened the stream, when it came over CURVE.
    var owner: String?
}

/// The stream table: a state machine over an injected clock that decides, for each frame's
/// stream id and sequence number, whether the frame is the stream's next one, and which streams
/// have been idle too long. It owns the records; `slot`s (stable while a stream lives, reused
/// after it goes) index the per-stream state other stages keep.
///
/// Streams are keyed by their id's exact bytes: `String` equality would merge canonically
/// equivalent ids such as "café" spelled with and without a combining accent.
struct StreamTable {
    /// The verdict on one frame.
    enum Admission: Equatable {
        /// A stream seen for the first time; its record is made.
        case new(slot: Int)
        /// The next frame of a known stream (sequence +1).
        case next(slot: Int)
        /// A known stream skipped sequence numbers: its model state must be reset.
        case gap(slot: Int, last: UInt64)
        /// The stream's last sequence number again: drop.
        case duplicate(last: UInt64)
        /// A sequence number a little below the stream's last (within `reorderWindow`): drop.
        case outOfOrder(last: UInt64)
        /// The producer started over: sequence 0 after others, or a jump backwards by more than
        /// `reorderWindow`. The stream's state must be reset, as for a gap.
        case restart(slot: Int, last: UInt64)
        /// A new stream while the table holds `maxStreams`: drop.
        case rejected
        /// A new stream of an owner already holding `maxStreamsPerKey` streams: drop.
        case keyQuota
        /// A frame of a stream another CURVE key made: drop (no key may reset or feed another's).
        case otherOwner
        /// A new stream whose id is not UTF-8 (the decoder lets only UTF-8 through; kept so the
        /// table never holds an id it cannot print).
        case invalidID
    }

    /// Most streams held at once.
    var maxStreams: Int
    /// A stream with no frame for this long (ns) is evicted.
    var idleTimeout: UInt64
    /// How far back (sequence numbers) a frame may be and still count as reordered rather than
    /// as a producer restart.
    var reorderWindow: UInt64
    /// Most streams one owner (CURVE key) may hold; 0: no limit.
    var maxStreamsPerKey = 0
    /// Streams held per owner.
    private(set) var streamsByOwner: [String: Int] = [:]
    private var records: [StreamRecord?] = []
    private var freeSlots: [Int] = []
    private var slots: [StreamKey: Int] = [:]
    /// Reused for lookups, so a frame of a known stream allocates no key.
    private var lookupKey = StreamKey(bytes: [])

    init(maxStreams: Int, idleTimeout: UInt64, reorderWindow: UInt64 = 1000) {
        (self.maxStreams, self.idleTimeout, self.reorderWindow) = (maxStreams, idleTimeout, reorderWindow)
    }

    /// Streams held.
    var count: Int { slots.count }

    /// The record in `slot` (which must hold a stream).
    subscript(slot: Int) -> StreamRecord {
        get { records[slot]! }
        _modify { yield &records[slot]! }
    }

    /// The slot of the stream called `id`, if it is held.
    func slot(of id: String) -> Int? { slots[StreamKey(bytes: Array(id.utf8))] }

    /// Whether `slot` holds a stream.
    func isOccupied(_ slot: Int) -> Bool { slot < records.count && records[slot] != nil }

    /// The slots of every stream held, in no particular order.
    var occupiedSlots: [Int] { Array(slots.values) }

    /// Judges a frame of stream `id` numbered `sequence`, received at `now`; an accepted frame
    /// (`new`, `next`, `gap`, `restart`) becomes the stream's last. `owner` is the sender's
    /// CURVE key (nil without CURVE): a stream belongs to the key that made it.
    mutating func accept(id: UnsafeRawBufferPointer, sequence: UInt64, now: UInt64, owner: () -> String? = { nil }) -> Admission {
        lookupKey.bytes.removeAll(keepingCapacity: true)
        lookupKey.bytes.append(contentsOf: id)
        if let slot = slots[lookupKey] {
            if let owned = records[slot]!.owner, owner() != owned { return .otherOwner }
            let last = records[slot]!.lastSequence
            if sequence == last { return .duplicate(last: last) }
            let restart = sequence < last && (sequence == 0 || last - sequence > reorderWindow)
            if sequence < last && !restart { return .outOfOrder(last: last) }
            records[slot]!.lastSequence = sequence
            records[slot]!.lastSeen = now
            records[slot]!.frames += 1
            if restart { return .restart(slot: slot, last: last) }
            if sequence == last &+ 1 { return .next(slot: slot) }
            records[slot]!.gaps += 1
            return .gap(slot: slot, last: last)
        }
        guard slots.count < maxStreams else { return .rejected }
        guard let text = String(validating: lookupKey.bytes, as: UTF8.self) else { return .invalidID }
        let key = owner()
        if let key, maxStreamsPerKey > 0, streamsByOwner[key, default: 0] >= maxStreamsPerKey { return .keyQuota }
        var record = StreamRecord(id: text, quotedID: JSONText.quoted(text), lastSequence: sequence, lastSeen: now, frames: 1)
        if let key {
            record.owner = key
            streamsByOwner[key, default: 0] += 1
        }
        let slot: Int
        if let reused = freeSlots.popLast() {
            slot = reused
            records[slot] = record
        } else {
            slot = records.count
            records.append(record)
        }
        slots[StreamKey(bytes: lookupKey.bytes)] = slot
        return .new(slot: slot)
    }

    /// Removes every stream idle for longer than `idleTimeout` at `now`.
    /// - Returns: the removed streams' slots and ids (the slots are free for reuse from now on).
    mutating func evict(now: UInt64) -> [(slot: Int, id: String)] {
        var expired: [(slot: Int, id: String)] = []
        for slot in slots.values {
            let record = records[slot]!
            if now > record.lastSeen &+ idleTimeout { expired.append((slot, record.id)) }
        }
        for entry in expired { remove(slot: entry.slot) }
        return expired
    }

    /// Forgets the stream in `slot`; the slot is free for reuse.
    mutating func remove(slot: Int) {
        guard let record = records[slot] else { return }
        slots[StreamKey(bytes: Array(record.id.utf8))] = nil
        if let owner = record.owner {
            let left = streamsByOwner[owner, default: 1] - 1
            streamsByOwner[owner] = left > 0 ? left : nil
        }
        records[slot] = nil
        freeSlots.append(slot)
    }
}

/// A stream id's bytes as a dictionary key, hashed in one call over the bytes rather than byte by
/// byte as `[UInt8]`'s own `Hashable` does.
struct StreamKey: Hashable {
    var bytes: [UInt8]

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
