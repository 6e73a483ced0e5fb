import Foundation

/// Reading a dataset file, shared by the parsers.
enum DatasetFile {
    /// Calls `body` with the bytes of the file at `url` and its name for error messages.
    /// - Throws: `DatasetError(.unreadableFile)` with the file-system error as `cause`, or what
    ///   `body` throws.
    static func withBytes<Result>(
        of url: URL, _ body: (UnsafeBufferPointer<UInt8>, String) throws -> Result
    ) throws -> Result {
        let source = url.lastPathComponent
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw DatasetError(
                .unreadableFile, source: source, message: "cannot read file: \(error.localizedDescription)",
                cause: error)
        }
        return try data.withUnsafeBytes { raw in try body(raw.bindMemory(to: UInt8.self), source) }
    }
}
