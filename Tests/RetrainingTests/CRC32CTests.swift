import Testing
@testable import Retraining
import LSTMKit

@Suite struct CRC32CTests {
    @Test func standardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.referenceChecksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test func knownVectors() {
        #expect(CRC32C.checksum([]) == 0)
        // RFC 3720 (iSCSI) appendix B.4: 32 bytes of zeros, of 0xFF, ascending.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
    }

    /// Slicing-by-8 equals the bitwise definition for every length 0…100 and every alignment.
    @Test func slicingMatchesReference() {
        var generator = SplitMix64(seed: 7)
        let bytes = (0..<120).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        for start in 0..<8 {
            for length in 0...100 {
                let slice = Array(bytes[start..<(start + length)])
                let fast = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<(start + length)])) }
                #expect(fast == CRC32C.referenceChecksum(slice), "start \(start) length \(length)")
            }
        }
    }

    @Test func continuing() {
        let whole = Array("hello, labelled buffer".utf8)
        let first = CRC32C.checksum(Array(whole[..<7]))
        #expect(CRC32C.checksum(Array(whole[7...]), continuing: first) == CRC32C.checksum(whole))
    }
}
