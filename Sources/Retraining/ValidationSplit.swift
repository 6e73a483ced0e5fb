/// Which records validate and which train: fixed per record, free of leakage, and the same in
/// every process and run.
///
/// Overlapping windows cut from one stretch of a stream are near-duplicates, so a window's side
/// is decided by its **unit** (stream id, time block of `blockSeconds`): all windows of one
/// stream within one block fall on the same side. A training sample or a correction is a unit of
/// its own, hashed by its id. A unit validates when its stable hash (FNV-1a 64 of a tag and the
/// unit's fields, finalised by SplitMix64, mapped to `[0, 1)`) is below `fraction`. Nothing is
/// random and nothing depends on the other records, so a record never changes sides between jobs
/// as the buffer grows, and the current model is never trained on the windows it is judged on.
public struct ValidationSplit: Sendable, Equatable {
    /// Which side of the split a record is on.
    public enum Role: String, Sendable, Equatable, Codable {
        case training
        case validation
    }

    /// The fraction of units that validate, in `[0, 1]`. Default 0.2.
    public var fraction: Double
    /// The length of the time blocks that group windows of a stream, in seconds (> 0). Default 60.
    public var blockSeconds: Int

    /// Creates a split.
    ///
    /// - Parameters:
    ///   - fraction: The fraction of units that validate; default 0.2.
    ///   - blockSeconds: The time block for windows, seconds; default 60.
    /// - Precondition: `0 ≤ fraction ≤ 1` and `blockSeconds > 0`.
    public init(fraction: Double = 0.2, blockSeconds: Int = 60) {
        precondition((0...1).contains(fraction), "ValidationSplit: fraction \(fraction) outside [0, 1]")
        precondition(blockSeconds > 0, "ValidationSplit: blockSeconds \(blockSeconds) must be > 0")
        self.fraction = fraction
        self.blockSeconds = blockSeconds
    }

    /// The side of `record`.
    public func role(of record: LabelledRecord) -> Role {
        role(of: record.identity)
    }

    /// The side of a record with `identity`.
    public func role(of identity: LabelledRecord.Identity) -> Role {
        position(of: identity) < fraction ? .validation : .training
    }

    /// Whether `record` validates.
    public func isValidation(_ record: LabelledRecord) -> Bool {
        role(of: record) == .validation
    }

    /// The time block of a timestamp: `⌊timestamp / (blockSeconds · 10⁹)⌋` (floor, also for
    /// timestamps before 1970).
    public func block(of timestamp: Int64) -> Int64 {
        let length = Int64(blockSeconds) * 1_000_000_000
        let (quotient, remainder) = timestamp.quotientAndRemainder(dividingBy: length)
        return remainder < 0 ? quotient - 1 : quotient
    }

    /// The stable hash of the unit of `identity`: for a window, of tag 0, the stream id and the
    /// block; for a sample or correction, of tag 1 and the id.
    public func unitHash(of identity: LabelledRecord.Identity) -> UInt64 {
        var hash = StableHash()
        switch identity {
        case .window(let streamID, let timestamp):
            hash.combine(CollectionOfOne(UInt8(0)))
            hash.combine(streamID)
            hash.combine(UInt64(bitPattern: block(of: timestamp)))
        case .unit(let id):
            hash.combine(CollectionOfOne(UInt8(1)))
            hash.combine(id)
        }
        return hash.mixed
    }

    /// The unit's position in `[0, 1)`: the top 53 bits of its hash over 2⁵³.
    func position(of identity: LabelledRecord.Identity) -> Double {
        Double(unitHash(of: identity) >> 11) / Double(UInt64(1) << 53)
    }
}
