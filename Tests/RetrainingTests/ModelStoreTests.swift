import Foundation
import LSTMKit
import Testing
@testable import Retraining

@Suite struct ModelStoreTests {
    static let architecture = Architecture(inputSize: 3, hiddenSize: 4, numClasses: 2)

    static func modelBytes(seed: UInt64) -> [UInt8] {
        ModelFile.randomlyInitialized(architecture: architecture, classes: ["A", "B"], window: 8, seed: seed).serialized()
    }

    static func date(_ seconds: Int) -> Date { Date(timeIntervalSince1970: 1_700_000_000 + Double(seconds)) }

    /// Loads a model file as the daemon would; throws when it is corrupt.
    static func load(_ url: URL) throws -> ModelFile { try ModelFile(contentsOf: url) }

    static func add(_ store: ModelStore, _ version: String, at seconds: Int, verdict: ModelStore.Verdict = .promoted) throws {
        try store.add(
            modelBytes: modelBytes(seed: UInt64(seconds)),
            metadata: .init(version: version, created: date(seconds), trigger: "manual", verdict: verdict, reason: "test"))
    }

    static func pointer(_ store: ModelStore) throws -> String {
        try String(contentsOf: store.directory.appendingPathComponent("current"), encoding: .utf8)
    }

    @Test func promotionsMoveTheAtomicPointer() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try ModelStore(directory: directory.url.appendingPathComponent("models"))
        #expect(try store.currentVersion() == nil)
        #expect(try store.resolve(load: Self.load) == nil)

        try Self.add(store, "v1", at: 1, verdict: .installed)
        try store.promote("v1")
        try Self.add(store, "v2", at: 2)
        try store.promote("v2")
        try Self.add(store, "v3", at: 3, verdict: .rejected)
        #expect(try store.currentVersion() == "v2")
        #expect(try Self.pointer(store) == "v2\nv1\n")
        let entries = try store.entries()
        #expect(entries.map(\.version) == ["v3", "v2", "v1"])
        #expect(entries.map(\.state) == [.rejected, .current, .previous])
        #expect(entries[0].metadata.reason == "test")
        #expect(entries[2].metadata.verdict == .installed)
        // Only the store's files: no temporary file left behind.
        let names = try FileManager.default.contentsOfDirectory(atPath: store.directory.path).sorted()
        #expect(names == ["current", "v1.json", "v1.safetensors", "v2.json", "v2.safetensors", "v3.json", "v3.safetensors"])

        let resolved = try #require(try store.resolve(load: Self.load))
        #expect(resolved.version == "v2")
        #expect(!resolved.fellBack)
        #expect(resolved.model.serialized() == Self.modelBytes(seed: 2))

        // A promotion survives a reopen.
        let reopened = try ModelStore(directory: store.directory)
        #expect(try reopened.currentVersion() == "v2")
    }

    @Test func fallsBackWhenCurrentIsCorrupt() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try ModelStore(directory: directory.url)
        for (version, seconds) in [("v1", 1), ("v2", 2), ("v3", 3)] {
            try Self.add(store, version, at: seconds)
            try store.promote(version)
        }
        try Self.add(store, "v4", at: 4, verdict: .rejected)  // newer, but never a fallback
        var bytes = Self.modelBytes(seed: 3)
        bytes.removeLast(bytes.count / 2)
        try Data(bytes).write(to: store.modelURL(version: "v3"))

        let resolved = try #require(try store.resolve(load: Self.load))
        #expect(resolved.version == "v2")
        #expect(resolved.fellBack)
        #expect(resolved.skipped.map(\.version) == ["v3"])
        // The pointer now names what serves; the broken version stays on disk, retired.
        #expect(try Self.pointer(store) == "v2\nv1\n")
        #expect(FileManager.default.fileExists(atPath: store.modelURL(version: "v3").path))
        #expect(try store.entries().first { $0.version == "v3" }?.state == .retired)
    }

    @Test func fallsBackWhenCurrentIsMissingOrThePointerCorrupt() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try ModelStore(directory: directory.url)
        for (version, seconds) in [("v1", 1), ("v2", 2)] {
            try Self.add(store, version, at: seconds)
            try store.promote(version)
        }
        try FileManager.default.removeItem(at: store.modelURL(version: "v2"))
        let resolved = try #require(try store.resolve(load: Self.load))
        #expect(resolved.version == "v1")
        #expect(resolved.skipped.first?.reason.contains("missing") == true)

        // A garbled pointer: the newest version not rejected that loads.
        try Self.add(store, "v5", at: 5)
        try Self.add(store, "v6", at: 6, verdict: .rejected)
        try Data([0xFF, 0xFE, 0x00]).write(to: store.directory.appendingPathComponent("current"))
        #expect(throws: RetrainingError.self) { try store.currentVersion() }
        let again = try #require(try store.resolve(load: Self.load))
        #expect(again.version == "v5")
        #expect(try store.currentVersion() == "v5")

        // Nothing usable: nil.
        for version in ["v1", "v5", "v6"] { try Data([1, 2, 3]).write(to: store.modelURL(version: version)) }
        #expect(try store.resolve(load: Self.load) == nil)
    }

    @Test func pruningKeepsCurrentAndPrevious() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try ModelStore(directory: directory.url, keep: 3)
        try Self.add(store, "v1", at: 1)
        try store.promote("v1")
        try Self.add(store, "v2", at: 2)
        try store.promote("v2")
        for seconds in 3...6 { try Self.add(store, "v\(seconds)", at: seconds, verdict: .rejected) }
        let entries = try store.entries()
        #expect(entries.map(\.version) == ["v6", "v2", "v1"])
        #expect(entries.map(\.state) == [.rejected, .current, .previous])
        #expect(!FileManager.default.fileExists(atPath: store.modelURL(version: "v3").path))
        #expect(!FileManager.default.fileExists(atPath: store.metadataURL(version: "v5").path))

        // Adding v7 prunes v6, the oldest unprotected version (v1 and v2 are protected); promoting
        // v7 then retires v1, which the next addition prunes.
        try Self.add(store, "v7", at: 7)
        #expect(try store.entries().map(\.version) == ["v7", "v2", "v1"])
        try store.promote("v7")
        #expect(try store.entries().map(\.state) == [.current, .previous, .retired])
        try Self.add(store, "v8", at: 8, verdict: .rejected)
        #expect(try store.entries().map(\.version) == ["v8", "v7", "v2"])
        #expect(try store.prune().isEmpty)
    }

    @Test func rollback() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try ModelStore(directory: directory.url)
        for (version, seconds) in [("v1", 1), ("v2", 2)] {
            try Self.add(store, version, at: seconds)
            try store.promote(version)
        }
        let entry = try store.rollback(to: "v1") { _ = try Self.load($0) }
        #expect(entry.state == .current)
        #expect(try Self.pointer(store) == "v1\nv2\n")
        #expect(try store.entries().first { $0.version == "v2" }?.state == .previous)

        #expect { try store.rollback(to: "v9") { _ in } } throws: { ($0 as? RetrainingError)?.code == .notFound }
        #expect { try store.rollback(to: "../etc") { _ in } } throws: { ($0 as? RetrainingError)?.code == .notFound }
        try Data([1, 2, 3]).write(to: store.modelURL(version: "v2"))
        #expect { try store.rollback(to: "v2") { _ = try Self.load($0) } } throws: { ($0 as? RetrainingError)?.code == .unusable }
        #expect(try store.currentVersion() == "v1")
    }

    @Test func versionsAndMetadata() throws {
        #expect(ModelStore.isValidVersion("20260102-130405-abcdef012345"))
        for bad in ["", ".hidden", "-x", "a/b", "current", "a b", String(repeating: "x", count: 129)] {
            #expect(!ModelStore.isValidVersion(bad), "\(bad)")
        }
        let version = ModelStore.makeVersion(created: Date(timeIntervalSince1970: 1_767_359_045), digest: "sha256:0123456789abcdef")
        #expect(version == "20260102-130405-0123456789ab")

        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try ModelStore(directory: directory.url)
        #expect { try store.add(modelBytes: [1], metadata: .init(version: "a/b", trigger: "t", verdict: .installed)) } throws: {
            ($0 as? RetrainingError)?.code == .invalid
        }
        let gate = PromotionGate().evaluate(
            labels: [0, 1], candidate: [0, 1], current: [0, 0], classNames: ["A", "B"])
        let metadata = ModelStore.Metadata(
            version: "v1", created: Self.date(0), trigger: "interval", verdict: .rejected, reason: gate.reason, gate: gate,
            job: .object(["train_windows": .number(12)]))
        try store.add(modelBytes: Self.modelBytes(seed: 1), metadata: metadata)
        #expect(try store.entries().first?.metadata == metadata)
        #expect { try store.add(modelBytes: [1], metadata: metadata) } throws: { ($0 as? RetrainingError)?.code == .invalid }
        let json = try String(contentsOf: store.metadataURL(version: "v1"), encoding: .utf8)
        #expect(json.contains("\"macro_f1\""))
        #expect(json.contains("\"train_windows\""))
        // A version whose metadata is unreadable is still listed.
        try Data("{".utf8).write(to: store.metadataURL(version: "v1"))
        #expect(try store.entries().first?.metadata.trigger == "unknown")
    }
}
