import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The one path for this module's C file calls: each reads `errno` at once, retries `EINTR`
/// and throws a `RetrainingError(.io)` naming the step, the path and the `errno` text.
enum POSIX {
    /// An `errno` value with its text, kept as the cause of an I/O error.
    struct Errno: Error, CustomStringConvertible, Sendable {
        var code: Int32
        var description: String { "\(String(cString: strerror(code))) (errno \(code))" }
    }

    /// The text of a Foundation error, kept as a `Sendable` cause.
    struct Message: Error, CustomStringConvertible, Sendable {
        var description: String
    }

    /// Runs `body`, retrying while it fails with `EINTR`.
    /// - Throws: `RetrainingError(.io)` with `what` and the errno when `body` returns a negative value.
    @discardableResult
    static func call<Result: SignedInteger>(_ what: @autoclosure () -> String, _ body: () -> Result) throws -> Result {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = errno
            if code == EINTR { continue }
            throw RetrainingError(.io, "cannot \(what())", cause: Errno(code: code))
        }
    }

    /// Opens `path` with `flags` (`O_CLOEXEC` is added).
    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        try call("open \(path)") { Glibc.open(path, flags | O_CLOEXEC, mode) }
    }

    /// Closes `fd`, ignoring errors (nothing useful can follow a failed close of a synced file).
    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Writes all of `bytes` to `fd`.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var written = 0
        while written < bytes.count {
            let result = try call("write \(path)") {
                Glibc.write(fd, bytes.baseAddress!.advanced(by: written), bytes.count - written)
            }
            written += result
        }
    }

    /// `fsync(fd)`.
    static func sync(_ fd: Int32, path: String) throws {
        try call("fsync \(path)") { fsync(fd) }
    }

    /// Truncates `fd` to `length` bytes.
    static func truncate(_ fd: Int32, to length: Int, path: String) throws {
        try call("truncate \(path) to \(length) bytes") { ftruncate(fd, off_t(length)) }
    }

    /// Renames `from` to `to`.
    static func rename(_ from: String, _ to: String) throws {
        try call("rename \(from) to \(to)") { Glibc.rename(from, to) }
    }

    /// Removes the file at `path`.
    static func unlink(_ path: String) throws {
        try call("remove \(path)") { Glibc.unlink(path) }
    }

    /// `fsync` of a directory, so renames, creations and removals in it are durable.
    static func syncDirectory(_ path: String) throws {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try sync(fd, path: path)
    }

    /// Creates `path` (and its parents) as a directory if it does not exist.
    static func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw RetrainingError(.io, "cannot create the directory \(path)", cause: Message(description: "\(error)"))
        }
    }

    /// The names of the entries of the directory at `path`.
    static func entries(of path: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw RetrainingError(.io, "cannot list the directory \(path)", cause: Message(description: "\(error)"))
        }
    }

    /// The whole contents of the file at `path`, or nil when it does not exist.
    static func readFile(_ path: String, limit: Int? = nil) throws -> [UInt8]? {
        let fd: Int32
        do {
            fd = try open(path, O_RDONLY)
        } catch let error as RetrainingError {
            if let cause = error.cause as? Errno, cause.code == ENOENT { return nil }
            throw error
        }
        defer { close(fd) }
        var status = stat()
        try call("stat \(path)") { fstat(fd, &status) }
        let size = min(Int(status.st_size), limit ?? Int.max)
        var bytes = [UInt8](repeating: 0, count: size)
        var filled = 0
        while filled < size {
            let count = try bytes.withUnsafeMutableBytes { raw in
                try call("read \(path)") { Glibc.read(fd, raw.baseAddress!.advanced(by: filled), size - filled) }
            }
            if count == 0 { break }
            filled += count
        }
        if filled < size { bytes.removeLast(size - filled) }
        return bytes
    }
}

