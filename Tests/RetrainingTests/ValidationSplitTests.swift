import Testing
@testable import Retraining

@Suite struct ValidationSplitTests {
    @Test func fnv1aVectors() {
        var empty = StableHash()
        empty.combine([UInt8]())
        #expect(empty.value == 0xCBF2_9CE4_8422_2325)
        var a = StableHash()
        a.combine(Array("a".utf8))
        #expect(a.value == 0xAF63_DC4C_8601_EC8C)
        var foobar = StableHash()
        foobar.combine(Array("foobar".utf8))
        #expect(foobar.value == 0x8594_4171_F739_67E8)
    }

    /// Golden values from an independent Python implementation (FNV-1a 64 of tag, fields; then
    /// SplitMix64's finaliser): the split is the same in every process, run and machine.
    @Test func hashesArePinned() {
        let split = ValidationSplit()
        #expect(split.unitHash(of: .window(streamID: "s1", timestamp: 90_000_000_000)) == 0x7162_3700_A8F5_64BD)
        #expect(split.unitHash(of: .window(streamID: "s1", timestamp: -1)) == 0x5CEC_B64E_6BA0_D0D6)
        #expect(split.unitHash(of: .unit(42)) == 0x3239_A611_418A_928F)
        #expect(split.role(of: .unit(42)) == .validation)  // position 0.196 < 0.2
        #expect(split.role(of: .window(streamID: "s1", timestamp: 90_000_000_000)) == .training)  // 0.443
    }

    @Test func blocksFloor() {
        let split = ValidationSplit(blockSeconds: 60)
        #expect(split.block(of: 0) == 0)
        #expect(split.block(of: 59_999_999_999) == 0)
        #expect(split.block(of: 60_000_000_000) == 1)
        #expect(split.block(of: -1) == -1)
        #expect(split.block(of: -60_000_000_000) == -1)
        #expect(split.block(of: -60_000_000_001) == -2)
    }

    /// Every window of one stream within one block is on the same side; the side depends only on
    /// the unit, never on the rest of the data.
    @Test func windowsOfOneBlockShareASide() {
        let split = ValidationSplit(fraction: 0.5, blockSeconds: 60)
        for stream in ["a", "b", "walker-7", ""] {
            for block in Int64(0)..<20 {
                let start = block * 60_000_000_000
                let role = split.role(of: .window(streamID: stream, timestamp: start))
                for offset in stride(from: Int64(0), to: 60_000_000_000, by: 7_000_000_000) {
                    #expect(split.role(of: .window(streamID: stream, timestamp: start + offset)) == role)
                }
            }
        }
    }

    @Test func fractionIsNear() {
        let split = ValidationSplit()
        let units = (0..<10_000).filter { split.role(of: .unit(UInt64($0))) == .validation }.count
        #expect(abs(Double(units) / 10_000 - 0.2) < 0.015)
        var windows = 0
        for stream in 0..<100 {
            for block in 0..<100 {
                let identity = LabelledRecord.Identity.window(streamID: "stream-\(stream)", timestamp: Int64(block) * 60_000_000_000)
                if split.role(of: identity) == .validation { windows += 1 }
            }
        }
        #expect(abs(Double(windows) / 10_000 - 0.2) < 0.015)
        // Random 64-bit ids (as the daemon assigns) too.
        var generator = SystemRandomNumberGenerator()
        let random = (0..<10_000).filter { _ in split.role(of: .unit(generator.next())) == .validation }.count
        #expect(abs(Double(random) / 10_000 - 0.2) < 0.03)
    }

    @Test func extremesAndSources() {
        let none = ValidationSplit(fraction: 0)
        let all = ValidationSplit(fraction: 1)
        for id in UInt64(0)..<100 {
            #expect(none.role(of: .unit(id)) == .training)
            #expect(all.role(of: .unit(id)) == .validation)
        }
        // A sample and a correction are hashed by their id; a window by stream and block.
        let split = ValidationSplit()
        let sample = makeRecord(source: .sample(id: 42))
        let correction = makeRecord(source: .correction(id: 42))
        #expect(sample.identity == .unit(42))
        #expect(split.role(of: sample) == split.role(of: .unit(42)))
        #expect(split.role(of: correction) == split.role(of: .unit(42)))
        let window = makeRecord(stream: "s1", timestamp: 90_000_000_000)
        #expect(window.identity == .window(streamID: "s1", timestamp: 90_000_000_000))
        #expect(!split.isValidation(window))
    }
}
