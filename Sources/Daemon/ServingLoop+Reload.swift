import LSTMKit
import Logging

/// Model swaps: `lstmctl reload [--model PATH]`, SIGHUP and `systemctl reload`.
extension ServingLoop {
    /// SIGHUP and `{"command":"reload","configuration":true}`: re-reads the configuration and
    /// reloads with it (without a configuration loader: the model serving now, from its file). A
    /// configuration that does not load is refused, logged and reported; nothing changes.
    func reloadFromConfiguration() -> JSONValue {
        guard let loader = state.configurationLoader else { return reload(path: nil) }
        let fresh: Configuration
        do {
            fresh = try loader()
        } catch {
            state.reloadHook?(.began)
            logger.error("configuration refused; the current configuration and model keep serving", metadata: ["error": "\(error)"])
            state.reloadHook?(.failed("\(error)"))
            return ControlHandler.failure("configuration refused: \(error)")
        }
        return reload(path: nil, configuration: fresh)
    }

    func reloadConfiguration() -> JSONValue { reloadFromConfiguration() }

    func reload(model path: String?) -> JSONValue { reload(path: path) }

    /// Loads and validates a model, then swaps it in between frames: every stream keeps its
    /// record (sequence tracking, counters) in the stream table and starts the new model from a
    /// zero state; labels carry the new version. A bad model is refused and the current one keeps
    /// serving.
    ///
    /// Which file loads follows `ModelChoice`: `path` (a control-socket choice) is recorded in the
    /// state directory; a new configuration loads the recorded choice while its configured model
    /// is unchanged, else the configured model; neither reloads the file serving now.
    private func reload(path: String?, configuration replacement: Configuration? = nil) -> JSONValue {
        let settings = replacement ?? configuration
        var target = path ?? served.path
        var keepsChoice = false
        if let replacement {
            let resolved = ModelChoice.resolve(replacement, logger: logger)
            target = resolved.path ?? LoadedModel.defaultPath ?? ""
            keepsChoice = resolved.chosen
            if keepsChoice {
                logger.notice(
                    "keeping the model loaded with `lstmctl reload --model`; change `model` in the configuration to replace it",
                    metadata: ["model": "\(target)", "configured": "\(replacement.modelPath ?? "bundled default")"])
            } else if servesChosenModel {
                logger.notice(
                    "the configured model replaces the one loaded with `lstmctl reload --model`",
                    metadata: ["replaced": "\(served.path)", "model": "\(target)"])
            }
        }
        state.reloadHook?(.began)
        do {
            if let replacement {
                try replacement.validate()
                for (role, old, new) in [
                    ("ingest", configuration.ingestEndpoints, replacement.ingestEndpoints),
                    ("publish", configuration.publishEndpoints, replacement.publishEndpoints),
                    ("control", configuration.controlEndpoints, replacement.controlEndpoints),
                ] where old != new {
                    logger.warning("\(role) endpoints changed; they take effect at the next restart", metadata: ["now": "\(old)", "configured": "\(new)"])
                }
            }
            var loaded: LoadedModel
            var next: StreamClassifier
            do {
                loaded = try LoadedModel(path: target)
                next = try loaded.classifier(configuration: settings)
            } catch where keepsChoice {
                // The recorded choice no longer loads: the configuration's model, and the record
                // goes (else every reload would be refused until `model` is edited).
                logger.error(
                    "the model chosen with `lstmctl reload --model` is refused; loading the configured model and forgetting that choice",
                    metadata: ["model": "\(target)", "error": "\(error)"])
                ModelChoice.remove(stateDirectory: settings.stateDirectory)
                keepsChoice = false
                loaded = try LoadedModel(path: settings.modelPath)
                next = try loaded.classifier(configuration: settings)
            }
            recordChoice(path: path, loaded: loaded, settings: settings, reconfigured: replacement != nil, keepsChoice: keepsChoice)
            if var replacement {
                // Sockets stay as bound; everything else takes the new values.
                replacement.ingestEndpoints = configuration.ingestEndpoints
                replacement.publishEndpoints = configuration.publishEndpoints
                replacement.controlEndpoints = configuration.controlEndpoints
                replacement.housekeepingInterval = configuration.housekeepingInterval
                configuration = replacement
                table.maxStreams = replacement.maxStreams
                table.idleTimeout = Self.nanoseconds(replacement.idleTimeout)
            }
            // The stream table keeps every record; the new classifier starts each stream from zero.
            flushBatch()
            classifier = next
            served = loaded
            encoder = LabelEncoder(classes: loaded.model.classes, modelVersion: loaded.model.file.version, mode: next.mode)
            counts.reloads += 1
            let version = loaded.model.file.version
            logger.notice("model reloaded", metadata: ["model": "\(loaded.path)", "version": "\(version)"])
            state.reloadHook?(.succeeded(version))
            state.publish(snapshot())
            return .object(["ok": .bool(true), "model_version": .string(version), "model": .string(loaded.path)])
        } catch {
            logger.error("reload refused; the current model keeps serving", metadata: ["model": "\(target)", "error": "\(error)"])
            state.reloadHook?(.failed("\(error)"))
            return ControlHandler.failure("reload refused: \(error)")
        }
    }

    /// Keeps the state directory's `ModelChoice` record in step with a successful reload.
    private func recordChoice(path: String?, loaded: LoadedModel, settings: Configuration, reconfigured: Bool, keepsChoice: Bool) {
        if let path {
            let configured = settings.modelPath ?? LoadedModel.defaultPath
            if ModelChoice.sameFile(loaded.path, configured) {
                ModelChoice.remove(stateDirectory: settings.stateDirectory)
            } else {
                do {
                    try ModelChoice(model: loaded.path, configured: settings.modelPath).save(stateDirectory: settings.stateDirectory)
                } catch {
                    // Serving the file is what was asked; only its survival across restarts is lost.
                    logger.warning("could not record the model choice; a restart serves the configured model", metadata: ["model": "\(path)", "error": "\(error)"])
                }
            }
        } else if reconfigured, !keepsChoice {
            ModelChoice.remove(stateDirectory: settings.stateDirectory)
        }
    }

    /// Whether the file serving now is not the configured model (an operator's control-socket
    /// choice).
    private var servesChosenModel: Bool {
        !ModelChoice.sameFile(served.path, configuration.modelPath ?? LoadedModel.defaultPath)
    }
}
