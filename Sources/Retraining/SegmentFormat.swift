/// The byte layout of the labelled buffer's segment files. All integers are little-endian.
///
/// A segment holds the records of one class (see `LabelledBuffer` for why) and is named
/// `<16 hex digits>.seg`, the digits a sequence number that grows with every new segment.
///
/// Header (`16 + n` bytes):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic `LSTMDLBF` |
/// | 8 | u16 | format version, 1 |
/// | 10 | u16 | `n`, the byte length of the class name |
/// | 12 | n | the class name, UTF-8 |
/// | 12 + n | u32 | CRC-32C of bytes `0 ..< 12 + n` |
///
/// Then records, back to back, each a frame of `8 + L` bytes:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | u32 | `L`, the payload length |
/// | 4 | u32 | CRC-32C of the payload |
/// | 8 | L | the payload |
///
/// Payload (`32 + s + k + 4·T·C` bytes):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | u8 | source: 0 window, 1 sample, 2 correction |
/// | 1 | u8 | reserved, 0 |
/// | 2 | u16 | `s`, byte length of the stream id |
/// | 4 | u16 | `k`, byte length of the class name |
/// | 6 | u16 | reserved, 0 |
/// | 8 | i64 | timestamp, ns |
/// | 16 | u64 | unit id of a sample or correction, 0 for a window |
/// | 24 | u32 | `T`, timesteps |
/// | 28 | u32 | `C`, channels |
/// | 32 | s | stream id, UTF-8 |
/// | 32 + s | k | class name, UTF-8 (equal to the header's) |
/// | 32 + s + k | 4·T·C | values, float32, timestep-major |
///
/// A record is valid when its whole frame is present, `L` matches the payload's own sizes, the
/// CRC matches, the strings are UTF-8, the source is known and the class is the segment's. The
/// first invalid record ends the segment: recovery truncates the file there.
enum SegmentFormat {
    /// The eight magic bytes that open every segment.
    static let magic: [UInt8] = Array("LSTMDLBF".utf8)
    /// The format version this code writes and reads.
    static let version: UInt16 = 1
    /// The file name extension of a segment.
    static let fileExtension = "seg"
    /// The bytes before each payload: length and CRC.
    static let frameHeaderBytes = 8
    /// The fixed part of a payload, before the strings and values.
    static let payloadFixedBytes = 32
    /// The largest payload accepted on read; a larger length is treated as garbled.
    static let maxPayloadBytes = 1 << 30

    /// The file name of segment number `number`: 16 lowercase hex digits and `.seg`.
    static func fileName(number: UInt64) -> String {
        let digits = String(number, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits + "." + fileExtension
    }

    /// The segment number in a file name `<16 hex digits>.seg…` (also for names renamed aside,
    /// such as `….seg.corrupt`), or nil when the name is not a segment's.
    static func number(inFileName name: String) -> UInt64? {
        let parts = name.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 16, parts[1].hasPrefix(fileExtension),
            let number = UInt64(parts[0], radix: 16)
        else { return nil }
        return number
    }

    /// The header bytes of a segment holding class `className`.
    static func header(className: String) -> [UInt8] {
        let name = Array(className.utf8)
        precondition(name.count <= Int(UInt16.max), "SegmentFormat: class name of \(name.count) bytes")
        var bytes = magic
        bytes.appendLittleEndian(version)
        bytes.appendLittleEndian(UInt16(name.count))
        bytes += name
        bytes.appendLittleEndian(CRC32C.checksum(bytes))
        return bytes
    }

    /// A parsed segment header.
    struct Header: Equatable {
        /// The class every record of the segment belongs to.
        var className: String
        /// The header's length in bytes; the first record starts here.
        var length: Int
    }

    /// Parses the header at the start of `bytes`.
    /// - Returns: The header, or the reason it is not a valid one.
    static func parseHeader(_ bytes: UnsafeRawBufferPointer) -> Result<Header, HeaderProblem> {
        guard bytes.count >= 12 else { return .failure(HeaderProblem("file of \(bytes.count) bytes is shorter than a header")) }
        guard bytes.prefix(8).elementsEqual(magic) else { return .failure(HeaderProblem("bad magic")) }
        let version = bytes.littleEndian(UInt16.self, at: 8)
        guard version == Self.version else { return .failure(HeaderProblem("unsupported version \(version)")) }
        let nameLength = Int(bytes.littleEndian(UInt16.self, at: 10))
        let length = 16 + nameLength
        guard bytes.count >= length else { return .failure(HeaderProblem("header cut short")) }
        let stored = bytes.littleEndian(UInt32.self, at: 12 + nameLength)
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<(12 + nameLength)])) == stored else {
            return .failure(HeaderProblem("header checksum mismatch"))
        }
        guard let name = String(validating: bytes[12..<(12 + nameLength)], as: UTF8.self) else {
            return .failure(HeaderProblem("class name is not UTF-8"))
        }
        return .success(Header(className: name, length: length))
    }

    /// Why a header is not valid.
    struct HeaderProblem: Error, Equatable {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// The payload size of `record` in bytes, or nil when a string is too long for its u16.
    static func payloadSize(of record: LabelledRecord) -> Int? {
        let stream = record.streamID.utf8.count
        let name = record.className.utf8.count
        guard stream <= Int(UInt16.max), name <= Int(UInt16.max) else { return nil }
        return payloadFixedBytes + stream + name + 4 * record.values.count
    }

    /// Appends the frame of `record` (length, CRC, payload) to `bytes`.
    /// - Precondition: `payloadSize(of: record)` is not nil.
    static func appendFrame(of record: LabelledRecord, to bytes: inout [UInt8]) {
        guard let size = payloadSize(of: record) else {
            preconditionFailure("SegmentFormat: record strings too long for the format")
        }
        let start = bytes.count
        bytes.appendLittleEndian(UInt32(size))
        bytes.appendLittleEndian(UInt32(0))  // CRC, patched below
        let payloadStart = bytes.count
        bytes.append(record.source.code)
        bytes.append(0)
        bytes.appendLittleEndian(UInt16(record.streamID.utf8.count))
        bytes.appendLittleEndian(UInt16(record.className.utf8.count))
        bytes.appendLittleEndian(UInt16(0))
        bytes.appendLittleEndian(record.timestamp)
        bytes.appendLittleEndian(record.source.unitID)
        bytes.appendLittleEndian(UInt32(record.timesteps))
        bytes.appendLittleEndian(UInt32(record.channels))
        bytes += record.streamID.utf8
        bytes += record.className.utf8
        #if _endian(little)
        record.values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        #else
        for value in record.values { bytes.appendLittleEndian(value.bitPattern) }
        #endif
        let crc = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[payloadStart...])) }
        withUnsafeBytes(of: crc.littleEndian) { crcBytes in
            for index in 0..<4 { bytes[start + 4 + index] = crcBytes[index] }
        }
    }

    /// The outcome of reading the records of one segment.
    struct Scan {
        /// The records read, when decoding was asked for; else empty.
        var records: [LabelledRecord] = []
        /// The number of valid records.
        var recordCount = 0
        /// The length of the valid prefix: the header and every valid record.
        var validLength: Int
        /// Why reading stopped before the end of the bytes, or nil when every byte was valid.
        var tailProblem: String?
    }

    /// Reads the records after a header, up to the first invalid one.
    ///
    /// - Parameters:
    ///   - bytes: The whole segment.
    ///   - header: Its parsed header.
    ///   - decode: Whether to materialise the records (else only count and validate them).
    static func scan(_ bytes: UnsafeRawBufferPointer, header: Header, decode: Bool) -> Scan {
        var scan = Scan(validLength: header.length)
        var offset = header.length
        while offset < bytes.count {
            let remaining = bytes.count - offset
            guard remaining >= frameHeaderBytes else {
                scan.tailProblem = "\(remaining) bytes at offset \(offset) are shorter than a record frame"
                break
            }
            let length = Int(bytes.littleEndian(UInt32.self, at: offset))
            let stored = bytes.littleEndian(UInt32.self, at: offset + 4)
            guard length >= payloadFixedBytes, length <= maxPayloadBytes else {
                scan.tailProblem = "garbled record length \(length) at offset \(offset)"
                break
            }
            guard length <= remaining - frameHeaderBytes else {
                scan.tailProblem = "record of \(length) bytes at offset \(offset) is cut short"
                break
            }
            let payload = UnsafeRawBufferPointer(
                rebasing: bytes[(offset + frameHeaderBytes)..<(offset + frameHeaderBytes + length)])
            guard CRC32C.checksum(payload) == stored else {
                scan.tailProblem = "checksum mismatch in the record at offset \(offset)"
                break
            }
            switch decodePayload(payload, className: header.className, materialise: decode) {
            case .failure(let problem):
                scan.tailProblem = "\(problem.reason) in the record at offset \(offset)"
            case .success(let record):
                if let record { scan.records.append(record) }
                scan.recordCount += 1
                offset += frameHeaderBytes + length
                scan.validLength = offset
                continue
            }
            break
        }
        return scan
    }

    /// Decodes and checks one payload whose CRC matched.
    /// - Returns: The record (nil when `materialise` is false), or why the payload is invalid.
    static func decodePayload(
        _ payload: UnsafeRawBufferPointer, className expectedClass: String, materialise: Bool
    ) -> Result<LabelledRecord?, HeaderProblem> {
        let streamLength = Int(payload.littleEndian(UInt16.self, at: 2))
        let nameLength = Int(payload.littleEndian(UInt16.self, at: 4))
        let timesteps = Int(payload.littleEndian(UInt32.self, at: 24))
        let channels = Int(payload.littleEndian(UInt32.self, at: 28))
        let unitID = payload.littleEndian(UInt64.self, at: 16)
        guard let source = LabelledRecord.Source(code: payload[0], unitID: unitID) else {
            return .failure(HeaderProblem("unknown source \(payload[0])"))
        }
        guard timesteps >= 1, channels >= 1, timesteps <= payload.count, channels <= payload.count,
            payload.count == payloadFixedBytes + streamLength + nameLength + 4 * timesteps * channels
        else { return .failure(HeaderProblem("sizes do not add up")) }
        let nameStart = payloadFixedBytes + streamLength
        guard let className = String(validating: payload[nameStart..<(nameStart + nameLength)], as: UTF8.self),
            className == expectedClass
        else { return .failure(HeaderProblem("class differs from the segment's")) }
        guard let streamID = String(validating: payload[payloadFixedBytes..<nameStart], as: UTF8.self) else {
            return .failure(HeaderProblem("stream id is not UTF-8"))
        }
        guard materialise else { return .success(nil) }
        let valuesStart = nameStart + nameLength
        let count = timesteps * channels
        let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialised in
            #if _endian(little)
            UnsafeMutableRawBufferPointer(buffer).copyMemory(
                from: UnsafeRawBufferPointer(rebasing: payload[valuesStart..<(valuesStart + 4 * count)]))
            #else
            for index in 0..<count {
                buffer[index] = Float(bitPattern: payload.littleEndian(UInt32.self, at: valuesStart + 4 * index))
            }
            #endif
            initialised = count
        }
        return .success(LabelledRecord(
            streamID: streamID, timestamp: Int64(bitPattern: payload.littleEndian(UInt64.self, at: 8)),
            className: className, source: source, timesteps: timesteps, channels: channels, values: values))
    }
}

extension Array where Element == UInt8 {
    /// Appends the little-endian bytes of `value`.
    mutating func appendLittleEndian<Value: FixedWidthInteger>(_ value: Value) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

extension UnsafeRawBufferPointer {
    /// The little-endian integer at byte `offset` (unaligned).
    func littleEndian<Value: FixedWidthInteger>(_ type: Value.Type, at offset: Int) -> Value {
        Value(littleEndian: loadUnaligned(fromByteOffset: offset, as: Value.self))
    }
}
