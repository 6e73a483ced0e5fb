import Foundation
import LSTMKit

/// Reading a dataset file, shared by the parsers.
public enum DatasetFile {
    /// Reads the `.ts` or `.csv` file (by extension) at `url` once: its dataset and the
    /// `sha256:` digest of the bytes parsed (so a pipe, read once, has both).
    /// - Throws: `DatasetError`, as the parsers do.
    public static func load(_ url: URL) throws -> (dataset: Dataset, digest: String) {
        var digest = ""
        let dataset = try withBytes(of: url) { bytes, source in
            digest = ModelFile.digest(of: bytes)
            return try parse(bytes, source: source, csv: isCSV(url))
        }
        return (dataset, digest)
    }

    /// Reads the `.ts` or `.csv` file (by extension) at `url`.
    /// - Throws: `DatasetError`, as the parsers do.
    public static func dataset(at url: URL) throws -> Dataset {
        try withBytes(of: url) { bytes, source in try parse(bytes, source: source, csv: isCSV(url)) }
    }

    private static func isCSV(_ url: URL) -> Bool { url.pathExtension.lowercased() == "csv" }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>, source: String, csv: Bool) throws -> Dataset {
        csv ? try CSVDatasetParser.parse(bytes: bytes, source: source) : try TSFileParser.parse(bytes: bytes, source: source)
    }

    /// Calls `body` with the bytes of the file at `url` and its path as given (what error
    /// messages name, so `path:line:column` opens from where the command ran).
    /// - Throws: `DatasetError(.unreadableFile)` with the system's reason (`FileBytes`), or what
    ///   `body` throws.
    static func withBytes<Result>(
        of url: URL, _ body: (UnsafeBufferPointer<UInt8>, String) throws -> Result
    ) throws -> Result {
        let source = url.relativePath
        let bytes: [UInt8]
        do {
            bytes = try FileBytes.read(url.path)
        } catch {
            throw DatasetError(.unreadableFile, source: source, message: "cannot read file: \(error.reason)", cause: error)
        }
        return try bytes.withUnsafeBufferPointer { try body($0, source) }
    }
}
