import Foundation
@testable import Retraining

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let url: URL

    init(_ name: String = #function) throws {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("retraining-\(safe)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// A window record with distinct, checkable values: `values[i] = base + i`.
func makeRecord(
    stream: String = "s1", timestamp: Int64 = 0, className: String = "Walking",
    source: LabelledRecord.Source = .window, timesteps: Int = 4, channels: Int = 3, base: Float = 0
) -> LabelledRecord {
    LabelledRecord(
        streamID: stream, timestamp: timestamp, className: className, source: source, timesteps: timesteps,
        channels: channels, values: (0..<(timesteps * channels)).map { base + Float($0) })
}

/// The segment files of a buffer directory, in segment order.
func segmentFiles(in directory: URL) throws -> [URL] {
    try FileManager.default.contentsOfDirectory(atPath: directory.path)
        .filter { $0.hasSuffix(".seg") && !$0.hasPrefix(".") }
        .sorted()
        .map { directory.appendingPathComponent($0) }
}

/// The size of the file at `url`.
func fileSize(_ url: URL) throws -> Int {
    (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? -1
}

/// Rewrites one byte of the file at `url`.
func flipByte(in url: URL, at offset: Int) throws {
    var bytes = [UInt8](try Data(contentsOf: url))
    bytes[offset] ^= 0xFF
    try Data(bytes).write(to: url)
}

/// Cuts the file at `url` to `length` bytes.
func truncateFile(_ url: URL, to length: Int) throws {
    let handle = try FileHandle(forWritingTo: url)
    try handle.truncate(atOffset: UInt64(length))
    try handle.close()
}
