import Foundation
import LSTMKit

/// Reading a dataset file, shared by the parsers.
enum DatasetFile {
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
