import Foundation
import LSTMKit
import Logging
import Retraining

/// One model load: made on the serving thread from what it serves now, run on the loader
/// thread (`prepare()`: read, verify, parse, validate, build, check against the running model,
/// record the choice), so that no frame waits for it. The serving loop swaps the result in
/// between frames (`ServingLoop.finishReload()`).
struct ReloadPlan: Sendable {
    /// Where the model comes from.
    enum Source: Sendable {
        /// `reload` with a `model` path: confined to `model_directory` (the configured model's
        /// own path excepted); recorded as the operator's choice.
        case chosen(String)
        /// `reload` without a path: the file serving now, read again.
        case current
        /// SIGHUP, `reload` with `configuration: true`: the model the new configuration names.
        case configuration(Configuration)
        /// `rollback`: a stored version, made the store's current one once it loads.
        case rollback(String)
        /// A model the retrainer promoted, from the store.
        case promoted(String)
    }

    /// What a new model must keep from the running one, unless forced: producers send frames of
    /// `channels` values per timestep, consumers read labels by class name.
    struct Shape: Sendable, Equatable {
        var channels: Int
        var classes: [String]
    }

    var source: Source
    /// The configuration serving now.
    var configuration: Configuration
    /// The file serving now.
    var servedPath: String
    /// Whether the file serving now is an operator's control-socket choice.
    var servesChosenModel: Bool
    var store: ModelStore?
    /// The running model's shape, when the new one must keep it.
    var expected: Shape?
    /// Load a model of another shape anyway (logged).
    var force: Bool
    var logger: Logger

    /// Loads, checks and records; runs on the loader thread.
    /// - Throws: `DaemonError`, `RetrainingError` or `ConfigurationError` naming the refusal.
    func prepare() throws -> PreparedReload {
        switch source {
        case .chosen(let requested):
            let configured = configuration.modelPath ?? LoadedModel.defaultPath
            let loaded: LoadedModel
            if requested.hasPrefix("/"), ModelChoice.sameFile(requested, configured) {
                // The configured file, by any spelling: the operator's own file, not confined. It
                // is opened by the configured path, not the requested one, which a symlink swapped
                // since the comparison could point elsewhere.
                loaded = try LoadedModel(path: configured, maxBytes: configuration.maxModelBytes)
            } else {
                loaded = try LoadedModel(confined: requested, reader: ModelFileReader(configuration: configuration))
            }
            try check(loaded, settings: configuration)
            recordChoice(loaded)
            return PreparedReload(loaded: loaded, replacement: nil)
        case .current, .promoted:
            var path = servedPath
            if case .promoted(let promoted) = source { path = promoted }
            let loaded = try LoadedModel(path: path, maxBytes: configuration.maxModelBytes)
            try check(loaded, settings: configuration)
            return PreparedReload(loaded: loaded, replacement: nil)
        case .rollback(let version):
            guard let store else { throw DaemonError("retraining is off: lstmd has no state directory (set state_directory)") }
            var loaded: LoadedModel?
            try store.rollback(to: version) { url in
                let model = try LoadedModel(path: url.path, maxBytes: configuration.maxModelBytes)
                try check(model, settings: configuration)
                loaded = model
            }
            guard let loaded else { throw DaemonError("model version \(version) did not load") }
            return PreparedReload(loaded: loaded, replacement: nil)
        case .configuration(let replacement):
            return try prepare(configuration: replacement)
        }
    }

    /// The new model builds a classifier under `settings` and, unless forced, keeps the running
    /// model's channels and classes.
    private func check(_ loaded: LoadedModel, settings: Configuration) throws {
        _ = try loaded.classifier(configuration: settings)
        if let expected {
            let found = Shape(channels: loaded.model.channels, classes: loaded.model.classes)
            var differences: [String] = []
            if found.channels != expected.channels {
                differences.append("\(found.channels) input channels where the running model has \(expected.channels)")
            }
            if found.classes != expected.classes {
                differences.append(
                    "classes [\(found.classes.joined(separator: ", "))] where the running model has [\(expected.classes.joined(separator: ", "))]")
            }
            if !differences.isEmpty {
                guard force else {
                    throw DaemonError(
                        "model \(loaded.path) has \(differences.joined(separator: " and ")): producers' frames or label consumers "
                            + "would break; send \"force\": true (lstmctl reload --force) to load it anyway")
                }
                logger.warning(
                    "loading a model whose input channels or classes differ from the running one (forced)",
                    metadata: [
                        "model": "\(loaded.path)", "running": "\(servedPath)",
                        "channels": "\(expected.channels) -> \(found.channels)",
                        "classes": "\(expected.classes) -> \(found.classes)",
                    ])
            }
        }
        loaded.warnIfUnverified(logger)
    }

    /// Keeps the state directory's `ModelChoice` record in step with a control-socket choice.
    private func recordChoice(_ loaded: LoadedModel) {
        let configured = configuration.modelPath ?? LoadedModel.defaultPath
        if ModelChoice.sameFile(loaded.path, configured) {
            ModelChoice.remove(stateDirectory: configuration.stateDirectory)
            return
        }
        do {
            try ModelChoice(model: loaded.path, configured: configuration.modelPath).save(stateDirectory: configuration.stateDirectory)
        } catch {
            // Serving the file is what was asked; only its survival across restarts is lost.
            logger.warning(
                "could not record the model choice; a restart serves the configured model",
                metadata: ["model": "\(loaded.path)", "error": "\(error)"])
        }
    }

    /// A configuration reload: which file loads follows `ModelChoice` — the recorded choice
    /// while its configured model is unchanged, else the configured model (or the store's
    /// current version while the configured file is the one last installed).
    private func prepare(configuration replacement: Configuration) throws -> PreparedReload {
        let resolved = ModelChoice.resolve(replacement, logger: logger)
        var target = resolved.path ?? LoadedModel.defaultPath ?? ""
        var keepsChoice = resolved.chosen
        var preloaded: LoadedModel?
        // An unchanged configured model keeps the store's current version (a promotion); the
        // file's digest says whether it changed.
        if !keepsChoice, let store, let configured = replacement.modelPath ?? LoadedModel.defaultPath,
            let size = (try? FileManager.default.attributesOfItem(atPath: configured))?[.size] as? Int,
            size <= replacement.maxModelBytes,  // a larger one is refused below, unread
            let digest = try? ModelFile.digest(of: URL(fileURLWithPath: configured)),
            let current = LoadedModel.storeCurrent(configuredDigest: digest, store: store, configuration: replacement, logger: logger)
        {
            target = current.path
            preloaded = current
        }
        if keepsChoice {
            logger.notice(
                "keeping the model loaded with `lstmctl reload --model`; change `model` in the configuration to replace it",
                metadata: ["model": "\(target)", "configured": "\(replacement.modelPath ?? "bundled default")"])
        } else if servesChosenModel {
            logger.notice(
                "the configured model replaces the one loaded with `lstmctl reload --model`",
                metadata: ["replaced": "\(servedPath)", "model": "\(target)"])
        }
        try replacement.validate()
        for (role, old, new) in [
            ("ingest", configuration.ingestEndpoints, replacement.ingestEndpoints),
            ("publish", configuration.publishEndpoints, replacement.publishEndpoints),
            ("control", configuration.controlEndpoints, replacement.controlEndpoints),
        ] where old != new {
            logger.warning("\(role) endpoints changed; they take effect at the next restart", metadata: ["now": "\(old)", "configured": "\(new)"])
        }
        var loaded: LoadedModel
        do {
            loaded = try preloaded ?? LoadedModel(path: target, maxBytes: replacement.maxModelBytes)
            _ = try loaded.classifier(configuration: replacement)
        } catch where keepsChoice {
            // The recorded choice no longer loads: the configuration's model, and the record
            // goes (else every reload would be refused until `model` is edited).
            logger.error(
                "the model chosen with `lstmctl reload --model` is refused; loading the configured model and forgetting that choice",
                metadata: ["model": "\(target)", "error": "\(error)"])
            ModelChoice.remove(stateDirectory: replacement.stateDirectory)
            keepsChoice = false
            loaded = try LoadedModel(path: replacement.modelPath, maxBytes: replacement.maxModelBytes)
            _ = try loaded.classifier(configuration: replacement)
        }
        loaded.warnIfUnverified(logger)
        if !keepsChoice {
            ModelChoice.remove(stateDirectory: replacement.stateDirectory)
            if let store, !loaded.path.hasPrefix(store.directory.path) {
                LoadedModel.install(loaded, in: store, logger: logger)
            }
        }
        return PreparedReload(loaded: loaded, replacement: replacement)
    }
}

/// A model loaded and checked off the serving thread, ready to swap in.
struct PreparedReload: Sendable {
    var loaded: LoadedModel
    /// The configuration that comes with it (a configuration reload), else nil.
    var replacement: Configuration?
}
