import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads a whole file with `open`/`read`, for model and dataset files: a pipe (`<(zcat
/// data.ts.gz)`) reads like a file, and a failure says what the system said ("No such file or
/// directory", "Permission denied") or that the path is a directory, instead of a Foundation
/// error code.
public enum FileBytes {
    /// Why a file could not be read: the `errno` text, or "is a directory".
    public struct ReadError: Error, CustomStringConvertible, Sendable {
        public var reason: String
        public var description: String { reason }
    }

    /// The whole content of the file at `path`.
    public static func read(_ path: String) throws(ReadError) -> [UInt8] {
        func failure() -> ReadError { ReadError(reason: String(cString: strerror(errno))) }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure() }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw failure() }
        if status.st_mode & S_IFMT == S_IFDIR { throw ReadError(reason: "is a directory") }
        var bytes: [UInt8] = []
        if status.st_mode & S_IFMT == S_IFREG { bytes.reserveCapacity(Int(status.st_size)) }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure()
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }
}
