/// What a daemon accepts: the model's shape and the configured limits.
public struct FrameLimits: Sendable, Equatable {
    /// The model's input channels `C`.
    public var channels: Int
    /// The model's class count `K` (a label is an index below it).
    public var classCount: Int
    /// Most timesteps one frame may carry (`max_timesteps_per_frame`).
    public var maxTimesteps: Int
    /// Most payload bytes one frame may carry (`max_message_bytes`).
    public var maxPayloadBytes: Int

    public init(channels: Int, classCount: Int, maxTimesteps: Int, maxPayloadBytes: Int) {
        self.channels = channels
        self.classCount = classCount
        self.maxTimesteps = maxTimesteps
        self.maxPayloadBytes = maxPayloadBytes
    }
}

/// Why a message is not a frame: the counted reason and what exactly was wrong.
public struct FrameRejection: Error, Sendable, Equatable {
    public var reason: DropReason
    public var detail: DropDetail

    public init(_ reason: DropReason, _ detail: DropDetail = .none) {
        self.reason = reason
        self.detail = detail
    }
}

/// The first stage of the serving path: a received message's parts → a checked frame header with
/// its values, or the reason to drop it. Every check a frame goes through on its own (without
/// the stream it belongs to) is here, in wire order; the stream table judges sequence numbers.
///
/// Allocation-free for frames that fit `values`' capacity.
public enum FrameDecoder {
    /// Checks one message and decodes its payload.
    /// - Parameters:
    ///   - parts: how many parts the message had (a frame has 3; the receiver stops reading a
    ///     message at 4 and reports 4).
    ///   - id: the first part, the stream id (1...255 bytes of UTF-8).
    ///   - header: the second part (`FrameHeader.size` bytes).
    ///   - payload: the third part, `timesteps × channels` float32 little-endian values.
    ///   - limits: the model's shape and the configured limits.
    ///   - values: receives the payload as `[T, C]` floats (grown when too small; elements past
    ///     `T × C` are left as they were).
    /// - Returns: the header, or why the frame is dropped.
    public static func decode(
        parts: Int, id: UnsafeRawBufferPointer, header: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer,
        limits: FrameLimits, into values: inout [Float]
    ) -> Result<FrameHeader, FrameRejection> {
        guard parts == 3 else { return .failure(FrameRejection(.wrongParts, .parts(parts))) }
        guard id.count >= 1, id.count <= 255 else { return .failure(FrameRejection(.badStreamID, .idLength(id.count))) }
        guard isUTF8(id) else { return .failure(FrameRejection(.badStreamID, .notUTF8)) }
        let parsed: FrameHeader
        switch FrameHeader.parse(header) {
        case .failure(let reason): return .failure(FrameRejection(reason, .headerBytes(header.count)))
        case .success(let value): parsed = value
        }
        guard parsed.channels == limits.channels else {
            return .failure(FrameRejection(.wrongChannels, .channels(got: parsed.channels, model: limits.channels)))
        }
        guard parsed.timesteps >= 1, parsed.timesteps <= limits.maxTimesteps else {
            return .failure(FrameRejection(.badTimesteps, .timesteps(got: parsed.timesteps, maximum: limits.maxTimesteps)))
        }
        guard payload.count <= limits.maxPayloadBytes else {
            return .failure(FrameRejection(.oversize, .oversize(got: payload.count, maximum: limits.maxPayloadBytes)))
        }
        guard payload.count == parsed.payloadSize else {
            return .failure(FrameRejection(.payloadSize, .payload(got: payload.count, expected: parsed.payloadSize)))
        }
        if let label = parsed.label, label >= limits.classCount {
            return .failure(FrameRejection(.badLabel, .label(got: label, classes: limits.classCount)))
        }
        let count = parsed.timesteps * parsed.channels
        if values.count < count { values = [Float](repeating: 0, count: count) }
        let finite = values.withUnsafeMutableBufferPointer { target in
            var ok = true
            for index in 0..<count {
                let bits = UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))
                let value = Float(bitPattern: bits)
                target[index] = value
                ok = ok && value.isFinite
            }
            return ok
        }
        guard finite else { return .failure(FrameRejection(.nonFinite)) }
        return .success(parsed)
    }

    /// Whether `bytes` are UTF-8; ASCII (the usual id) is checked without decoding.
    static func isUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var ascii = true
        for byte in bytes where byte >= 0x80 {
            ascii = false
            break
        }
        return ascii || String(validating: bytes, as: UTF8.self) != nil
    }
}
