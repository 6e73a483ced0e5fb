import Foundation
import LSTMKit

extension ModelStore {
    /// `AtomicFile.write`, its error as a `RetrainingError(.io)`.
    func atomicWrite(_ bytes: [UInt8], to url: URL) throws {
        do {
            try AtomicFile.write(bytes, to: url)
        } catch let error as ModelError {
            throw RetrainingError(.io, "cannot write \(url.path)", cause: error)
        }
    }

    /// Writes `<version>.json`.
    func writeMetadata(_ metadata: Metadata) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let data: Data
        do {
            data = try encoder.encode(metadata)
        } catch {
            throw RetrainingError(.invalid, "cannot encode the metadata of \(metadata.version)", cause: POSIX.Message(description: "\(error)"))
        }
        try atomicWrite(Array(data) + [UInt8(ascii: "\n")], to: metadataURL(version: metadata.version))
    }

    /// Reads `<version>.json`, or nil when it is missing or unreadable.
    func readMetadata(version: String) -> Metadata? {
        guard let bytes = try? POSIX.readFile(metadataURL(version: version).path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let metadata = try? decoder.decode(Metadata.self, from: Data(bytes)), metadata.version == version else {
            return nil
        }
        return metadata
    }

    /// The pointer's versions (current first), or nil when there is no pointer.
    /// - Throws: `RetrainingError(.corrupt)` when it is empty or names an invalid version.
    func readPointer() throws -> [String]? {
        let url = directory.appendingPathComponent(Self.pointerName)
        guard let bytes = try POSIX.readFile(url.path, limit: 1 << 20) else { return nil }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw RetrainingError(.corrupt, "the pointer \(url.path) is not text")
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard !lines.isEmpty, lines.allSatisfy(Self.isValidVersion) else {
            throw RetrainingError(.corrupt, "the pointer \(url.path) does not name valid versions")
        }
        return lines
    }

    /// Replaces the pointer atomically with `versions` (current first), duplicates removed and at
    /// most `keep` lines.
    func writePointer(_ versions: [String]) throws {
        var seen: Set<String> = []
        let unique = versions.filter { seen.insert($0).inserted }.prefix(keep)
        let text = unique.map { $0 + "\n" }.joined()
        try atomicWrite(Array(text.utf8), to: directory.appendingPathComponent(Self.pointerName))
    }

    /// `promote` with the lock held.
    func promoteLocked(_ version: String) throws {
        guard Self.isValidVersion(version), FileManager.default.fileExists(atPath: modelURL(version: version).path) else {
            throw RetrainingError(.notFound, "no stored model version \"\(version)\"")
        }
        let old = (try? readPointer()) ?? []
        let stored = Set(storedVersions())
        try writePointer([version] + old.filter { $0 != version && stored.contains($0) })
        try pruneLocked()
    }

    /// The versions with a model or a metadata file.
    func storedVersions() -> [String] {
        let names = (try? POSIX.entries(of: directory.path)) ?? []
        var versions: Set<String> = []
        for name in names where !name.hasPrefix(".") {
            for suffix in [".safetensors", ".json"] where name.hasSuffix(suffix) {
                let version = String(name.dropLast(suffix.count))
                if Self.isValidVersion(version) { versions.insert(version) }
            }
        }
        return Array(versions)
    }

    /// `entries` with the lock held.
    func entriesLocked() throws -> [Entry] {
        _ = try POSIX.entries(of: directory.path)
        let pointer = (try? readPointer()) ?? []
        let entries = storedVersions().map { version -> Entry in
            let url = modelURL(version: version)
            let metadata = readMetadata(version: version) ?? Metadata(
                version: version,
                created: (try? FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate] as? Date)
                    ?? Date(timeIntervalSince1970: 0),
                trigger: "unknown", verdict: .installed, reason: "metadata missing or unreadable")
            let state: State
            if pointer.first == version {
                state = .current
            } else if pointer.count > 1, pointer[1] == version {
                state = .previous
            } else if metadata.verdict == .rejected {
                state = .rejected
            } else {
                state = .retired
            }
            return Entry(metadata: metadata, state: state, modelURL: url)
        }
        return entries.sorted {
            ($0.metadata.created, $0.version) > ($1.metadata.created, $1.version)
        }
    }

    /// `prune` with the lock held.
    @discardableResult
    func pruneLocked() throws -> [String] {
        let entries = try entriesLocked()
        guard entries.count > keep else { return [] }
        var removable = entries.filter { $0.state != .current && $0.state != .previous }
        var removed: [String] = []
        var count = entries.count
        while count > keep, let oldest = removable.popLast() {
            for url in [metadataURL(version: oldest.version), oldest.modelURL]
            where FileManager.default.fileExists(atPath: url.path) {
                try POSIX.unlink(url.path)
            }
            removed.append(oldest.version)
            count -= 1
        }
        if !removed.isEmpty {
            try POSIX.syncDirectory(directory.path)
            logger.info("model store: pruned \(removed.joined(separator: ", ")) (keep \(keep))")
        }
        return removed
    }
}
