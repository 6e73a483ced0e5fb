import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes files atomically: a temporary file in the same directory, `fsync`, `rename` over the
/// destination, then `fsync` of the directory, so a crash leaves either the old or the new file.
public enum AtomicFile {
    /// Atomically replaces the file at `url` with `bytes`.
    /// - Throws: `ModelError(.io)` naming the failing step and the `errno` text.
    public static func write(_ bytes: [UInt8], to url: URL) throws {
        let directory = url.deletingLastPathComponent().path
        let temporary = directory + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("create \(temporary)") }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { raw in
                Glibc.write(fd, raw.baseAddress!.advanced(by: written), raw.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                let error = failure("write \(temporary)")
                close(fd)
                unlink(temporary)
                throw error
            }
            written += result
        }
        guard fsync(fd) == 0 else {
            let error = failure("fsync \(temporary)")
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, url.path) == 0 else {
            let error = failure("rename \(temporary) to \(url.path)")
            unlink(temporary)
            throw error
        }
        let directoryFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }

    private static func failure(_ step: String) -> ModelError {
        ModelError(.io, "cannot \(step): \(String(cString: strerror(errno)))")
    }
}
