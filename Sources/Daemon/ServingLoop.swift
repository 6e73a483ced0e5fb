import CMalloc
import Foundation
import LSTMKit
import Logging
import Retraining
import Systemd
import ZeroMQ

/// The serving loop: wires the stages of one frame — `FrameReceiver` (bytes → frame or drop
/// reason), `StreamTable` (whose frame, in order?), `StreamClassifier` (model state → class
/// probabilities), `LabelEncoder` and `LabelPublisher` — and answers control requests
/// (`ControlHandler`) between batches of frames.
///
/// Runs on one thread the daemon owns (never the Swift concurrency pool). Not `Sendable`:
/// everything here belongs to that thread; other threads reach it through the wake pipe
/// (`Waker`) and the control socket, and read `DaemonState`.
final class ServingLoop {
    var configuration: Configuration
    let logger: Logger
    let state: DaemonState
    let clock: any ServingClock
    let sockets: ServingSockets
    private let receiver: FrameReceiver
    private let publisher: LabelPublisher
    private let poller = ZMQPoller()
    /// Ingest and wake pipe only: polled while a control reply waits for a model load (a REP
    /// socket takes no request before its reply, and a readable one would make `poll` spin).
    private let pollerWithoutControl = ZMQPoller()
    private var controlIndex = -1
    private var wakeIndex = -1
    private var monitorIndices: Range<Int> = 0..<0
    /// Peers' connections against the descriptor limit.
    var connections: ConnectionGuard
    let descriptorLimit: Int
    private var connectionLog = RateLimiter<Int>(limit: 5, per: .seconds(10))
    /// Runs model loads off this thread.
    let loader: LoopTask<Result<PreparedReload, any Error>>
    /// The load running on the loader thread, if any.
    var pendingReload: PendingReload?
    /// SIGHUP or a promotion arrived while a load ran: taken up when it has finished.
    var deferredConfigurationReload = false
    var deferredSwaps = false
    /// Set while a control request is answered; a load it starts replies later.
    var answeringControl = false
    var controlReplyDeferred = false
    var table: StreamTable
    var classifier: StreamClassifier
    var encoder: LabelEncoder
    /// The model serving and the file it came from.
    var served: LoadedModel
    /// Each stream's recent timesteps and labelled windows (`LabelTap`).
    let tap: LabelTap
    /// Retraining, when a state directory holds its buffer and store.
    let retrainer: Retrainer?
    /// CURVE authorisation, when `curve_directory` is set.
    let authenticator: CurveAuthenticator?
    /// Streams whose state a new model rebuilds from their history at their next frame:
    /// `swap_continuity = replay`.
    var pendingReplay: [Int: Replay] = [:]
    /// Rebuilds the streams' states in a new model before the swap.
    let primer: SwapPrimer
    /// The swap waiting for `primer`: the old model serves until it has finished.
    var priming: Priming?
    /// Each slot's incarnation: bumped whenever its stream's state is reset, closed, evicted or
    /// given to a new stream, so a state primed from an older snapshot is known to be stale.
    private var slotEpochs: [UInt64] = []
    private var batch = FrameBatch()
    var counts = StatusSnapshot.Counts()
    var evicted = 0
    var rejectedStreams = 0
    var rates = RateMeter()
    private var dropLog = RateLimiter<DropReason>(limit: 5, per: .seconds(10))
    private var sampleLog = RateLimiter<Int>(limit: 5, per: .seconds(10))
    let started: UInt64
    private var lastHousekeeping: UInt64 = 0
    /// When the heap was last trimmed (`malloc_trim`), ns.
    private var lastTrim: UInt64 = 0
    private var wakeMessage = ZMQMessage()
    /// Frames of one drain pass; bounded in count and time so that control requests,
    /// housekeeping and stop stay responsive.
    private static let drainLimit = FrameBatch.maximum

    init(
        configuration: Configuration, model: LoadedModel, sockets: ServingSockets, state: DaemonState,
        clock: any ServingClock, tap: LabelTap, retrainer: Retrainer?, waker: Waker, authenticator: CurveAuthenticator?,
        logger: Logger
    ) throws {
        loader = LoopTask(waker: waker, command: .loaded, name: "lstmd-model-load")
        primer = SwapPrimer(waker: waker, gate: state.primingGate)
        self.tap = tap
        self.authenticator = authenticator
        self.retrainer = retrainer
        retrainer?.serving(model.path)
        self.configuration = configuration
        self.logger = logger
        self.state = state
        self.clock = clock
        self.sockets = sockets
        served = model
        classifier = try model.classifier(configuration: configuration)
        encoder = LabelEncoder(
            classes: model.model.classes, modelVersion: model.model.file.version, mode: classifier.mode)
        table = StreamTable(
            maxStreams: configuration.maxStreams, idleTimeout: Self.nanoseconds(configuration.idleTimeout),
            reorderWindow: UInt64(configuration.reorderWindow))
        table.maxStreamsPerKey = configuration.maxStreamsPerKey
        receiver = FrameReceiver(socket: sockets.ingest)
        publisher = LabelPublisher(socket: sockets.publisher)
        started = clock.monotonicNanoseconds()
        _ = poller.register(sockets.ingest)
        wakeIndex = poller.register(sockets.wake)
        // Both pollers: ingest 0, wake 1, the connection monitors, then (only in `poller`) control.
        _ = pollerWithoutControl.register(sockets.ingest)
        _ = pollerWithoutControl.register(sockets.wake)
        for monitor in sockets.monitors {
            _ = poller.register(monitor)
            _ = pollerWithoutControl.register(monitor)
        }
        monitorIndices = 2..<(2 + sockets.monitors.count)
        if let control = sockets.control { controlIndex = poller.register(control) }
        descriptorLimit = ConnectionGuard.descriptorLimit()
        connections = ConnectionGuard(
            maxConnections: configuration.maxConnections > 0
                ? configuration.maxConnections : ConnectionGuard.defaultMaxConnections(descriptors: descriptorLimit))
    }

    static func nanoseconds(_ seconds: Double) -> UInt64 { UInt64(min(max(0, seconds), 1e9) * 1e9) }

    // MARK: Loop

    /// Serves until the wake pipe says stop; then classifies the frames already queued (for at
    /// most `stop_drain_timeout`: a producer faster than the daemon must not keep it alive).
    func run() {
        state.progress(clock.monotonicNanoseconds())
        state.publish(snapshot())
        while true {
            let tick = max(1, Int(configuration.housekeepingInterval * 1000))
            let waitsForLoad = pendingReload?.repliesToControl == true
            let poller = waitsForLoad ? pollerWithoutControl : self.poller
            do {
                _ = try poller.poll(timeout: tick)
            } catch {
                if !error.isTerminated { logger.error("poll failed", metadata: ["error": "\(error)"]) }
                break
            }
            if poller.isReadable(wakeIndex), !takeWakeMessages() { break }
            if poller.isReadable(0) {
                drainIngest(limit: Self.drainLimit, deadline: clock.monotonicNanoseconds() + 100_000_000)
            }
            if !waitsForLoad, controlIndex >= 0, poller.isReadable(controlIndex) { serveControl() }
            if monitorIndices.contains(where: poller.isReadable) { watchConnections() }
            housekeeping()
        }
        if let pending = pendingReload, pending.repliesToControl {
            // The loader's outcome is dropped with the process; the client hears why.
            let reply = ControlHandler.failure("\(pending.request) abandoned: lstmd is stopping")
            _ = try? sockets.control?.send(Array(reply.jsonText.utf8))
            pendingReload = nil
        }
        if configuration.stopDrainTimeout > 0 {
            let deadline = clock.monotonicNanoseconds() + Self.nanoseconds(configuration.stopDrainTimeout)
            drainIngest(limit: Int.max, deadline: deadline)
        }
        state.progress(clock.monotonicNanoseconds())
        state.publish(snapshot())
        logger.info("serving loop stopped", metadata: ["frames": "\(counts.frames)", "labels": "\(counts.labels)"])
    }

    /// Acts on every message waiting in the wake pipe.
    /// - Returns: false when the loop is to stop.
    private func takeWakeMessages() -> Bool {
        while (try? sockets.wake.receive(into: &wakeMessage, dontWait: true)) == true {
            switch wakeMessage.withUnsafeBytes({ $0.first }).flatMap(Waker.Command.init(rawValue:)) {
            case .stop: return false
            case .reload:
                if pendingReload == nil {
                    _ = reloadFromConfiguration()
                } else {
                    deferredConfigurationReload = true
                    logger.notice("a reload is in progress; the configuration is re-read once it has finished")
                }
            case .swap: takeSwaps()
            case .loaded: finishReload()
            case .primed: finishPriming()
            case .stall:
                // Debug: hang here (no progress stamps, so the watchdog stops pinging) until stop.
                logger.warning("debug: the serving loop stalls until stopped")
                while (try? sockets.wake.receive(into: &wakeMessage, dontWait: false)) == true {
                    if wakeMessage.withUnsafeBytes({ $0.first }) == Waker.Command.stop.rawValue { return false }
                }
                return false
            case nil: break
            }
        }
        return true
    }

    /// Applies the connection limit to every event waiting on the monitors, read as one batch so
    /// a refused connection that is already gone is not shut down (its descriptor may be reused).
    private func watchConnections() {
        var batch: [(monitor: Int, event: ZMQMonitorEvent)] = []
        for (number, monitor) in sockets.monitors.enumerated() {
            while let message = try? monitor.receiveMultipart(maxParts: 2, dontWait: true) {
                guard let event = ZMQMonitorEvent(parts: message.parts) else { continue }
                batch.append((number, event))
                if event.kind == .acceptFailed {
                    logger.error("a listener cannot accept", metadata: ["endpoint": "\(event.endpoint)", "errno": "\(event.value)"])
                }
            }
        }
        for refusal in connections.handle(batch) {
            ConnectionGuard.shutDown(fd: refusal.fd, endpoint: refusal.event.endpoint)
            let decision = connectionLog.record(0)
            guard decision.allowed else { continue }
            var metadata: Logger.Metadata = [
                "endpoint": "\(refusal.event.endpoint)", "open": "\(connections.open)",
                "max_connections": "\(connections.maxConnections)",
            ]
            if let note = decision.suppressionNote { metadata["suppressed"] = "\(note)" }
            logger.warning("connection refused: too many open", metadata: metadata)
        }
    }

    private func housekeeping() {
        let now = clock.monotonicNanoseconds()
        state.progress(now)
        guard now >= lastHousekeeping &+ 250_000_000 else { return }
        lastHousekeeping = now
        rates.update(now: now, counts: counts)
        let expired = table.evict(now: now)
        for (slot, id) in expired {
            classifier.remove(slot: slot)
            tap.remove(slot: slot)
            streamStateChanged(slot: slot)
            logger.debug("stream evicted (idle)", metadata: ["stream": "\(id)"])
        }
        evicted += expired.count
        if now >= lastTrim &+ 30_000_000_000 {
            // Memory freed by departed subscribers, evicted streams or a burst of frames goes back
            // to the system (glibc keeps freed arena memory otherwise).
            lastTrim = now
            malloc_trim(0)
        }
        for (reason, suppressed) in dropLog.drainExpired() {
            logger.warning("suppressed \(suppressed) similar messages", metadata: ["reason": "\(reason.rawValue)"])
        }
        state.publish(snapshot())
    }

    // MARK: Frames

    private var limits: FrameLimits {
        FrameLimits(
            channels: classifier.model.channels, classCount: classifier.model.classCount,
            maxTimesteps: configuration.maxTimestepsPerFrame, maxPayloadBytes: configuration.maxMessageBytes)
    }

    private func drainIngest(limit: Int, deadline: UInt64) {
        defer { flushBatch() }
        let limits = self.limits
        var handled = 0
        while handled < limit {
            if handled > 0, clock.monotonicNanoseconds() > deadline { return }
            let outcome: FrameReceiver.Outcome
            do {
                outcome = try receiver.receive(limits: limits)
            } catch {
                return
            }
            switch outcome {
            case .empty: return
            case .dropped(let rejection): drop(rejection)
            case .frame(let header):
                if let rejection = accept(header, receivedAt: clock.monotonicNanoseconds()) { drop(rejection) }
            }
            handled += 1
            if batch.count >= FrameBatch.maximum { flushBatch() }
        }
    }

    /// Takes a decoded frame (values in `receiver.values`) to its stream.
    /// - Returns: why it is dropped, or nil when it was accepted.
    private func accept(_ header: FrameHeader, receivedAt now: UInt64) -> FrameRejection? {
        let count = header.timesteps * header.channels
        if header.isTrainingSample, let label = header.label {
            // For the retraining buffer only: no stream state, no label.
            let id = receiver.withStreamID { String(decoding: $0, as: UTF8.self) }
            if let refusal = tap.sample(
                streamID: id, values: receiver.values[0..<count], timesteps: header.timesteps, timestamp: header.timestamp, label: label)
            {
                counts.trainingSamplesRefused += 1
                let decision = sampleLog.record(0)
                if decision.allowed {
                    var metadata: Logger.Metadata = ["stream": "\(id)", "reason": "\(refusal)"]
                    if let note = decision.suppressionNote { metadata["suppressed"] = "\(note)" }
                    logger.warning("training sample refused", metadata: metadata)
                }
            } else {
                counts.trainingSamples += 1
            }
            return nil
        }
        let admission = receiver.withStreamID { [receiver] in
            table.accept(id: $0, sequence: header.sequence, now: now, owner: { receiver.senderKey })
        }
        let slot: Int
        switch admission {
        case .duplicate(let last): return FrameRejection(.duplicate, .sequence(got: header.sequence, last: last))
        case .outOfOrder(let last): return FrameRejection(.outOfOrder, .sequence(got: header.sequence, last: last))
        case .invalidID: return FrameRejection(.badStreamID, .notUTF8)
        case .rejected:
            rejectedStreams += 1
            return FrameRejection(.streamLimit, .streams(configuration.maxStreams))
        case .keyQuota:
            return FrameRejection(.keyQuota, .keyStreams(configuration.maxStreamsPerKey))
        case .otherOwner:
            return FrameRejection(.keyQuota, .otherOwner)
        case .new(let new):
            slot = new
            classifier.remove(slot: slot)  // a reused slot starts from zero
            tap.remove(slot: slot)
            streamStateChanged(slot: slot)
            logger.debug("stream created", metadata: ["stream": "\(table[slot].id)", "sequence": "\(header.sequence)"])
        case .next(let next):
            slot = next
            // One frame per stream per batch: a second one waits for the first to be classified.
            if batch.contains(slot: slot) { flushBatch() }
        case .gap(let reset, let last), .restart(let reset, let last):
            slot = reset
            if batch.contains(slot: slot) { flushBatch() }
            let restart = header.sequence < last
            logger.debug(
                restart ? "producer restart: stream state reset" : "sequence gap: stream state reset",
                metadata: ["stream": "\(table[slot].id)", "sequence": "\(header.sequence)", "last": "\(last)"])
            classifier.reset(slot: slot)
            tap.gap(slot: slot)
            streamStateChanged(slot: slot)
            if restart { counts.sequenceRestarts += 1 } else { counts.gaps += 1 }
        }
        if let replay = pendingReplay.removeValue(forKey: slot) { takeOver(slot: slot, replay) }
        tap.feed(slot: slot, id: table[slot].id, values: receiver.values[0..<count], timestamp: header.timestamp, label: header.label)
        counts.frames += 1
        counts.timesteps += header.timesteps
        if header.label != nil {
            counts.labelledFrames += 1
            state.labelledSink?(table[slot].id, header, Array(receiver.values[0..<count]))
        }
        if classifier.batches {
            batch.append(slot: slot, header: header, values: receiver.values[0..<count], received: now)
        } else {
            receiver.values.withUnsafeBufferPointer { buffer in
                classifier.process(slot: slot, values: buffer.baseAddress!, timesteps: header.timesteps) { timesteps, probabilities in
                    publish(slot: slot, probabilities: probabilities, header: header, timesteps: timesteps)
                }
            }
            state.metrics?.frame(timesteps: header.timesteps, receivedAt: now)
        }
        return nil
    }

    /// The stream in `slot` was reset, closed, evicted or given to a new stream: a replay planned
    /// for it is void, and so is a state primed for it.
    func streamStateChanged(slot: Int) {
        if slot >= slotEpochs.count { slotEpochs.append(contentsOf: repeatElement(0, count: slot + 1 - slotEpochs.count)) }
        slotEpochs[slot] &+= 1
        pendingReplay[slot] = nil
    }

    func epoch(slot: Int) -> UInt64 { slot < slotEpochs.count ? slotEpochs[slot] : 0 }

    /// Rebuilds (`full`) or catches up (`catchUp`) the new model's state of the stream in `slot`
    /// from its history, before its first frame after a swap.
    private func takeOver(slot: Int, _ replay: Replay) {
        let history = tap.history(slot: slot)
        switch replay {
        case .full(let total):
            classifier.prime(slot: slot, values: history.values, count: history.count, total: total)
        case .catchUp(let timesteps):
            let count = min(timesteps, history.count)
            let c = classifier.model.channels
            history.values.withUnsafeBufferPointer { buffer in
                classifier.advance(slot: slot, values: buffer.baseAddress! + (history.count - count) * c, count: count)
            }
        }
    }

    /// Classifies the frames waiting in the batch (one per stream), all streams together.
    func flushBatch() {
        guard !batch.isEmpty else { return }
        let slots = batch.slots, headers = batch.headers
        batch.values.withUnsafeBufferPointer { buffer in
            let base = buffer.baseAddress!
            classifier.processBatch(
                slots, values: batch.offsets.map { base + $0 }, timesteps: headers.map(\.timesteps)
            ) { index, timesteps, probabilities in
                publish(slot: slots[index], probabilities: probabilities, header: headers[index], timesteps: timesteps)
            }
        }
        if let metrics = state.metrics {
            for (header, received) in zip(headers, batch.received) { metrics.frame(timesteps: header.timesteps, receivedAt: received) }
        }
        batch.removeAll()
    }

    private func publish(slot: Int, probabilities: UnsafePointer<Float>, header: FrameHeader, timesteps: Int) {
        let best = encoder.best(probabilities)
        let emitted = clock.realtimeNanoseconds()
        let json = encoder.encode(
            quotedStream: table[slot].quotedID, probabilities: probabilities, best: best, header: header,
            timesteps: timesteps, emitted: emitted)
        table[slot].labels += 1
        table[slot].lastLabel = best
        counts.labels += 1
        do {
            try publisher.publish(topic: table[slot].id, message: json)
        } catch {
            logger.error("cannot publish label", metadata: ["error": "\(error)", "stream": "\(table[slot].id)"])
        }
        state.metrics?.label(frameTimestamp: header.timestamp, emitted: emitted)
    }

    /// Counts a dropped frame and logs it (rate-limited per reason) with the stream id, when the
    /// message carried one, and what was wrong.
    private func drop(_ rejection: FrameRejection) {
        let reason = rejection.reason
        counts.drop(reason)
        state.metrics?.drop(reason)
        let decision = dropLog.record(reason)
        guard decision.allowed else { return }
        var metadata: Logger.Metadata = ["reason": "\(reason.rawValue)"]
        if reason != .wrongParts || receiver.streamIDCount > 0 {
            metadata["stream"] = "\(receiver.withStreamID { DropDetail.printableStreamID($0) })"
        }
        if let text = rejection.detail.text { metadata["detail"] = "\(text)" }
        if let note = decision.suppressionNote { metadata["suppressed"] = "\(note)" }
        logger.warning("dropped frame", metadata: metadata)
    }
}
