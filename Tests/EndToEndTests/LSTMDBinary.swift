import Foundation

/// Where the `lstmd` executable under test lives: `LSTMD_BINARY` when set, else next to the test
/// bundle (`swift build` puts both in `.build/<triple>/debug`).
enum LSTMDBinary {
    /// Directories searched, in order.
    static var candidates: [URL] {
        var directories: [URL] = []
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append(URL(fileURLWithPath: executable).deletingLastPathComponent())
        }
        let bundle = Bundle.main.bundleURL
        directories.append(bundle)
        directories.append(bundle.deletingLastPathComponent())
        if let path = Bundle.main.executablePath {
            directories.append(URL(fileURLWithPath: path).deletingLastPathComponent())
        }
        directories.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug"))
        return directories.map { $0.appendingPathComponent("lstmd") }
    }

    /// The executable.
    /// - Throws: `HarnessError` naming every place searched when it is missing.
    static func url() throws -> URL {
        if let explicit = ProcessInfo.processInfo.environment["LSTMD_BINARY"] {
            guard FileManager.default.isExecutableFile(atPath: explicit) else {
                throw HarnessError("LSTMD_BINARY=\(explicit) is not an executable file")
            }
            return URL(fileURLWithPath: explicit)
        }
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) {
            return found
        }
        throw HarnessError(
            "the lstmd executable was not found (searched \(candidates.map(\.path))); run `swift build` before `swift test`, or set LSTMD_BINARY")
    }
}

/// A failure of the test harness itself (not of the daemon under test).
struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
