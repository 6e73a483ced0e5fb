import LSTMKit

/// The lstmd wire protocol written by hand from its documentation (README, WireFormat.swift), so
/// these tests check the daemon against the spec rather than against its own encoder.
///
/// A frame is three parts: [stream id][32-byte header][payload: T×C float32 LE].
struct WireHeader {
    var version: UInt8 = 1
    var flags: UInt8 = 0
    var channels: Int
    var timesteps: Int
    var sequence: UInt64
    var timestamp: Int64 = 0
    var label: Int32 = -1
    var reserved: UInt32 = 0

    /// An unlabelled (or, with `label`, labelled) header.
    init(channels: Int, timesteps: Int, sequence: UInt64, timestamp: Int64 = 0, label: Int? = nil) {
        self.channels = channels
        self.timesteps = timesteps
        self.sequence = sequence
        self.timestamp = timestamp
        if let label {
            self.flags = 1
            self.label = Int32(label)
        }
    }

    /// The 32 bytes.
    var bytes: [UInt8] {
        var out: [UInt8] = [version, flags]
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { out += $0 } }
        append(UInt16(truncatingIfNeeded: channels))
        append(UInt32(truncatingIfNeeded: timesteps))
        append(sequence)
        append(timestamp)
        append(label)
        append(reserved)
        return out
    }
}

/// Float32 little-endian bytes.
func wirePayload(_ values: some Collection<Float>) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(values.count * 4)
    for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { out += $0 } }
    return out
}

/// The sender's view of one stream: its sequence numbers and every value it sent, grouped in
/// stretches that start where the daemon's state starts over (first frame, gap, reset, close,
/// reload), so each label can be recomputed offline.
struct TestStream {
    let id: String
    let channels: Int
    /// The next sequence number.
    var sequence: UInt64 = 0
    /// Values [T, C] per stretch.
    private(set) var stretches: [[Float]] = [[]]
    /// The stretch each sent sequence number belongs to.
    private(set) var stretchOfSequence: [UInt64: Int] = [:]

    init(id: String, channels: Int) {
        self.id = id
        self.channels = channels
    }

    /// The index of the current stretch.
    var currentStretch: Int { stretches.count - 1 }

    /// Timesteps in the current stretch.
    var currentTimesteps: Int { stretches[stretches.count - 1].count / channels }

    /// The next frame with `timesteps` random timesteps, recorded as sent.
    mutating func frame(timesteps: Int, generator: inout SplitMix64, label: Int? = nil) -> [[UInt8]] {
        let values = (0..<(timesteps * channels)).map { _ in generator.normal() }
        return frame(values: values, label: label)
    }

    /// The next frame carrying `values` ([T, C]), recorded as sent.
    mutating func frame(values: [Float], label: Int? = nil) -> [[UInt8]] {
        precondition(values.count % channels == 0)
        let header = WireHeader(
            channels: channels, timesteps: values.count / channels, sequence: sequence,
            timestamp: 1_000 &+ Int64(truncatingIfNeeded: sequence), label: label)
        stretchOfSequence[sequence] = stretches.count - 1
        stretches[stretches.count - 1] += values
        sequence &+= 1
        return [Array(id.utf8), header.bytes, wirePayload(values)]
    }

    /// The daemon starts this stream over from the next frame on.
    mutating func startOver() {
        if !stretches[stretches.count - 1].isEmpty { stretches.append([]) }
    }

    /// Skips `count` sequence numbers (a gap): the daemon starts over at the next frame.
    mutating func skip(_ count: UInt64) {
        sequence += count
        startOver()
    }

    /// The stretch a label belongs to.
    func stretch(of label: Label) -> [Float]? {
        stretchOfSequence[label.sequence].map { stretches[$0] }
    }
}
