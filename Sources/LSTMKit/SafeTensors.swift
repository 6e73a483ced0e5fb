import Crypto
import Foundation

/// A parsed safetensors container: 8-byte little-endian header length, a JSON header, raw bytes.
///
/// Parsing validates the container completely before anything is returned: the header length
/// against a limit and the file size, the JSON, the declared data length against the file size
/// (`file truncated at byte N of M`), each entry's dtype, shape and offsets (inside the data
/// section, sized exactly for the shape, non-overlapping; entries in name order, so the first
/// problem reported is always the same), that no bytes follow the last tensor, and that
/// `__metadata__` maps strings to strings. It never traps on malformed input, and its messages
/// never quote the file's bytes (a file that is not safetensors may be anything).
public struct SafeTensors: Sendable {
    /// The element types lstmd reads.
    public enum DType: String, Sendable, CaseIterable {
        case f32 = "F32"
        case f64 = "F64"
        case i32 = "I32"
        case i64 = "I64"

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .f32, .i32: 4
            case .f64, .i64: 8
            }
        }
    }

    /// One tensor's header entry.
    public struct Entry: Sendable, Equatable {
        public var dtype: DType
        public var shape: [Int]
        /// Byte range inside the data section.
        public var offsets: Range<Int>
        /// Number of elements.
        public var count: Int { shape.reduce(1, *) }
    }

    /// Largest accepted JSON header, in bytes (the reference implementation's limit).
    public static let maximumHeaderSize = 100 * 1024 * 1024

    /// Tensor entries by name.
    public private(set) var entries: [String: Entry]
    /// The `__metadata__` map (empty when absent).
    public private(set) var metadata: [String: String]
    private let data: [UInt8]

    /// Parses a container from its bytes.
    /// - Throws: `ModelError` with code `.container` naming the first problem found.
    public init(bytes: [UInt8]) throws {
        guard bytes.count >= 8 else {
            throw ModelError(.container, "file is \(bytes.count) bytes, too short for the 8-byte header length")
        }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        // The length's value is never put in a message: for a file that is not safetensors
        // those 8 bytes are the file's own content (a password hash, a key).
        guard headerLength <= UInt64(Self.maximumHeaderSize) else {
            throw ModelError(
                .container, "not a safetensors file (header length out of range: exceeds the limit of \(Self.maximumHeaderSize) bytes)")
        }
        let headerEnd = 8 + Int(headerLength)
        guard headerEnd <= bytes.count else {
            throw ModelError(
                .container,
                "not a safetensors file, or file truncated at byte \(bytes.count): the header length runs past the end")
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd]))
        } catch {
            throw ModelError(.container, "header is not valid JSON")
        }
        guard let header = json as? [String: Any] else {
            throw ModelError(.container, "header is not a JSON object")
        }
        let dataSize = bytes.count - headerEnd
        // A cut-off file is named as such before any entry is checked: the data the header
        // declares (the largest end offset) against the bytes present.
        let declared = header.compactMap { name, value -> Int? in
            guard name != "__metadata__", let offsets = (value as? [String: Any])?["data_offsets"] as? [Any],
                offsets.count == 2
            else { return nil }
            return Self.integer(offsets[1])
        }.max() ?? 0
        guard declared <= dataSize else {
            throw ModelError(.container, "file truncated at byte \(bytes.count) of \(headerEnd + declared)")
        }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        // In name order, so a file with several problems always reports the same one first.
        for name in header.keys.sorted() {
            let value = header[name]!
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else {
                    throw ModelError(.container, "__metadata__ is not an object")
                }
                for (key, item) in map {
                    guard let text = item as? String else {
                        throw ModelError(.container, "__metadata__ value for '\(key)' is not a string")
                    }
                    metadata[key] = text
                }
                continue
            }
            entries[name] = try Self.parseEntry(name: name, value, dataSize: dataSize)
        }
        let sorted = entries.sorted { $0.value.offsets.lowerBound < $1.value.offsets.lowerBound }
        for (previous, next) in zip(sorted, sorted.dropFirst())
        where next.value.offsets.lowerBound < previous.value.offsets.upperBound {
            throw ModelError(.container, "tensors '\(previous.key)' and '\(next.key)' overlap")
        }
        // The format requires the tensors to cover the data section: bytes after the last tensor
        // are something else riding along (and would be loaded, hashed and stored unseen).
        if dataSize > declared {
            throw ModelError(.container, "\(dataSize - declared) trailing bytes after the last tensor")
        }
        self.entries = entries
        self.metadata = metadata
        self.data = Array(bytes[headerEnd...])
    }

    /// Reads and parses a file.
    /// - Throws: `ModelError` (`.io` when the file cannot be read, `.container` when malformed).
    public init(contentsOf url: URL) throws {
        let bytes: [UInt8]
        do {
            bytes = try FileBytes.read(url.path)
        } catch {
            throw ModelError(.io, "cannot read \(url.relativePath): \(error.reason)")
        }
        try self.init(bytes: bytes)
    }

    private static func parseEntry(name: String, _ value: Any, dataSize: Int) throws -> Entry {
        guard let object = value as? [String: Any] else {
            throw ModelError(.container, "entry '\(name)' is not an object")
        }
        guard let dtypeName = object["dtype"] as? String else {
            throw ModelError(.container, "tensor '\(name)' has no dtype")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw ModelError(.container, "tensor '\(name)' has unsupported dtype \(dtypeName)")
        }
        guard let shapeValues = object["shape"] as? [Any] else {
            throw ModelError(.container, "tensor '\(name)' has no shape")
        }
        var shape: [Int] = []
        var count = 1
        for item in shapeValues {
            guard let dimension = Self.integer(item), dimension >= 0, dimension <= 1 << 31 else {
                throw ModelError(.container, "tensor '\(name)' has an invalid shape")
            }
            shape.append(dimension)
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= 1 << 40 else {
                throw ModelError(.container, "tensor '\(name)' shape is too large")
            }
            count = product
        }
        guard let offsets = object["data_offsets"] as? [Any], offsets.count == 2,
            let begin = Self.integer(offsets[0]), let end = Self.integer(offsets[1])
        else {
            throw ModelError(.container, "tensor '\(name)' has invalid data_offsets")
        }
        guard begin >= 0, begin <= end, end <= dataSize else {
            throw ModelError(.container, "tensor '\(name)' offsets [\(begin), \(end)] lie outside the \(dataSize)-byte data section")
        }
        guard end - begin == count * dtype.size else {
            throw ModelError(.container, "tensor '\(name)' holds \(end - begin) bytes but shape \(shape) of \(dtype.rawValue) needs \(count * dtype.size)")
        }
        return Entry(dtype: dtype, shape: shape, offsets: begin..<end)
    }

    private static func integer(_ value: Any) -> Int? {
        guard let number = value as? NSNumber else { return nil }
        let double = number.doubleValue
        guard double == double.rounded(), abs(double) < 9.0e15 else { return nil }
        return Int(double)
    }

    /// The elements of tensor `name` as `Float` (F32 read exactly; F64 rounded).
    /// - Throws: `ModelError(.tensor)` when absent or not a floating-point tensor.
    public func floats(_ name: String) throws -> [Float] {
        guard let entry = entries[name] else { throw ModelError(.tensor, "tensor '\(name)' is missing") }
        switch entry.dtype {
        case .f32:
            return decode(entry, as: UInt32.self) { Float(bitPattern: $0) }
        case .f64:
            return decode(entry, as: UInt64.self) { Float(Double(bitPattern: $0)) }
        default:
            throw ModelError(.tensor, "tensor '\(name)' has dtype \(entry.dtype.rawValue), expected F32")
        }
    }

    /// The elements of tensor `name` as `Int` (I32 or I64).
    /// - Throws: `ModelError(.tensor)` when absent or not an integer tensor.
    public func integers(_ name: String) throws -> [Int] {
        guard let entry = entries[name] else { throw ModelError(.tensor, "tensor '\(name)' is missing") }
        switch entry.dtype {
        case .i32:
            return decode(entry, as: UInt32.self) { Int(Int32(bitPattern: $0)) }
        case .i64:
            return decode(entry, as: UInt64.self) { Int(Int64(bitPattern: $0)) }
        default:
            throw ModelError(.tensor, "tensor '\(name)' has dtype \(entry.dtype.rawValue), expected I32 or I64")
        }
    }

    private func decode<Word: FixedWidthInteger, Element>(
        _ entry: Entry, as word: Word.Type, _ convert: (Word) -> Element
    ) -> [Element] {
        let size = MemoryLayout<Word>.size
        return data.withUnsafeBytes { raw in
            let base = raw.baseAddress!.advanced(by: entry.offsets.lowerBound)
            return (0..<entry.count).map { index in
                convert(Word(littleEndian: base.loadUnaligned(fromByteOffset: index * size, as: Word.self)))
            }
        }
    }

    /// The SHA-256 of the data section (every tensor's bytes, in file order), lower-case hex.
    public var dataSHA256: String { Self.hex(SHA256.hash(data: data)) }

    static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    /// The raw little-endian bytes of tensor `name`, or nil.
    public func rawBytes(_ name: String) -> ArraySlice<UInt8>? {
        entries[name].map { data[$0.offsets] }
    }
}

extension SafeTensors {
    /// A tensor to write.
    public struct Item: Sendable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        /// Little-endian element bytes.
        public var bytes: [UInt8]

        /// An F32 tensor.
        public static func float32(_ name: String, shape: [Int], _ values: [Float]) -> Item {
            precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not match \(values.count) values of '\(name)'")
            var bytes = [UInt8]()
            bytes.reserveCapacity(values.count * 4)
            for value in values {
                withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
            }
            return Item(name: name, dtype: .f32, shape: shape, bytes: bytes)
        }

        /// An I32 tensor.
        public static func int32(_ name: String, shape: [Int], _ values: [Int32]) -> Item {
            precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not match \(values.count) values of '\(name)'")
            var bytes = [UInt8]()
            for value in values {
                withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
            }
            return Item(name: name, dtype: .i32, shape: shape, bytes: bytes)
        }
    }

    /// Serialises tensors and metadata deterministically: tensors in name order, header keys
    /// sorted, header padded with spaces to a multiple of 8 bytes.
    /// - Parameter dataChecksumKey: When given, the SHA-256 (hex) of the data section is stored
    ///   in the metadata under this key.
    public static func serialize(_ items: [Item], metadata: [String: String], dataChecksumKey: String? = nil) -> [UInt8] {
        let ordered = items.sorted { $0.name < $1.name }
        var metadata = metadata
        if let dataChecksumKey {
            var hasher = SHA256()
            for item in ordered { hasher.update(data: item.bytes) }
            metadata[dataChecksumKey] = hex(hasher.finalize())
        }
        var fields: [(String, String)] = []
        if !metadata.isEmpty {
            let members = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            fields.append(("__metadata__", "{" + members.joined(separator: ",") + "}"))
        }
        var offset = 0
        for item in ordered {
            let shape = item.shape.map(String.init).joined(separator: ",")
            let end = offset + item.bytes.count
            fields.append((item.name, "{\"dtype\":\"\(item.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}"))
            offset = end
        }
        fields.sort { $0.0 < $1.0 }
        var header = Array(("{" + fields.map { "\(jsonString($0.0)):\($0.1)" }.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var output = [UInt8]()
        output.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { output.append(contentsOf: $0) }
        output.append(contentsOf: header)
        for item in ordered { output.append(contentsOf: item.bytes) }
        return output
    }

    static func jsonString(_ text: String) -> String { JSONValue.quote(text) }
}
