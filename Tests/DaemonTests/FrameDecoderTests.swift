@testable import Daemon
import Testing

/// The first stage: every check a frame goes through on its own, with the reason it is dropped.
@Suite struct FrameDecoderTests {
    static let limits = FrameLimits(channels: 2, classCount: 3, maxTimesteps: 4, maxPayloadBytes: 64)

    /// A well-formed frame of `timesteps` × 2 values, changed by `edit`.
    static func decode(
        parts: Int = 3, id: [UInt8] = Array("s1".utf8), timesteps: Int = 2, label: Int? = nil,
        payload: [Float]? = nil, edit: (inout [UInt8]) -> Void = { _ in }
    ) -> (Result<FrameHeader, FrameRejection>, [Float]) {
        var header = FrameHeader(channels: 2, timesteps: timesteps, sequence: 7, timestamp: 99, label: label).encoded
        edit(&header)
        let values = payload ?? (0..<(timesteps * 2)).map { Float($0) + 0.5 }
        let bytes = values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
        var decoded: [Float] = []
        let result = id.withUnsafeBytes { idBytes in
            header.withUnsafeBytes { headerBytes in
                bytes.withUnsafeBytes { payloadBytes in
                    FrameDecoder.decode(
                        parts: parts, id: idBytes, header: headerBytes, payload: payloadBytes, limits: limits, into: &decoded)
                }
            }
        }
        return (result, decoded)
    }

    static func reason(_ result: Result<FrameHeader, FrameRejection>) -> DropReason? {
        if case .failure(let rejection) = result { return rejection.reason }
        return nil
    }

    @Test func aValidFrameDecodesItsHeaderAndValues() throws {
        let (result, values) = Self.decode(label: 2)
        let header = try result.get()
        #expect(header.sequence == 7 && header.timestamp == 99 && header.timesteps == 2 && header.label == 2)
        #expect(Array(values.prefix(4)) == [0.5, 1.5, 2.5, 3.5])
    }

    @Test func eachProblemHasItsReasonAndDetail() {
        #expect(Self.decode(parts: 4).0 == .failure(FrameRejection(.wrongParts, .parts(4))))
        #expect(Self.decode(id: []).0 == .failure(FrameRejection(.badStreamID, .idLength(0))))
        #expect(Self.decode(id: [UInt8](repeating: 65, count: 256)).0 == .failure(FrameRejection(.badStreamID, .idLength(256))))
        #expect(Self.decode(id: [0x66, 0xff]).0 == .failure(FrameRejection(.badStreamID, .notUTF8)))
        #expect(Self.decode(edit: { $0[0] = 2 }).0 == .failure(FrameRejection(.unknownVersion, .headerBytes(32))))
        #expect(Self.decode(edit: { $0[28] = 1 }).0 == .failure(FrameRejection(.malformedHeader, .headerBytes(32))))
        #expect(Self.decode(edit: { $0.removeLast() }).0 == .failure(FrameRejection(.malformedHeader, .headerBytes(31))))
        #expect(Self.decode(edit: { $0[2] = 3 }).0 == .failure(FrameRejection(.wrongChannels, .channels(got: 3, model: 2))))
        #expect(Self.decode(timesteps: 5).0 == .failure(FrameRejection(.badTimesteps, .timesteps(got: 5, maximum: 4))))
        #expect(Self.decode(payload: [1, 2, 3]).0 == .failure(FrameRejection(.payloadSize, .payload(got: 12, expected: 16))))
        #expect(Self.decode(payload: [Float](repeating: 1, count: 17)).0 == .failure(FrameRejection(.oversize, .oversize(got: 68, maximum: 64))))
        #expect(Self.decode(label: 3).0 == .failure(FrameRejection(.badLabel, .label(got: 3, classes: 3))))
        #expect(Self.reason(Self.decode(payload: [1, .nan, 3, 4]).0) == .nonFinite)
        #expect(Self.reason(Self.decode(payload: [1, 2, -.infinity, 4]).0) == .nonFinite)
    }

    @Test func nonASCIIUTF8IdsAreAccepted() throws {
        _ = try Self.decode(id: Array("café-β".utf8)).0.get()
    }
}
