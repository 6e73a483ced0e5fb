import Foundation
import LSTMKit
import Logging
import Systemd
import ZeroMQ

/// The serving loop: owns the sockets, the stream table and the classifier, on one thread the
/// daemon owns (never the Swift concurrency pool). Not `Sendable`: everything here belongs to
/// that thread; other threads talk to it only through `Daemon`'s flags and the control socket.
final class Server {
    private var configuration: Configuration
    private let logger: Logger
    private let shared: Daemon.Shared
    private let ingest: ZMQSocket
    private let publisher: ZMQSocket
    private let control: ZMQSocket?
    private let poller = ZMQPoller()
    private var classifier: StreamClassifier
    private var modelPath: String
    private var escapedClasses: [String]
    private var modelVersion: String
    /// Sessions by the stream id's exact bytes (String equality would merge canonically
    /// equivalent ids such as "café" spelled with and without a combining accent).
    private var sessions: [StreamKey: StreamSession] = [:]
    /// Reused for lookups, so a frame of a known stream allocates no key.
    private var lookupKey = StreamKey(bytes: [])
    private var counters = Counters()
    private var rates = Rates()
    private var rejectedStreams = 0
    private var dropLog = RateLimiter<DropReason>(limit: 5, per: .seconds(10))
    private let started = Server.monotonicNanoseconds()
    private var lastHousekeeping: UInt64 = 0
    // Reused receive buffers: no allocation per frame.
    private var idPart = ZMQMessage()
    private var headerPart = ZMQMessage()
    private var payloadPart = ZMQMessage()
    private var values: [Float] = []
    // Frames accepted but not yet classified (continuous mode batches them across streams).
    private var batchID = 1
    private var pendingSessions: [StreamSession] = []
    private var pendingHeaders: [FrameHeader] = []
    private var pendingOffsets: [Int] = []
    private var pendingValues: [Float] = []
    private var pendingReceived: [UInt64] = []
    private static let maximumBatch = 512
    /// The socket files of the ipc:// endpoints bound, with their (device, inode), removed at
    /// close only while they are still ours.
    private var ipcFiles: [(path: String, device: UInt64, inode: UInt64)] = []

    init(configuration: Configuration, model: LoadedModel, context: ZMQContext, shared: Daemon.Shared, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.shared = shared
        classifier = try model.classifier(configuration: configuration)
        modelPath = model.path
        modelVersion = model.model.file.version
        escapedClasses = model.model.classes.map(JSONText.quoted)
        /// Binds `socket` to every endpoint of `key`. An address in use, or not (yet) configured on
        /// an interface (at boot, before the network is up), is worth a retry (no key: exit 1);
        /// any other refusal (`tcp://localhost`: EINVAL) is the setting's fault (exit 78).
        func bind(_ socket: ZMQSocket, _ endpoints: [String], key: String) throws {
            for endpoint in endpoints {
                do {
                    try socket.bind(endpoint)
                } catch {
                    throw DaemonError(
                        "cannot bind \(key) endpoint \(endpoint): \(error.message)",
                        key: [EADDRINUSE, EADDRNOTAVAIL, ENODEV].contains(error.code) ? nil : key)
                }
            }
        }
        do {
            ingest = try ZMQSocket(.pull, context: context)
            try ingest.set(.receiveHighWaterMark, to: configuration.receiveHighWaterMark)
            try ingest.set(.maxMessageSize, to: configuration.maxMessageBytes * 4 + 4096)
            try ingest.set(.linger, to: 0)
            try bind(ingest, configuration.ingestEndpoints, key: "ingest")
            publisher = try ZMQSocket(.pub, context: context)
            try publisher.set(.sendHighWaterMark, to: configuration.sendHighWaterMark)
            try publisher.set(.linger, to: 500)
            try bind(publisher, configuration.publishEndpoints, key: "publish")
            if configuration.controlEndpoints.isEmpty {
                control = nil
            } else {
                let socket = try ZMQSocket(.rep, context: context)
                try socket.set(.linger, to: 0)
                try socket.set(.maxMessageSize, to: 1 << 20)
                try bind(socket, configuration.controlEndpoints, key: "control")
                control = socket
            }
        } catch let error as DaemonError {
            throw error
        } catch {
            throw DaemonError("cannot set up sockets: \(error)")
        }
        poller.register(ingest)
        if let control { poller.register(control) }
        let endpoints = configuration.ingestEndpoints + configuration.publishEndpoints + configuration.controlEndpoints
        for endpoint in endpoints where endpoint.hasPrefix("ipc://") {
            let path = String(endpoint.dropFirst("ipc://".count))
            // "@name" is Linux's abstract namespace (no file); "*" lets libzmq pick a name.
            guard !path.isEmpty, !path.hasPrefix("@"), path != "*" else { continue }
            var info = stat()
            if stat(path, &info) == 0 { ipcFiles.append((path, UInt64(info.st_dev), UInt64(info.st_ino))) }
        }
    }

    /// Endpoints actually bound (ephemeral tcp ports resolved).
    var boundEndpoints: [String: String] {
        var endpoints: [String: String] = [:]
        endpoints["ingest"] = (try? ingest.lastEndpoint) ?? nil
        endpoints["publish"] = (try? publisher.lastEndpoint) ?? nil
        if let control { endpoints["control"] = (try? control.lastEndpoint) ?? nil }
        return endpoints
    }

    static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    static func realtimeNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    // MARK: Loop

    /// Serves until `Daemon.stop()`; then drains the frames already queued and returns.
    func run() {
        let tick = max(1, Int(configuration.housekeepingInterval * 1000))
        while !shared.stopRequested {
            shared.waitWhileStalled()
            do {
                _ = try poller.poll(timeout: tick)
            } catch {
                if !error.isTerminated { logger.error("poll failed", metadata: ["error": "\(error)"]) }
                break
            }
            // Bounded in count and time, so control requests, housekeeping and stop stay responsive.
            if poller.isReadable(0) {
                drainIngest(limit: Self.maximumBatch, deadline: Self.monotonicNanoseconds() + 100_000_000)
            }
            if control != nil, poller.isReadable(1) { serveControl() }
            housekeeping()
        }
        // Finish what is in flight: frames already queued are classified and published, for at
        // most `stopDrainTimeout` (a producer faster than the daemon must not keep it alive).
        let deadline = Self.monotonicNanoseconds() + UInt64(configuration.stopDrainTimeout * 1e9)
        drainIngest(limit: Int.max, deadline: deadline)
        shared.progress()
        logger.info("serving loop stopped", metadata: ["frames": "\(counters.frames)", "labels": "\(counters.labels)"])
    }

    /// Closes every socket (the label socket keeps its linger for the context's termination) and
    /// removes the socket files of the ipc:// endpoints it bound (libzmq leaves them behind).
    func close() {
        ingest.close()
        control?.close()
        publisher.close()
        for file in ipcFiles {
            // Another process may have bound the same path since (libzmq replaces the file).
            var info = stat()
            if stat(file.path, &info) == 0, UInt64(info.st_dev) == file.device, UInt64(info.st_ino) == file.inode {
                unlink(file.path)
            }
        }
    }

    private func housekeeping() {
        let now = Self.monotonicNanoseconds()
        shared.progress()
        if shared.takeReloadRequest() { _ = reloadFromConfiguration() }
        guard now >= lastHousekeeping + 250_000_000 else { return }
        lastHousekeeping = now
        rates.update(now: now, counters: counters)
        let idle = UInt64(configuration.idleTimeout * 1e9)
        if !sessions.isEmpty {
            var expired: [StreamKey] = []
            for (id, session) in sessions where now > session.lastSeen &+ idle { expired.append(id) }
            if logger.logLevel <= .debug {
                for id in expired {
                    logger.debug("stream evicted (idle)", metadata: ["stream": "\(sessions[id]?.id ?? "?")"])
                }
            }
            for id in expired { remove(id) }
            counters.evicted += expired.count
            if !expired.isEmpty { logger.debug("evicted idle streams", metadata: ["count": "\(expired.count)"]) }
        }
        for (reason, suppressed) in dropLog.drainExpired() {
            logger.warning("suppressed \(suppressed) similar messages", metadata: ["reason": "\(reason.rawValue)"])
        }
        shared.publish(snapshot: statusObject())
    }

    private func remove(_ id: StreamKey) {
        sessions[id] = nil
    }

    // MARK: Frames

    private func drainIngest(limit: Int, deadline: UInt64 = .max) {
        defer { flushBatch() }
        var handled = 0
        while handled < limit {
            if handled % 8 == 7, Self.monotonicNanoseconds() > deadline { return }
            do {
                guard try ingest.receive(into: &idPart, dontWait: true) else { return }
            } catch {
                return
            }
            handled += 1
            if let (reason, detail) = receiveFrame() { drop(reason, detail) }
            if pendingSessions.count >= Self.maximumBatch { flushBatch() }
        }
    }

    /// Classifies the frames waiting in the batch (one per stream), all streams together.
    private func flushBatch() {
        guard !pendingSessions.isEmpty else { return }
        let sessions = pendingSessions, headers = pendingHeaders
        pendingValues.withUnsafeBufferPointer { buffer in
            let base = buffer.baseAddress!
            classifier.processBatch(
                sessions, values: pendingOffsets.map { base + $0 }, timesteps: headers.map(\.timesteps)
            ) { index, _, probabilities in
                publish(sessions[index], probabilities: probabilities, header: headers[index])
            }
        }
        if let metrics = shared.metrics {
            for (header, received) in zip(headers, pendingReceived) { metrics.frame(timesteps: header.timesteps, receivedAt: received) }
        }
        pendingReceived.removeAll(keepingCapacity: true)
        pendingSessions.removeAll(keepingCapacity: true)
        pendingHeaders.removeAll(keepingCapacity: true)
        pendingOffsets.removeAll(keepingCapacity: true)
        pendingValues.removeAll(keepingCapacity: true)
        batchID += 1
    }

    /// Counts a dropped frame and logs it (rate-limited per reason) with the stream id, when the
    /// message carried one, and what was wrong. The id is still in `idPart`.
    private func drop(_ reason: DropReason, _ detail: DropDetail = .none) {
        counters.drop(reason)
        shared.metrics?.drop(reason)
        let decision = dropLog.record(reason)
        if decision.allowed {
            var metadata: Logger.Metadata = ["reason": "\(reason.rawValue)"]
            if reason != .wrongParts || idPart.count > 0 {
                metadata["stream"] = "\(idPart.withUnsafeBytes { DropDetail.printableStreamID($0) })"
            }
            if let text = detail.text { metadata["detail"] = "\(text)" }
            if let note = decision.suppressionNote { metadata["suppressed"] = "\(note)" }
            logger.warning("dropped frame", metadata: metadata)
        }
    }

    /// Reads the rest of the message whose first part is in `idPart` and handles it.
    /// - Returns: the drop reason and what was wrong, or nil when the frame was accepted.
    private func receiveFrame() -> (DropReason, DropDetail)? {
        let now = Self.monotonicNanoseconds()
        guard idPart.hasMore else { return (.wrongParts, .parts(1)) }
        guard (try? ingest.receive(into: &headerPart, dontWait: true)) == true else { return (.wrongParts, .parts(1)) }
        guard headerPart.hasMore else { return (.wrongParts, .parts(2)) }
        guard (try? ingest.receive(into: &payloadPart, dontWait: true)) == true else { return (.wrongParts, .parts(2)) }
        if payloadPart.hasMore {
            var scratch = ZMQMessage()
            var parts = 4
            while (try? ingest.receive(into: &scratch, dontWait: true)) == true, scratch.hasMore { parts += 1 }
            return (.wrongParts, .parts(parts))
        }
        let idCount = idPart.count
        guard idCount >= 1, idCount <= 255 else { return (.badStreamID, .idLength(idCount)) }
        let header: FrameHeader
        switch headerPart.withUnsafeBytes({ FrameHeader.parse($0) }) {
        case .failure(let reason): return (reason, .headerBytes(headerPart.count))
        case .success(let parsed): header = parsed
        }
        let model = classifier.model
        guard header.channels == model.channels else {
            return (.wrongChannels, .channels(got: header.channels, model: model.channels))
        }
        guard header.timesteps >= 1, header.timesteps <= configuration.maxTimestepsPerFrame else {
            return (.badTimesteps, .timesteps(got: header.timesteps, maximum: configuration.maxTimestepsPerFrame))
        }
        let payloadCount = payloadPart.count
        guard payloadCount <= configuration.maxMessageBytes else {
            return (.oversize, .oversize(got: payloadCount, maximum: configuration.maxMessageBytes))
        }
        guard payloadCount == header.payloadSize else {
            return (.payloadSize, .payload(got: payloadCount, expected: header.payloadSize))
        }
        if let label = header.label, label >= model.classCount {
            return (.badLabel, .label(got: label, classes: model.classCount))
        }
        let count = header.timesteps * header.channels
        if values.count < count { values = [Float](repeating: 0, count: count) }
        let finite = payloadPart.withUnsafeBytes { raw in
            values.withUnsafeMutableBufferPointer { target in
                var ok = true
                for index in 0..<count {
                    let value = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
                    target[index] = value
                    ok = ok && value.isFinite
                }
                return ok
            }
        }
        guard finite else { return (.nonFinite, .none) }

        let session: StreamSession
        lookupKey.bytes.removeAll(keepingCapacity: true)
        idPart.withUnsafeBytes { lookupKey.bytes.append(contentsOf: $0) }
        if let existing = sessions[lookupKey] {
            session = existing
            // One frame per stream per batch: a second one waits for the first to be classified.
            if session.pendingBatch == batchID { flushBatch() }
            if let last = session.lastSequence {
                if header.sequence == last { return (.duplicate, .sequence(got: header.sequence, last: last)) }
                if header.sequence < last { return (.outOfOrder, .sequence(got: header.sequence, last: last)) }
                if header.sequence != last &+ 1 {
                    logger.debug(
                        "sequence gap: stream state reset",
                        metadata: ["stream": "\(session.id)", "sequence": "\(header.sequence)", "last": "\(last)"])
                    classifier.reset(session)
                    session.gaps += 1
                    counters.gaps += 1
                }
            }
        } else {
            guard sessions.count < configuration.maxStreams else {
                rejectedStreams += 1
                return (.streamLimit, .streams(configuration.maxStreams))
            }
            // A known id was validated when its stream was created.
            guard let id = String(validating: lookupKey.bytes, as: UTF8.self) else { return (.badStreamID, .notUTF8) }
            session = classifier.makeSession(id: id, now: now)
            logger.debug("stream created", metadata: ["stream": "\(id)", "sequence": "\(header.sequence)"])
            sessions[StreamKey(bytes: lookupKey.bytes)] = session
        }
        session.lastSequence = header.sequence
        session.lastSeen = now
        session.frames += 1
        counters.frames += 1
        counters.timesteps += header.timesteps
        if header.label != nil {
            counters.labelledFrames += 1
            shared.labelledSink?(session.id, header, Array(values[0..<count]))
        }
        if classifier.batches {
            session.pendingBatch = batchID
            pendingSessions.append(session)
            pendingHeaders.append(header)
            pendingOffsets.append(pendingValues.count)
            pendingValues.append(contentsOf: values[0..<count])
            pendingReceived.append(now)
        } else {
            values.withUnsafeBufferPointer { buffer in
                classifier.process(session, values: buffer.baseAddress!, timesteps: header.timesteps) { probabilities in
                    publish(session, probabilities: probabilities, header: header)
                }
            }
            shared.metrics?.frame(timesteps: header.timesteps, receivedAt: now)
        }
        return nil
    }

    private func publish(_ session: StreamSession, probabilities: UnsafePointer<Float>, header: FrameHeader) {
        let k = escapedClasses.count
        var best = 0
        for index in 1..<k where probabilities[index] > probabilities[best] { best = index }
        var json = "{\"stream\":"
        json.reserveCapacity(160 + 24 * k)
        json += session.quotedID
        json += ",\"label\":" + escapedClasses[best]
        json += ",\"class_index\":\(best),\"probabilities\":{"
        for index in 0..<k {
            if index > 0 { json += "," }
            json += escapedClasses[index] + ":" + JSONText.number(probabilities[index])
        }
        json += "},\"model_version\":\"\(modelVersion)\",\"mode\":\"\(classifier.mode.rawValue)\""
        json += ",\"seq\":\(header.sequence),\"timestamp_ns\":\(header.timestamp)"
        let emitted = Self.realtimeNanoseconds()
        json += ",\"timesteps\":\(session.timesteps),\"emitted_ns\":\(emitted)}"
        session.labels += 1
        session.lastLabel = best
        counters.labels += 1
        do {
            try publisher.send(session.id.utf8, more: true, dontWait: true)
            try publisher.send(json.utf8, dontWait: true)
        } catch {
            logger.error("cannot publish label", metadata: ["error": "\(error)", "stream": "\(session.id)"])
        }
        shared.metrics?.label(frameTimestamp: header.timestamp, emitted: emitted)
    }

    // MARK: Control

    private func serveControl() {
        guard let control else { return }
        guard let request = try? control.receiveMultipart(maxParts: 1, dontWait: true) else { return }
        let reply: JSONValue
        if request.isTruncated || request.parts.isEmpty {
            reply = failure("a request is one message part holding a JSON object")
        } else {
            reply = handle(String(decoding: request.parts[0], as: UTF8.self))
        }
        _ = try? control.send(Array(reply.jsonText.utf8))
    }

    private func failure(_ message: String) -> JSONValue {
        .object(["ok": .bool(false), "error": .string(message)])
    }

    func handle(_ text: String) -> JSONValue {
        guard let request = try? JSONValue.parse(text), case .object = request else {
            return failure("request is not a JSON object")
        }
        guard let command = request["command"]?.stringValue else {
            return failure("request has no \"command\" string")
        }
        switch command {
        case "status":
            return statusObject()
        case "streams":
            let requested = request["limit"]?.numberValue ?? 1000
            guard requested.isFinite, requested >= 0 else { return failure("limit must be a non-negative number") }
            let limit = Int(min(requested, 1e9))
            let now = Self.monotonicNanoseconds()
            // {"command":"streams","stream":"s1"}: only that stream (count 0 when unknown).
            let selected: [StreamSession]
            if let filter = request["stream"] {
                guard let id = filter.stringValue else { return failure("streams \"stream\" must be a string") }
                selected = sessions[StreamKey(bytes: Array(id.utf8))].map { [$0] } ?? []
            } else {
                selected = Array(sessions.values)
            }
            let list = selected.sorted { $0.id < $1.id }.prefix(max(0, limit)).map { session -> JSONValue in
                .object([
                    "id": .string(session.id),
                    "frames": .number(Double(session.frames)),
                    "timesteps": .number(Double(session.timesteps)),
                    "labels": .number(Double(session.labels)),
                    "gaps": .number(Double(session.gaps)),
                    "last_sequence": session.lastSequence.map { .number(Double($0)) } ?? .null,
                    "last_label": session.lastLabel >= 0 ? .string(classifier.model.classes[session.lastLabel]) : .null,
                    "idle_s": .number(Double(now - min(now, session.lastSeen)) / 1e9),
                ])
            }
            return .object(["ok": .bool(true), "count": .number(Double(selected.count)), "streams": .array(Array(list))])
        case "reset", "close":
            guard let id = request["stream"]?.stringValue else {
                return failure("\(command) needs a \"stream\" string")
            }
            guard let session = sessions[StreamKey(bytes: Array(id.utf8))] else { return failure("unknown stream '\(id)'") }
            if command == "reset" { classifier.reset(session) } else { remove(StreamKey(bytes: Array(id.utf8))) }
            logger.debug(command == "reset" ? "stream reset (control)" : "stream closed (control)", metadata: ["stream": "\(id)"])
            return .object(["ok": .bool(true), "stream": .string(id)])
        case "reload":
            if let model = request["model"], model.stringValue == nil {
                return failure("reload \"model\" must be a string path")
            }
            if let flag = request["configuration"], flag != .bool(false) {
                guard flag == .bool(true) else { return failure("reload \"configuration\" must be true or false") }
                guard request["model"] == nil else { return failure("reload takes \"model\" or \"configuration\", not both") }
                guard shared.configurationLoader != nil else {
                    return failure("this daemon has no configuration to re-read (started in-process)")
                }
                return reloadFromConfiguration()
            }
            return reload(path: request["model"]?.stringValue)
        default:
            return failure("unknown command '\(command)' (status, streams, reset, close, reload)")
        }
    }

    /// SIGHUP and `{"command":"reload","configuration":true}`: re-reads the configuration and
    /// reloads with it (without a configuration loader: the model serving now, from its file). A
    /// configuration that does not load is refused, logged and reported; nothing changes.
    private func reloadFromConfiguration() -> JSONValue {
        guard let loader = shared.configurationLoader else { return reload(path: nil) }
        let fresh: Configuration
        do {
            fresh = try loader()
        } catch {
            shared.reloadHook?(.began)
            logger.error("configuration refused; the current configuration and model keep serving", metadata: ["error": "\(error)"])
            shared.reloadHook?(.failed("\(error)"))
            return failure("configuration refused: \(error)")
        }
        return reload(path: nil, configuration: fresh)
    }

    /// Loads and validates a model, then swaps it in between frames: stream states are reset
    /// (their sequence tracking stays), and labels carry the new version. A bad model is refused
    /// and the current one keeps serving.
    ///
    /// Which file loads follows `ModelChoice`: `path` (a control-socket choice) is recorded in the
    /// state directory; a new configuration loads the recorded choice while its configured model
    /// is unchanged, else the configured model; neither reloads the file serving now.
    private func reload(path: String?, configuration replacement: Configuration? = nil) -> JSONValue {
        let settings = replacement ?? configuration
        var target = path ?? modelPath
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
                    metadata: ["replaced": "\(modelPath)", "model": "\(target)"])
            }
        }
        shared.reloadHook?(.began)
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
            } else if replacement != nil, !keepsChoice {
                ModelChoice.remove(stateDirectory: settings.stateDirectory)
            }
            if var replacement {
                // Sockets stay as bound; everything else takes the new values.
                replacement.ingestEndpoints = configuration.ingestEndpoints
                replacement.publishEndpoints = configuration.publishEndpoints
                replacement.controlEndpoints = configuration.controlEndpoints
                replacement.housekeepingInterval = configuration.housekeepingInterval
                configuration = replacement
            }
            classifier = next
            modelPath = loaded.path
            modelVersion = loaded.model.file.version
            escapedClasses = loaded.model.classes.map(JSONText.quoted)
            for session in sessions.values {
                // States belong to the old model: rebuild them, keep sequence tracking.
                let fresh = next.makeSession(id: session.id, now: session.lastSeen)
                fresh.lastSequence = session.lastSequence
                fresh.frames = session.frames
                fresh.labels = session.labels
                fresh.gaps = session.gaps
                fresh.lastLabel = session.lastLabel
                sessions[StreamKey(bytes: Array(session.id.utf8))] = fresh
            }
            counters.reloads += 1
            logger.notice("model reloaded", metadata: ["model": "\(loaded.path)", "version": "\(modelVersion)"])
            shared.reloadHook?(.succeeded(modelVersion))
            return .object(["ok": .bool(true), "model_version": .string(modelVersion), "model": .string(loaded.path)])
        } catch {
            logger.error("reload refused; the current model keeps serving", metadata: ["model": "\(target)", "error": "\(error)"])
            shared.reloadHook?(.failed("\(error)"))
            return failure("reload refused: \(error)")
        }
    }

    /// Whether the file serving now is not the configured model (an operator's control-socket
    /// choice).
    private var servesChosenModel: Bool {
        !ModelChoice.sameFile(modelPath, configuration.modelPath ?? LoadedModel.defaultPath)
    }

    func statusObject() -> JSONValue {
        let model = classifier.model
        var drops: [String: JSONValue] = [:]
        for (index, reason) in DropReason.allCases.enumerated() { drops[reason.rawValue] = .number(Double(counters.drops[index])) }
        let streamBytes = sessions.values.reduce(0) { $0 + $1.byteCount }
        return .object([
            "ok": .bool(true),
            "uptime_s": .number(Double(Self.monotonicNanoseconds() - started) / 1e9),
            "model": .object([
                "path": .string(modelPath),
                "version": .string(modelVersion),
                "digest": .string(model.file.digest),
                "classes": .array(model.classes.map { .string($0) }),
                "window": .number(Double(classifier.window)),
                "hop": .number(Double(classifier.hop)),
                "mode": .string(classifier.mode.rawValue),
                "channels": .number(Double(model.channels)),
            ]),
            "streams": .object([
                "active": .number(Double(sessions.count)),
                "max": .number(Double(configuration.maxStreams)),
                "evicted": .number(Double(counters.evicted)),
                "rejected": .number(Double(rejectedStreams)),
                "bytes": .number(Double(streamBytes)),
            ]),
            "counters": .object([
                "frames": .number(Double(counters.frames)),
                "timesteps": .number(Double(counters.timesteps)),
                "labels": .number(Double(counters.labels)),
                "labelled_frames": .number(Double(counters.labelledFrames)),
                "gaps": .number(Double(counters.gaps)),
                "reloads": .number(Double(counters.reloads)),
                "dropped": .number(Double(counters.totalDrops)),
            ]),
            "drops": .object(drops),
            "rates": .object([
                "frames_per_s": .number(rates.framesPerSecond),
                "timesteps_per_s": .number(rates.timestepsPerSecond),
                "labels_per_s": .number(rates.labelsPerSecond),
            ]),
        ])
    }
}

/// A stream id's bytes as a dictionary key, hashed in one call over the bytes rather than byte by
/// byte as `[UInt8]`'s own `Hashable` does.
struct StreamKey: Hashable {
    var bytes: [UInt8]

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
