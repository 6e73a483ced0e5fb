import Foundation
import LSTMKit
import Logging
import Retraining

/// Model swaps: `lstmctl reload [--model PATH]`, `lstmctl rollback`, SIGHUP, `systemctl reload`
/// and promoted models.
///
/// A swap has two halves. The load (read, checksum, parse, validate, build, check against the
/// running model) runs on the loader thread (`ReloadPlan.prepare()`) while this loop keeps
/// classifying frames; when it is done the loader wakes the loop (`Waker.Command.loaded`) and
/// the new model is swapped in between two batches of frames (`finishReload()`). One load runs
/// at a time: a control request for another while one runs is refused ("a reload is in
/// progress"); SIGHUP and promotions arriving meanwhile are taken up once it has finished.
///
/// The control reply of a `reload` or `rollback` is sent when the swap has happened (or was
/// refused), so `lstmctl reload` — and `systemctl reload` through it — returns only then. The
/// control socket is REP, strictly one request then its reply: further control requests wait
/// in it until that reply is sent (frames do not).
extension ServingLoop {
    /// A load running on the loader thread and who waits for its outcome.
    struct PendingReload {
        /// A control request waits for the reply.
        var repliesToControl: Bool
        /// Announced in the model event: `reload`, `rollback`, `retrain`.
        var reason: String
        /// The retraining job's result, for a promotion.
        var job: JSONValue?
        /// Names the request in a refusal: "reload refused: …", "rollback refused: …".
        var request: String
    }

    /// SIGHUP and `{"command":"reload","configuration":true}`: re-reads the configuration and
    /// reloads with it (without a configuration loader: the model serving now, from its file). A
    /// configuration that does not load is refused, logged and reported; nothing changes.
    func reloadFromConfiguration() -> JSONValue {
        guard pendingReload == nil else { return Self.busy }
        if let refusal = reloadAllowlists() { return refusal }
        guard let loader = state.configurationLoader else { return begin(.current) }
        let fresh: Configuration
        do {
            fresh = try loader()
        } catch {
            state.reloadHook?(.began)
            logger.error("configuration refused; the current configuration and model keep serving", metadata: ["error": "\(error)"])
            state.reloadHook?(.failed("\(error)"))
            return ControlHandler.failure("configuration refused: \(error)")
        }
        return begin(.configuration(fresh))
    }

    func reloadConfiguration() -> JSONValue { reloadFromConfiguration() }

    /// A control-socket `reload`: `path` (confined to `model_directory`) or the file serving
    /// now; refused when its channels or classes differ from the running model's, unless
    /// `force`.
    func reload(model path: String?, force: Bool) -> JSONValue {
        begin(path.map { .chosen($0) } ?? .current, checksShape: true, force: force)
    }

    /// A promoted model from the store: swapped in like a reload, announced with `reason`.
    func swap(to path: String, reason: String, job: JSONValue?) -> JSONValue {
        begin(.promoted(path), reason: reason, job: job)
    }

    static var busy: JSONValue { ControlHandler.failure("a reload is in progress; try again once it has finished") }

    /// Starts a load on the loader thread. The reply is sent when it has finished (the return
    /// value is then a placeholder), or at once when refused.
    func begin(
        _ source: ReloadPlan.Source, reason: String = "reload", job: JSONValue? = nil, request: String = "reload",
        checksShape: Bool = false, force: Bool = false
    ) -> JSONValue {
        guard pendingReload == nil else { return Self.busy }
        let plan = ReloadPlan(
            source: source, configuration: configuration, servedPath: served.path, servesChosenModel: servesChosenModel,
            store: retrainer?.store,
            expected: checksShape ? .init(channels: served.model.channels, classes: served.model.classes) : nil,
            force: force, logger: logger)
        state.reloadHook?(.began)
        logger.info("loading a model beside serving", metadata: ["request": "\(request)", "reason": "\(reason)"])
        pendingReload = PendingReload(repliesToControl: answeringControl, reason: reason, job: job, request: request)
        if answeringControl { controlReplyDeferred = true }
        loader.start { Result { try plan.prepare() } }
        return .object(["ok": .bool(true), "pending": .bool(true)])
    }

    /// How a new model takes over a stream at its next frame.
    enum Replay {
        /// Replay the stream's whole history (at most `W` timesteps); `total` is its timesteps
        /// since reset under the old model.
        case full(total: Int)
        /// The state was primed before the swap: advance it by the stream's last `n` timesteps,
        /// which arrived while it was primed.
        case catchUp(Int)
    }

    /// The longest the new model's stream states are rebuilt before the swap (a `reload`'s reply
    /// waits for it); streams left over are replayed at their next frame.
    static let primingBudget = Duration.seconds(1)

    /// A swap waiting for its streams' states to be rebuilt in the new model (`SwapPrimer`).
    struct Priming {
        var prepared: PreparedReload
        var pending: PendingReload
        /// Slot → its epoch and timesteps since reset when snapshotted.
        var snapshots: [Int: (epoch: UInt64, total: Int)]
    }

    /// The loader finished: primes the new model's stream states beside serving (replay), or
    /// swaps it in at once (or reports the refusal).
    func finishReload() {
        guard let pending = pendingReload, priming == nil, let outcome = loader.take() else { return }
        switch outcome {
        case .success(let prepared):
            let next: StreamClassifier
            do {
                next = try prepared.loaded.classifier(configuration: prepared.replacement ?? configuration)
            } catch {
                complete(pending, reply: refuse(pending, error))
                return
            }
            if startPriming(next, prepared: prepared, pending: pending) { return }
            complete(pending, reply: swapIn(prepared, next: next, primed: [:], pending: pending))
        case .failure(let error):
            complete(pending, reply: refuse(pending, error))
        }
    }

    /// The primer finished: the primed model is swapped in.
    func finishPriming() {
        guard let priming, let (next, primed) = primer.take() else { return }
        self.priming = nil
        let marks = priming.snapshots.filter { primed.contains($0.key) }
        if marks.count < priming.snapshots.count {
            logger.info(
                "streams not primed within the budget are replayed at their next frame",
                metadata: ["primed": "\(marks.count)", "streams": "\(priming.snapshots.count)"])
        }
        complete(priming.pending, reply: swapIn(priming.prepared, next: next, primed: marks, pending: priming.pending))
    }

    /// Snapshots every stream's history and starts replaying it into `next` on the primer's
    /// thread. - Returns: false when there is nothing to prime (reset continuity, a new shape,
    /// no streams).
    private func startPriming(_ next: StreamClassifier, prepared: PreparedReload, pending: PendingReload) -> Bool {
        let model = prepared.loaded.model
        guard (prepared.replacement ?? configuration).swapContinuity == .replay,
            model.file.window == tap.window, model.channels == tap.channels
        else { return false }
        flushBatch()
        var snapshots: [SwapPrimer.Snapshot] = []
        var marks: [Int: (epoch: UInt64, total: Int)] = [:]
        // The most recently active streams first: within the budget they are the ones whose
        // next frame is soonest.
        let slots = table.occupiedSlots.sorted { table[$0].lastSeen > table[$1].lastSeen }
        for slot in slots {
            let history = tap.history(slot: slot)
            guard history.count > 0 else { continue }
            let total = classifier.timesteps(slot: slot)
            snapshots.append(.init(slot: slot, values: history.values, count: history.count, total: total))
            marks[slot] = (epoch(slot: slot), total)
        }
        guard !snapshots.isEmpty else { return false }
        logger.info("rebuilding the streams' states in the new model beside serving", metadata: ["streams": "\(snapshots.count)"])
        priming = Priming(prepared: prepared, pending: pending, snapshots: marks)
        primer.start(next, snapshots: snapshots, budget: Self.primingBudget)
        return true
    }

    /// Answers the request that started the load and takes up a configuration reload or
    /// promotion that arrived meanwhile.
    private func complete(_ pending: PendingReload, reply: JSONValue) {
        pendingReload = nil
        if pending.repliesToControl { _ = try? sockets.control?.send(Array(reply.jsonText.utf8)) }
        if deferredConfigurationReload {
            deferredConfigurationReload = false
            _ = reloadFromConfiguration()
        } else if deferredSwaps {
            deferredSwaps = false
            takeSwaps()
        }
    }

    /// Swaps in the newest promoted model waiting in the retrainer (or defers it while a load
    /// runs).
    func takeSwaps() {
        guard pendingReload == nil else {
            deferredSwaps = true
            return
        }
        let requests = retrainer?.takeSwaps() ?? []
        guard let newest = requests.last else { return }
        for skipped in requests.dropLast() {
            logger.notice("a newer promoted model supersedes this one before it served", metadata: ["model": "\(skipped.path)"])
        }
        _ = swap(to: newest.path, reason: newest.reason, job: newest.job)
    }

    private func refuse(_ pending: PendingReload, _ error: any Error) -> JSONValue {
        logger.error("\(pending.request) refused; the current model keeps serving", metadata: ["error": "\(error)"])
        state.reloadHook?(.failed("\(error)"))
        return ControlHandler.failure("\(pending.request) refused: \(error)")
    }

    /// Swaps a loaded model in between frames: every stream keeps its record (sequence tracking,
    /// counters) in the stream table; its state was primed from a snapshot of its history
    /// (`primed`, caught up at its next frame), or is rebuilt from its history at its next frame
    /// (`swap_continuity = replay`), or starts from zero (`reset`); labels carry the new version.
    private func swapIn(
        _ prepared: PreparedReload, next: StreamClassifier, primed: [Int: (epoch: UInt64, total: Int)], pending: PendingReload
    ) -> JSONValue {
        let loaded = prepared.loaded
        if var replacement = prepared.replacement {
            // Sockets stay as bound; everything else takes the new values.
            replacement.ingestEndpoints = configuration.ingestEndpoints
            replacement.publishEndpoints = configuration.publishEndpoints
            replacement.controlEndpoints = configuration.controlEndpoints
            replacement.housekeepingInterval = configuration.housekeepingInterval
            configuration = replacement
            table.maxStreams = replacement.maxStreams
            table.maxStreamsPerKey = replacement.maxStreamsPerKey
            table.idleTimeout = Self.nanoseconds(replacement.idleTimeout)
            table.reorderWindow = UInt64(replacement.reorderWindow)
        }
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
            for slot in table.occupiedSlots {
                let total = previous.timesteps(slot: slot)
                if let mark = primed[slot], mark.epoch == epoch(slot: slot) {
                    let behind = total - mark.total
                    if behind == 0 { continue }
                    if behind > 0, behind <= tap.window {
                        pendingReplay[slot] = .catchUp(behind)
                        continue
                    }
                }
                next.remove(slot: slot)
                pendingReplay[slot] = .full(total: total)
            }
        }
        for slot in primed.keys where !table.isOccupied(slot) { next.remove(slot: slot) }
        counts.reloads += 1
        let version = loaded.model.file.version
        publishModelEvent(old: oldVersion, new: version, reason: pending.reason, job: pending.job)
        logger.notice(
            "model reloaded",
            metadata: ["model": "\(loaded.path)", "version": "\(version)", "integrity": "\(loaded.integrity.rawValue)"])
        state.reloadHook?(.succeeded(version))
        state.publish(snapshot())
        return .object([
            "ok": .bool(true), "model_version": .string(version), "model": .string(loaded.path),
            "integrity": .string(loaded.integrity.rawValue),
        ])
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

    /// Whether the file serving now is not the configured model (an operator's control-socket
    /// choice).
    private var servesChosenModel: Bool {
        if let store = retrainer?.store, served.path.hasPrefix(store.directory.path) { return false }
        return !ModelChoice.sameFile(served.path, configuration.modelPath ?? LoadedModel.defaultPath)
    }
}
