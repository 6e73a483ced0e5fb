import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Reads model files for the daemon: size-limited (`max_model_bytes`, checked with `fstat` before
/// any byte is read), regular files only, and — for paths named over the control socket —
/// confined to `model_directory`.
///
/// Confinement: the requested path is made absolute (a relative one is taken inside the first
/// directory), `..` is refused, and it must lie lexically inside one of the directories. The
/// file is then opened by walking from that directory one component at a time with `openat` and
/// `O_NOFOLLOW`, so a symbolic link anywhere below the directory (to `/etc/shadow`, or to a
/// directory outside) is refused rather than followed, and what is opened is inside the
/// directory whatever happens to the path meanwhile.
///
/// Messages never quote the file's bytes, and a path outside the directories is refused before
/// anything is opened, so a client learns nothing about files it could not load.
struct ModelFileReader: Sendable {
    /// Directories control-socket paths must lie in (absolute).
    var directories: [String]
    /// Largest file read, bytes.
    var maxBytes: Int

    init(directories: [String], maxBytes: Int) {
        self.directories = directories
        self.maxBytes = maxBytes
    }

    init(configuration: Configuration) {
        self.init(directories: configuration.modelDirectories, maxBytes: configuration.maxModelBytes)
    }

    /// Reads a path the operator configured (`model =`, `--model`, the store): symlinks are
    /// followed, the size limit applies.
    /// - Throws: `DaemonError` naming the path.
    func read(path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            throw DaemonError("model \(path): cannot open: \(String(cString: strerror(errno)))", key: "model")
        }
        defer { close(fd) }
        return try read(fd: fd, display: path)
    }

    /// Resolves a path named over the control socket inside `directories` and reads it.
    /// - Returns: the resolved absolute path and the file's bytes.
    /// - Throws: `DaemonError` with a message that names the request, never the file's content.
    func readConfined(_ requested: String) throws -> (path: String, bytes: [UInt8]) {
        let (path, directory, rest) = try resolve(requested)
        var fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw DaemonError("model '\(requested)': model_directory \(directory) cannot be opened") }
        defer { close(fd) }
        for (index, component) in rest.enumerated() {
            let last = index == rest.count - 1
            let flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | (last ? O_NONBLOCK : O_DIRECTORY)
            let next = openat(fd, component, flags)
            guard next >= 0 else {
                let reason: String
                switch errno {
                case ENOENT: reason = "no such model file"
                case ELOOP, ENOTDIR: reason = "a symbolic link (not followed) or not a directory is on the way"
                default: reason = "not a readable model file"
                }
                throw DaemonError("model '\(requested)': \(reason)")
            }
            close(fd)
            fd = next
        }
        return (path, try read(fd: fd, display: "'\(requested)'"))
    }

    /// The absolute, normalised path, the configured directory it lies in and the components
    /// below that directory.
    func resolve(_ requested: String) throws -> (path: String, directory: String, rest: [String]) {
        let outside = DaemonError(
            "model '\(requested)' is not inside model_directory (\(directories.joined(separator: ", ")))")
        var absolute = requested
        if !requested.hasPrefix("/") {
            guard let first = directories.first, !requested.isEmpty else { throw outside }
            absolute = first + "/" + requested
        }
        let components = absolute.split(separator: "/").map(String.init).filter { $0 != "." }
        guard !components.contains("..") else { throw outside }
        for directory in directories {
            // The directory as configured, or its canonical spelling (the file may be named by
            // either: /var/lib/lstmd is a link to /var/lib/private/lstmd under DynamicUser=).
            var spellings = [directory]
            if let canonical = realpath(directory, nil) {
                spellings.append(String(cString: canonical))
                free(canonical)
            }
            for spelling in spellings {
                let prefix = spelling.split(separator: "/").map(String.init).filter { $0 != "." }
                guard !prefix.contains(".."), components.count > prefix.count, Array(components.prefix(prefix.count)) == prefix
                else { continue }
                return ("/" + components.joined(separator: "/"), spelling, Array(components.dropFirst(prefix.count)))
            }
        }
        throw outside
    }

    private func read(fd: Int32, display: String) throws -> [UInt8] {
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & UInt32(S_IFMT)) == UInt32(S_IFREG) else {
            throw DaemonError("model \(display): not a regular file", key: "model")
        }
        guard Int(info.st_size) <= maxBytes else {
            throw DaemonError("model \(display): larger than max_model_bytes (\(maxBytes))", key: "max_model_bytes")
        }
        // The file may grow while it is read: never more than the limit.
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { buffer in
                Glibc.read(fd, buffer.baseAddress! + count, buffer.count - count)
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw DaemonError("model \(display): not a readable model file")
            }
            if got == 0 { break }
            count += got
            if count == bytes.count, count <= maxBytes { bytes.append(contentsOf: repeatElement(0, count: 1 << 16)) }
            guard count <= maxBytes else {
                throw DaemonError("model \(display): larger than max_model_bytes (\(maxBytes))", key: "max_model_bytes")
            }
        }
        bytes.removeLast(bytes.count - count)
        return bytes
    }
}
