/// FNV-1a, 64 bits: a hash of bytes that is the same in every process, run and machine (unlike
/// Swift's `Hasher`, which is seeded per process). Vectors: `""` → `0xcbf29ce484222325`,
/// `"a"` → `0xaf63dc4c8601ec8c`, `"foobar"` → `0x85944171f73967e8`.
public struct StableHash: Sendable, Equatable {
    /// The state; the hash of the bytes combined so far.
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    /// The hash of no bytes.
    public init() {}

    /// Combines `bytes`.
    public mutating func combine(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            value ^= UInt64(byte)
            value &*= 0x0000_0100_0000_01B3
        }
    }

    /// Combines the 8 little-endian bytes of `integer`.
    public mutating func combine(_ integer: UInt64) {
        withUnsafeBytes(of: integer.littleEndian) { combine($0) }
    }

    /// Combines a string as its UTF-8 byte count (8 bytes) and bytes, so that consecutive strings
    /// cannot run into one another.
    public mutating func combine(_ string: String) {
        combine(UInt64(string.utf8.count))
        combine(string.utf8)
    }

    /// `value` passed through SplitMix64's finaliser, so that every output bit depends on every
    /// input bit (FNV-1a's low bits alone are weak), for mapping to `[0, 1)`.
    public var mixed: UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
