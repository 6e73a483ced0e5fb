import Foundation
import LSTMKit
import Logging
import Synchronization

/// The versions of the model in one directory (`STATE_DIRECTORY/models/`), the pointer to the one
/// served, and the start-up rule that always finds a model that loads.
///
/// Files:
/// - `<version>.safetensors`: the model; `<version>.json`: its `Metadata` (with the gate's
///   report). Both written atomically (temporary file, fsync, rename, directory fsync), model
///   first.
/// - `current`: the pointer, also replaced atomically. Text, one version per line: the first line
///   is the version served, the next ones those served before it, newest first (so `head -1
///   models/current` names the current model). The second line is the **previous** version.
///
/// States (`State`): current (first line), previous (second line), rejected (the gate refused it
/// and it is not in the pointer's first two lines), retired (everything else).
///
/// `keep` bounds the number of versions: after each change the oldest versions beyond `keep` are
/// removed, never the current or the previous one.
///
/// The store is `Sendable`; one internal lock serialises its file operations. One process owns a
/// store directory.
public final class ModelStore: Sendable {
    /// The directory.
    public let directory: URL
    /// The most versions kept (≥ 2). Default 10.
    public let keep: Int

    let logger: Logger
    let lock = Mutex(())

    /// The name of the pointer file.
    static let pointerName = "current"

    /// Opens (creating if needed) the store in `directory`.
    ///
    /// - Parameters:
    ///   - directory: E.g. `STATE_DIRECTORY/models`.
    ///   - keep: The most versions kept (`models_keep`); default 10.
    ///   - logger: Receives fallbacks and prunings.
    /// - Throws: `RetrainingError(.io)` when the directory cannot be created.
    /// - Precondition: `keep ≥ 2`.
    public init(directory: URL, keep: Int = 10, logger: Logger = Logger(label: "lstmd.models")) throws {
        precondition(keep >= 2, "ModelStore: keep \(keep) must be ≥ 2 (current and previous)")
        self.directory = directory
        self.keep = keep
        self.logger = logger
        try POSIX.makeDirectory(directory.path)
    }

    /// Whether `version` can name a stored version: 1–128 characters of `A–Z a–z 0–9 . _ -`, not
    /// starting with `.` or `-`, and not `current`.
    public static func isValidVersion(_ version: String) -> Bool {
        guard (1...128).contains(version.utf8.count), version != pointerName,
            let first = version.utf8.first, first != UInt8(ascii: "."), first != UInt8(ascii: "-")
        else { return false }
        return version.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default: false
            }
        }
    }

    /// A version name for a model made at `created` with file digest `digest` (`sha256:<hex>` or
    /// hex): `yyyyMMdd-HHmmss-<12 hex digits>`, in UTC, so names sort by time.
    public static func makeVersion(created: Date, digest: String) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: created)
        func two(_ value: Int?) -> String { value.map { $0 < 10 ? "0\($0)" : "\($0)" } ?? "00" }
        let hex = digest.hasPrefix("sha256:") ? String(digest.dropFirst(7)) : digest
        return "\(parts.year ?? 0)\(two(parts.month))\(two(parts.day))-\(two(parts.hour))\(two(parts.minute))\(two(parts.second))-"
            + String(hex.prefix(12))
    }

    /// The model file of `version`.
    public func modelURL(version: String) -> URL {
        directory.appendingPathComponent(version + ".safetensors")
    }

    /// The metadata file of `version`.
    public func metadataURL(version: String) -> URL {
        directory.appendingPathComponent(version + ".json")
    }

    /// Stores a model and its metadata (the model file first, so a version with metadata always
    /// has its model), then prunes. Does not change the pointer.
    ///
    /// - Parameters:
    ///   - modelBytes: The safetensors bytes.
    ///   - metadata: Its metadata; `metadata.version` names the files.
    /// - Throws: `RetrainingError(.invalid)` for an invalid or taken version name,
    ///   `RetrainingError(.io)` when a file cannot be written.
    public func add(modelBytes: [UInt8], metadata: Metadata) throws {
        try lock.withLock { _ in
            guard Self.isValidVersion(metadata.version) else {
                throw RetrainingError(.invalid, "invalid model version name \"\(metadata.version)\"")
            }
            guard !FileManager.default.fileExists(atPath: modelURL(version: metadata.version).path) else {
                throw RetrainingError(.invalid, "model version \(metadata.version) is already stored")
            }
            try atomicWrite(modelBytes, to: modelURL(version: metadata.version))
            try writeMetadata(metadata)
            try pruneLocked()
        }
    }

    /// Makes `version` the current one: the pointer's first line becomes `version`, the old
    /// current becomes the previous. Then prunes.
    ///
    /// - Throws: `RetrainingError(.notFound)` when the version has no model file,
    ///   `RetrainingError(.io)` when the pointer cannot be written.
    public func promote(_ version: String) throws {
        try lock.withLock { _ in try promoteLocked(version) }
    }

    /// Swaps to a stored version (`lstmctl rollback VERSION`) after checking that it loads.
    ///
    /// - Parameters:
    ///   - version: The version to serve.
    ///   - validate: Loads or checks the model file; throws when it is unusable.
    /// - Returns: The version's entry, now current.
    /// - Throws: `RetrainingError(.notFound)` for an unknown version, `.unusable` (with the
    ///   loader's error as cause) when it does not load, `.io` when the pointer cannot be written.
    @discardableResult
    public func rollback(to version: String, validate: (URL) throws -> Void) throws -> Entry {
        try lock.withLock { _ in
            guard Self.isValidVersion(version), FileManager.default.fileExists(atPath: modelURL(version: version).path)
            else { throw RetrainingError(.notFound, "no stored model version \"\(version)\"") }
            do {
                try validate(modelURL(version: version))
            } catch {
                throw RetrainingError(.unusable, "model version \(version) does not load", cause: POSIX.Message(description: "\(error)"))
            }
            try promoteLocked(version)
            logger.notice("model store: rolled back to \(version)")
            guard let entry = try entriesLocked().first(where: { $0.version == version }) else {
                throw RetrainingError(.notFound, "model version \(version) vanished")
            }
            return entry
        }
    }

    /// The version the pointer names, or nil when there is no pointer.
    /// - Throws: `RetrainingError(.corrupt)` when the pointer is unreadable.
    public func currentVersion() throws -> String? {
        try lock.withLock { _ in try readPointer()?.first }
    }

    /// Every stored version, newest first (by `created`, then by name).
    /// - Throws: `RetrainingError(.io)` when the directory cannot be listed.
    public func entries() throws -> [Entry] {
        try lock.withLock { _ in try entriesLocked() }
    }

    /// Chooses the model to serve at start-up: the pointer's version if it loads; else, logging
    /// why, the versions served before it (newest first), then any version not rejected by the
    /// gate (newest first). When it falls back, the pointer is rewritten to the version chosen (the
    /// unusable one is dropped from the pointer; its files stay, as `retired`).
    ///
    /// - Parameter load: Loads a model file; throws when it is missing or corrupt.
    /// - Returns: The version and model, or nil when the store holds no usable version.
    /// - Throws: `RetrainingError(.io)` when the directory cannot be listed or the pointer
    ///   rewritten.
    public func resolve<Model>(load: (URL) throws -> Model) throws -> Resolution<Model>? {
        try lock.withLock { _ -> Resolution<Model>? in
            var candidates: [String]
            let pointer: [String]?
            do {
                pointer = try readPointer()
            } catch {
                logger.error("model store: \(error); falling back to the newest usable version")
                pointer = nil
            }
            candidates = pointer ?? []
            let entries = try entriesLocked()
            for entry in entries where entry.metadata.verdict != .rejected && !candidates.contains(entry.version) {
                candidates.append(entry.version)
            }
            var skipped: [(version: String, reason: String)] = []
            for version in candidates {
                let url = modelURL(version: version)
                guard FileManager.default.fileExists(atPath: url.path) else {
                    skipped.append((version, "model file \(url.lastPathComponent) is missing"))
                    logger.error("model store: model version \(version): \(url.lastPathComponent) is missing")
                    continue
                }
                do {
                    let model = try load(url)
                    if version != pointer?.first {
                        let rest = (pointer ?? []).filter { $0 != version && !skipped.map(\.version).contains($0) }
                        try writePointer([version] + rest)
                        if let named = pointer?.first {
                            logger.warning("model store: serving \(version) instead of \(named)")
                        } else {
                            logger.warning("model store: no current pointer; serving \(version)")
                        }
                    }
                    return Resolution(version: version, model: model, skipped: skipped)
                } catch {
                    skipped.append((version, "\(error)"))
                    logger.error("model store: model version \(version) does not load: \(error)")
                }
            }
            return nil
        }
    }

    /// Removes the oldest versions beyond `keep`, never the current or the previous one.
    ///
    /// - Returns: The versions removed.
    /// - Throws: `RetrainingError(.io)` when a file cannot be removed.
    @discardableResult
    public func prune() throws -> [String] {
        try lock.withLock { _ in try pruneLocked() }
    }
}
