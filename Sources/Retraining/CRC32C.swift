/// CRC-32C (Castagnoli, reflected polynomial `0x82F63B78`), the checksum of every record in the
/// labelled buffer: the same function as iSCSI, ext4 metadata and LevelDB/RocksDB use, so its
/// values can be checked with any standard tool. Check value: `crc32c("123456789") = 0xE3069283`.
///
/// `checksum` is table-driven slicing-by-8 (eight bytes per step through eight 256-entry tables);
/// `referenceChecksum` is the byte-at-a-time definition it is tested against.
public enum CRC32C {
    /// The CRC-32C of `bytes`, continuing from `crc` (the value of the bytes before them; 0 to
    /// start), so `checksum(b, continuing: checksum(a)) == checksum(a + b)`.
    ///
    /// - Parameters:
    ///   - bytes: The bytes to checksum.
    ///   - crc: The CRC of the preceding bytes, or 0.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        var state = ~crc
        guard var pointer = bytes.baseAddress else { return crc }
        var remaining = bytes.count
        tables.withUnsafeBufferPointer { table in
            while remaining >= 8 {
                let low = UInt32(littleEndian: pointer.loadUnaligned(as: UInt32.self)) ^ state
                let high = UInt32(littleEndian: pointer.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                state = table[7 &* 256 &+ Int(low & 0xFF)]
                    ^ table[6 &* 256 &+ Int((low >> 8) & 0xFF)]
                    ^ table[5 &* 256 &+ Int((low >> 16) & 0xFF)]
                    ^ table[4 &* 256 &+ Int(low >> 24)]
                    ^ table[3 &* 256 &+ Int(high & 0xFF)]
                    ^ table[2 &* 256 &+ Int((high >> 8) & 0xFF)]
                    ^ table[1 &* 256 &+ Int((high >> 16) & 0xFF)]
                    ^ table[Int(high >> 24)]
                pointer += 8
                remaining -= 8
            }
            while remaining > 0 {
                state = table[Int((state ^ UInt32(pointer.load(as: UInt8.self))) & 0xFF)] ^ (state >> 8)
                pointer += 1
                remaining -= 1
            }
        }
        return ~state
    }

    /// The CRC-32C of `bytes`, continuing from `crc` (see `checksum(_:continuing:)`).
    public static func checksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }

    /// The byte-at-a-time definition (one shift-and-xor per bit): the reference the table-driven
    /// `checksum` is tested against. Slow; not for production use.
    static func referenceChecksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        var state = ~crc
        for byte in bytes {
            state ^= UInt32(byte)
            for _ in 0..<8 {
                state = state & 1 == 1 ? (state >> 1) ^ polynomial : state >> 1
            }
        }
        return ~state
    }

    /// The reflected Castagnoli polynomial.
    static let polynomial: UInt32 = 0x82F6_3B78

    /// Eight 256-entry tables, flat: `tables[k * 256 + b]` is the CRC contribution of byte `b`
    /// followed by `k` zero bytes.
    static let tables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for byte in 0..<256 {
            var state = UInt32(byte)
            for _ in 0..<8 {
                state = state & 1 == 1 ? (state >> 1) ^ polynomial : state >> 1
            }
            tables[byte] = state
        }
        for slice in 1..<8 {
            for byte in 0..<256 {
                let previous = tables[(slice - 1) * 256 + byte]
                tables[slice * 256 + byte] = (previous >> 8) ^ tables[Int(previous & 0xFF)]
            }
        }
        return tables
    }()
}
