import Daemon
import Testing

/// The 32-byte frame header: encoding, parsing, and the drop reason of every malformed case.
@Suite struct FrameHeaderTests {
    /// Parses `bytes` as a header part.
    private func parse(_ bytes: [UInt8]) -> Result<FrameHeader, DropReason> {
        bytes.withUnsafeBytes { FrameHeader.parse($0) }
    }

    /// A valid unlabelled header's bytes, to corrupt field by field.
    private var valid: [UInt8] {
        FrameHeader(channels: 6, timesteps: 10, sequence: 7, timestamp: 1_700_000_000_000_000_000).encoded
    }

    @Test func roundTripWithoutLabel() throws {
        let header = FrameHeader(channels: 6, timesteps: 100, sequence: 42, timestamp: -5)
        let bytes = header.encoded
        #expect(bytes.count == FrameHeader.size)
        let parsed = try parse(bytes).get()
        #expect(parsed == header)
        #expect(parsed.label == nil)
        #expect(parsed.flags == 0)
        #expect(parsed.payloadSize == 6 * 100 * 4)
    }

    @Test func roundTripWithLabelAndExtremeFields() throws {
        let header = FrameHeader(
            channels: Int(UInt16.max), timesteps: Int(UInt32.max), sequence: .max, timestamp: .min, label: 3)
        let parsed = try parse(header.encoded).get()
        #expect(parsed == header)
        #expect(parsed.label == 3)
        #expect(parsed.flags == FrameHeader.labelledFlag)
    }

    @Test func encodingIsLittleEndianAtTheDocumentedOffsets() {
        let bytes = FrameHeader(
            channels: 0x0102, timesteps: 0x0304_0506, sequence: 0x0708_090A_0B0C_0D0E,
            timestamp: 0x1112_1314_1516_1718, label: 0x2122_2324
        ).encoded
        #expect(Array(bytes[0..<2]) == [1, 1])
        #expect(Array(bytes[2..<4]) == [0x02, 0x01])
        #expect(Array(bytes[4..<8]) == [0x06, 0x05, 0x04, 0x03])
        #expect(Array(bytes[8..<16]) == [0x0E, 0x0D, 0x0C, 0x0B, 0x0A, 0x09, 0x08, 0x07])
        #expect(Array(bytes[16..<24]) == [0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11])
        #expect(Array(bytes[24..<28]) == [0x24, 0x23, 0x22, 0x21])
        #expect(Array(bytes[28..<32]) == [0, 0, 0, 0])
        // Unlabelled: the label field holds -1.
        let unlabelled = FrameHeader(channels: 1, timesteps: 1, sequence: 0, timestamp: 0).encoded
        #expect(Array(unlabelled[24..<28]) == [0xFF, 0xFF, 0xFF, 0xFF])
    }

    @Test(arguments: [0, 1, 16, 31, 33, 64])
    func wrongLengthIsMalformed(length: Int) {
        var bytes = valid
        bytes = length <= bytes.count ? Array(bytes[0..<length]) : bytes + [UInt8](repeating: 0, count: length - bytes.count)
        #expect(parse(bytes) == .failure(.malformedHeader))
    }

    @Test(arguments: [UInt8(0), 2, 255])
    func otherVersionIsUnknown(version: UInt8) {
        var bytes = valid
        bytes[0] = version
        #expect(parse(bytes) == .failure(.unknownVersion))
    }

    @Test(arguments: [UInt8(0b100), 0x80, 0b111, 0xFF])
    func unknownFlagBitsAreMalformed(flags: UInt8) {
        var bytes = valid
        bytes[1] = flags
        if flags & 1 != 0 { bytes.replaceSubrange(24..<28, with: [0, 0, 0, 0]) }  // a valid label
        #expect(parse(bytes) == .failure(.malformedHeader))
    }

    /// Bit 1 marks a whole training sample; it needs the label (bit 0).
    @Test func trainingSampleFlag() throws {
        let sample = FrameHeader(channels: 3, timesteps: 40, sequence: 0, timestamp: 1, label: 2, trainingSample: true)
        #expect(sample.flags == 0b11 && sample.isTrainingSample)
        let parsed = try sample.encoded.withUnsafeBytes { FrameHeader.parse($0) }.get()
        #expect(parsed.isTrainingSample && parsed.label == 2)
        var unlabelled = valid
        unlabelled[1] = 0b10
        #expect(parse(unlabelled) == .failure(.badLabel))
        #expect(!FrameHeader(channels: 3, timesteps: 1, sequence: 0, timestamp: 0, trainingSample: true).isTrainingSample)
    }

    @Test(arguments: [28, 29, 30, 31])
    func nonZeroReservedIsMalformed(offset: Int) {
        var bytes = valid
        bytes[offset] = 1
        #expect(parse(bytes) == .failure(.malformedHeader))
    }

    @Test(arguments: [Int32(0), 5, -2, Int32.min, Int32.max])
    func labelWithoutFlagIsBadLabel(raw: Int32) {
        var bytes = valid
        bytes.replaceSubrange(24..<28, with: withUnsafeBytes(of: raw.littleEndian) { Array($0) })
        #expect(parse(bytes) == .failure(.badLabel))
    }

    @Test(arguments: [Int32(-1), -2, Int32.min])
    func negativeLabelWithFlagIsBadLabel(raw: Int32) {
        var bytes = valid
        bytes[1] = FrameHeader.labelledFlag
        bytes.replaceSubrange(24..<28, with: withUnsafeBytes(of: raw.littleEndian) { Array($0) })
        #expect(parse(bytes) == .failure(.badLabel))
    }

    @Test func labelZeroWithFlagIsAccepted() throws {
        var bytes = valid
        bytes[1] = FrameHeader.labelledFlag
        bytes.replaceSubrange(24..<28, with: [0, 0, 0, 0])
        #expect(try parse(bytes).get().label == 0)
    }

    @Test func dropReasonRawValuesAreTheCounterNames() {
        #expect(DropReason.allCases.map(\.rawValue) == [
            "wrong_parts", "bad_stream_id", "malformed_header", "unknown_version", "wrong_channels",
            "bad_timesteps", "payload_size", "oversize", "non_finite", "bad_label", "duplicate",
            "out_of_order", "stream_limit", "key_quota",
        ])
    }
}
