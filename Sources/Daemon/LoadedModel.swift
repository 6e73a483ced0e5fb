import Foundation
import LSTMKit
import Logging
import Retraining

/// A model loaded from a path (or the bundled default), validated and built.
struct LoadedModel: Sendable {
    let path: String
    let model: LSTMModel

    /// The bundled default model's path, when the bundle is found.
    static var defaultPath: String? { DefaultModel.url?.path }

    /// Loads a path the operator configured (or the store's): symlinks followed, at most
    /// `maxBytes` read.
    init(path: String?, maxBytes: Int) throws {
        guard let resolved = path ?? Self.defaultPath else {
            throw DaemonError("no model path given and the bundled default model was not found", key: "model")
        }
        let bytes = try ModelFileReader(directories: [], maxBytes: maxBytes).read(path: resolved)
        try self.init(path: resolved, display: resolved, bytes: bytes)
    }

    /// Loads a path named over the control socket: confined to the reader's directories.
    init(confined requested: String, reader: ModelFileReader) throws {
        let (path, bytes) = try reader.readConfined(requested)
        try self.init(path: path, display: "'\(requested)'", bytes: bytes)
    }

    private init(path: String, display: String, bytes: [UInt8]) throws {
        self.path = path
        do {
            model = try LSTMModel(ModelFile(bytes: bytes))
        } catch let error as ModelError {
            throw DaemonError("model \(display): \(error.message)", key: "model")
        }
    }

    /// Whether the weights were checked against the checksum stored with them.
    var integrity: ModelFile.Integrity { model.file.integrity }

    /// Logs a warning when the file carries no checksum (its weights cannot be verified).
    func warnIfUnverified(_ logger: Logger) {
        guard integrity == .unverified else { return }
        logger.warning(
            "model file has no tensor checksum (\(ModelFile.tensorChecksumKey)): its weights cannot be verified; rewrite it with a current lstmctl train or exporter",
            metadata: ["model": "\(path)"])
    }

    func classifier(configuration: Configuration) throws -> StreamClassifier {
        do {
            return try StreamClassifier(
                model: model, mode: configuration.mode ?? model.file.mode,
                hop: configuration.hop ?? model.file.hop)
        } catch let error as ModelError {
            // The streaming settings that do not fit the model are the ones to change.
            let key =
                error.message.contains("continuous") ? "mode" : error.message.contains("hop") ? "hop" : "model"
            throw DaemonError("model \(path): \(error.message)", key: key)
        }
    }

    /// The model to serve at start (`ModelChoice`): an operator's recorded control-socket choice
    /// while the configured model is unchanged, else the configured model. A recorded choice that
    /// no longer loads is logged and the configured model serves.
    static func initial(configuration: Configuration, store: ModelStore?, logger: Logger) throws -> LoadedModel {
        let resolved = ModelChoice.resolve(configuration, logger: logger)
        if resolved.chosen, let path = resolved.path {
            do {
                let model = try LoadedModel(path: path, maxBytes: configuration.maxModelBytes)
                _ = try model.classifier(configuration: configuration)
                model.warnIfUnverified(logger)
                logger.notice(
                    "serving the model loaded earlier with `lstmctl reload --model` (recorded in the state directory)",
                    metadata: ["model": "\(path)", "configured": "\(configuration.modelPath ?? "bundled default")"])
                return model
            } catch {
                // Dropped, or every later reload would try it again and be refused.
                logger.error(
                    "the model loaded earlier with `lstmctl reload --model` is refused; serving the configured model and forgetting that choice",
                    metadata: ["model": "\(path)", "error": "\(error)"])
                ModelChoice.remove(stateDirectory: configuration.stateDirectory)
            }
        }
        let model = try LoadedModel(path: configuration.modelPath, maxBytes: configuration.maxModelBytes)
        _ = try model.classifier(configuration: configuration)
        model.warnIfUnverified(logger)
        guard let store else { return model }
        if let current = storeCurrent(configuredDigest: model.model.file.digest, store: store, configuration: configuration, logger: logger) {
            if current.path != model.path {
                current.warnIfUnverified(logger)
                logger.notice(
                    "serving the model store's current version (the configured model is unchanged)",
                    metadata: ["version": "\(current.model.file.version)", "model": "\(current.path)"])
            }
            return current
        }
        install(model, in: store, logger: logger)
        return model
    }
}
