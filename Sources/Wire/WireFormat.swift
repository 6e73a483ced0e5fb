/// The lstmd wire protocol, version 1.
///
/// A frame is a ZeroMQ message of exactly three parts:
/// 1. the stream id: 1–255 bytes of UTF-8;
/// 2. a 32-byte little-endian header (`FrameHeader`);
/// 3. the payload: `timesteps × channels` float32 little-endian values, timestep-major.
///
/// Header layout (offsets in bytes):
/// | offset | type | field |
/// |---|---|---|
/// | 0 | u8 | protocol version (1) |
/// | 1 | u8 | flags: bit 0 = labelled (the `label` field holds a class index); bit 1 = training sample (with bit 0: one complete labelled sample for the retraining buffer, not classified) |
/// | 2 | u16 | channels `C` |
/// | 4 | u32 | timesteps `T` |
/// | 8 | u64 | sequence number (per stream, +1 per frame) |
/// | 16 | i64 | timestamp, ns (sender's clock; CLOCK_REALTIME recommended) |
/// | 24 | i32 | class label index into the model's classes, or -1 |
/// | 28 | u32 | reserved, must be 0 |
public struct FrameHeader: Sendable, Equatable {
    /// The protocol version this build speaks.
    public static let version: UInt8 = 1
    /// Header bytes.
    public static let size = 32
    /// Flag bit: the frame carries a class label.
    public static let labelledFlag: UInt8 = 1
    /// Flag bit: the frame is one complete labelled training sample of any length, for the
    /// retraining buffer only: it is not classified and touches no stream state. Needs
    /// `labelledFlag` too. Old senders never set it, so the protocol version stays 1.
    public static let trainingSampleFlag: UInt8 = 2

    public var version: UInt8 = FrameHeader.version
    public var flags: UInt8 = 0
    public var channels: Int
    public var timesteps: Int
    public var sequence: UInt64
    public var timestamp: Int64
    /// The class index when `flags` has `labelledFlag`, else nil.
    public var label: Int?

    /// Creates a header.
    /// - Parameter trainingSample: marks a labelled frame as a whole training sample
    ///   (`trainingSampleFlag`); ignored without a label.
    public init(
        channels: Int, timesteps: Int, sequence: UInt64, timestamp: Int64, label: Int? = nil, trainingSample: Bool = false
    ) {
        self.channels = channels
        self.timesteps = timesteps
        self.sequence = sequence
        self.timestamp = timestamp
        self.label = label
        self.flags = label == nil ? 0 : Self.labelledFlag | (trainingSample ? Self.trainingSampleFlag : 0)
    }

    /// Whether this frame is a whole training sample for the retraining buffer.
    public var isTrainingSample: Bool { flags & Self.trainingSampleFlag != 0 }

    /// Payload bytes this header announces.
    public var payloadSize: Int { channels * timesteps * 4 }

    /// The 32 header bytes.
    public var encoded: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.size)
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: version, toByteOffset: 0, as: UInt8.self)
            raw.storeBytes(of: flags, toByteOffset: 1, as: UInt8.self)
            raw.storeBytes(of: UInt16(truncatingIfNeeded: channels).littleEndian, toByteOffset: 2, as: UInt16.self)
            raw.storeBytes(of: UInt32(truncatingIfNeeded: timesteps).littleEndian, toByteOffset: 4, as: UInt32.self)
            raw.storeBytes(of: sequence.littleEndian, toByteOffset: 8, as: UInt64.self)
            raw.storeBytes(of: timestamp.littleEndian, toByteOffset: 16, as: Int64.self)
            raw.storeBytes(of: Int32(truncatingIfNeeded: label ?? -1).littleEndian, toByteOffset: 24, as: Int32.self)
        }
        return bytes
    }

    /// Parses and checks a header part.
    /// - Returns: the header, or the reason to drop the frame.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<FrameHeader, DropReason> {
        guard bytes.count == size else { return .failure(.malformedHeader) }
        let version = bytes.load(fromByteOffset: 0, as: UInt8.self)
        guard version == Self.version else { return .failure(.unknownVersion) }
        let flags = bytes.load(fromByteOffset: 1, as: UInt8.self)
        let reserved = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 28, as: UInt32.self))
        guard flags & ~(labelledFlag | trainingSampleFlag) == 0, reserved == 0 else { return .failure(.malformedHeader) }
        let rawLabel = Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: 24, as: Int32.self))
        let labelled = flags & labelledFlag != 0
        // A training sample is labelled by definition.
        guard labelled || flags & trainingSampleFlag == 0 else { return .failure(.badLabel) }
        guard labelled ? rawLabel >= 0 : rawLabel == -1 else { return .failure(.badLabel) }
        var header = FrameHeader(
            channels: Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2, as: UInt16.self))),
            timesteps: Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self))),
            sequence: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
            timestamp: Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 16, as: Int64.self)),
            label: labelled ? Int(rawLabel) : nil)
        header.version = version
        header.flags = flags
        return .success(header)
    }
}

/// Why a frame was dropped; each reason has its own counter (`status`, metrics).
public enum DropReason: String, Error, Sendable, CaseIterable, Hashable {
    /// Not exactly three message parts.
    case wrongParts = "wrong_parts"
    /// Stream id empty, longer than 255 bytes, or not UTF-8.
    case badStreamID = "bad_stream_id"
    /// Header not 32 bytes, unknown flags or non-zero reserved bits.
    case malformedHeader = "malformed_header"
    /// Header protocol version not supported.
    case unknownVersion = "unknown_version"
    /// Header channels differ from the model's.
    case wrongChannels = "wrong_channels"
    /// Zero timesteps, or more than the configured maximum per frame.
    case badTimesteps = "bad_timesteps"
    /// Payload size differs from timesteps × channels × 4.
    case payloadSize = "payload_size"
    /// A message larger than the configured maximum.
    case oversize = "oversize"
    /// A NaN or ±Inf value in the payload.
    case nonFinite = "non_finite"
    /// Label flag with a class index outside the model's classes (or label without the flag).
    case badLabel = "bad_label"
    /// Sequence number equal to the last accepted one.
    case duplicate = "duplicate"
    /// Sequence number below the last accepted one.
    case outOfOrder = "out_of_order"
    /// A new stream while the stream table is full.
    case streamLimit = "stream_limit"
    /// A new stream of a CURVE client key that already holds `max_streams_per_key` streams.
    case keyQuota = "key_quota"
}
