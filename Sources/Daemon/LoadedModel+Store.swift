import Foundation
import LSTMKit
import Logging
import Retraining

/// The model store at start and at configuration reloads: the configured model (`model =`,
/// `--model`, or the bundled default) wins whenever it changed since it was last installed;
/// while it is unchanged, the store's current version serves (a promoted retrained model, or a
/// rollback), falling back to the newest good version when that file is missing or corrupt.
extension LoadedModel {
    /// The file in the store that remembers the configured model's digest at its last install.
    static func configuredMarker(_ store: ModelStore) -> URL { store.directory.appendingPathComponent("configured.digest") }

    /// The store's current model when the configured model (its file's digest) is the one last
    /// installed, else nil.
    static func storeCurrent(configuredDigest: String, store: ModelStore, configuration: Configuration, logger: Logger) -> LoadedModel? {
        let marker = (try? String(contentsOf: configuredMarker(store), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        guard marker == configuredDigest else { return nil }
        do {
            guard let resolution = try store.resolve(load: { url -> LoadedModel in
                let model = try LoadedModel(path: url.path, maxBytes: configuration.maxModelBytes)
                _ = try model.classifier(configuration: configuration)
                return model
            }) else { return nil }
            for (version, reason) in resolution.skipped {
                logger.error("a stored model is unusable; serving an earlier version", metadata: ["version": "\(version)", "reason": "\(reason)"])
            }
            return resolution.model
        } catch {
            logger.error("cannot read the model store; serving the configured model", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Records `configured` as the store's first (or newest) entry and makes it current.
    static func install(_ configured: LoadedModel, in store: ModelStore, logger: Logger) {
        let file = configured.model.file
        do {
            if (try? store.entries())?.contains(where: { $0.version == file.version }) != true {
                let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: configured.path)))
                try store.add(
                    modelBytes: bytes,
                    metadata: .init(version: file.version, trigger: "configured", verdict: .installed, reason: "the configured model"))
            }
            try store.promote(file.version)
            try Data((file.digest + "\n").utf8).write(to: configuredMarker(store), options: .atomic)
        } catch {
            logger.warning("cannot record the configured model in the model store", metadata: ["error": "\(error)"])
        }
    }
}
