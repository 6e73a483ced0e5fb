import Foundation
import LSTMKit
import Logging
import Retraining

/// Model swaps: `lstmctl reload [--model PATH]`, SIGHUP and `systemctl reload`.
extension ServingLoop {
    /// SIGHUP and `{"command":"reload","configuration":true}`: re-reads the configuration and
    /// reloads with it (without a configuration loader: the model serving now, from its file). A
    /// configuration that does not load is refused, logged and reported; nothing changes.
    func reloadFromConfiguration() -> JSONValue {
        if let refusal = reloadAllowlists() { return refusal }
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
    /// A promoted or rolled-back model from the store: swapped in like a reload, announced with
    /// `reason`.
    func swap(to path: String, reason: String, job: JSONValue?) -> JSONValue {
        reload(path: path, reason: reason, job: job, recordsChoice: false)
    }

    private func reload(
        path: String?, configuration replacement: Configuration? = nil, reason: String = "reload", job: JSONValue? = nil,
        recordsChoice: Bool = true
    ) -> JSONValue {
        let settings = replacement ?? configuration
        var target = path ?? served.path
        var keepsChoice = false
        if let replacement {
            let resolved = ModelChoice.resolve(replacement, logger: logger)
            target = resolved.path ?? LoadedModel.defaultPath ?? ""
            keepsChoice = resolved.chosen
            // An unchanged configured model keeps the store's current version (a promotion); the
            // file's digest says whether it changed, without loading it.
            if !keepsChoice, let store = retrainer?.store, let configured = replacement.modelPath ?? LoadedModel.defaultPath,
                let digest = try? ModelFile.digest(of: URL(fileURLWithPath: configured)),
                let current = LoadedModel.storeCurrent(configuredDigest: digest, store: store, configuration: replacement, logger: logger)
            {
                target = current.path
            }
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
            if recordsChoice {
                recordChoice(path: path, loaded: loaded, settings: settings, reconfigured: replacement != nil, keepsChoice: keepsChoice)
            }
            if replacement != nil, !keepsChoice, let store = retrainer?.store, !loaded.path.hasPrefix(store.directory.path) {
                LoadedModel.install(loaded, in: store, logger: logger)
            }
            if var replacement {
                // Sockets stay as bound; everything else takes the new values.
                replacement.ingestEndpoints = configuration.ingestEndpoints
                replacement.publishEndpoints = configuration.publishEndpoints
                replacement.controlEndpoints = configuration.controlEndpoints
                replacement.housekeepingInterval = configuration.housekeepingInterval
                configuration = replacement
                table.maxStreams = replacement.maxStreams
                table.maxStreamsPerKey = replacement.maxStreamsPerKey
                table.idleTimeout = Self.nanoseconds(replacement.idleTimeout)
            }
            // The stream table keeps every record; each stream's state is rebuilt from its history
            // at its next frame (`swap_continuity = replay`), or starts from zero (`reset`).
            flushBatch()
            let previous = classifier
            let oldVersion = served.model.file.version
            classifier = next
            served = loaded
            encoder = LabelEncoder(classes: loaded.model.classes, modelVersion: loaded.model.file.version, mode: next.mode)
            let sameShape = loaded.model.file.window == tap.window && loaded.model.channels == tap.channels
            tap.modelChanged(loaded.model, stride: configuration.labelStride)
            retrainer?.serving(loaded.path)
            pendingReplay.removeAll()
            if configuration.swapContinuity == .replay, sameShape {
                for slot in table.occupiedSlots { pendingReplay[slot] = previous.timesteps(slot: slot) }
            }
            counts.reloads += 1
            let version = loaded.model.file.version
            publishModelEvent(old: oldVersion, new: version, reason: reason, job: job)
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

    /// Announces a swap on the label socket under the empty topic, which no stream id can be
    /// (ids are 1–255 bytes): `{"event":"model","reason":…,"old_version":…,"new_version":…,
    /// "job":{…}|null,"emitted_ns":…}`. Subscribers to one stream's prefix never see it.
    private func publishModelEvent(old: String, new: String, reason: String, job: JSONValue?) {
        let event = JSONValue.object([
            "event": .string("model"), "reason": .string(reason), "old_version": .string(old), "new_version": .string(new),
            "job": job ?? .null, "emitted_ns": .number(Double(clock.realtimeNanoseconds())),
        ])
        do {
            try sockets.publisher.send([UInt8](), more: true, dontWait: true)
            try sockets.publisher.send(event.jsonText.utf8, dontWait: true)
        } catch {
            logger.error("cannot publish the model event", metadata: ["error": "\(error)"])
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
        if let store = retrainer?.store, served.path.hasPrefix(store.directory.path) { return false }
        return !ModelChoice.sameFile(served.path, configuration.modelPath ?? LoadedModel.defaultPath)
    }
}
