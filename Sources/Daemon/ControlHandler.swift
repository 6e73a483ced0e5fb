import LSTMKit
import ZeroMQ

/// One stream as the control `streams` reply lists it.
struct StreamListing: Equatable {
    var id: String
    var frames: Int
    var timesteps: Int
    var labels: Int
    var gaps: Int
    var lastSequence: UInt64
    /// The most recent label's class name, or nil.
    var lastLabel: String?
    var idleSeconds: Double
}

/// What control requests act on (the serving loop; a fake in tests).
protocol ControlTarget: AnyObject {
    func statusSnapshot() -> StatusSnapshot
    /// Every stream, or only `id`'s (none when unknown).
    func streamListings(only id: String?) -> [StreamListing]
    /// Forgets what the stream has seen. - Returns: false for an unknown stream.
    func resetStream(_ id: String) -> Bool
    /// Forgets the stream. - Returns: false for an unknown stream.
    func closeStream(_ id: String) -> Bool
    /// Loads `path` (nil: the file serving now) and swaps it in; `force` loads a model whose
    /// channels or classes differ from the running one's.
    func reload(model path: String?, force: Bool) -> JSONValue
    /// What SIGHUP does: re-reads the configuration and reloads with it.
    func reloadConfiguration() -> JSONValue
    /// Whether the configuration can be re-read (a daemon built in-process may have no loader).
    var canReloadConfiguration: Bool { get }
    /// An operator's correction: the stream's last `W` timesteps are of `className`.
    func label(stream id: String, className: String) -> JSONValue
    /// Starts (or joins) a retraining job.
    func retrain() -> JSONValue
    /// A retraining job's state and result.
    func job(_ id: String) -> JSONValue
    /// The model store's versions.
    func models() -> JSONValue
    /// Serves a stored version (`force`: even when its channels or classes differ).
    func rollback(to version: String, force: Bool) -> JSONValue
}

/// The control protocol: one JSON object per request on the REP socket, one JSON object per
/// reply. Checks every request's shape here, so targets see only valid requests.
///
/// | command | fields | reply |
/// |---|---|---|
/// | `status` | | `StatusSnapshot.json` |
/// | `streams` | `limit` (1000), `stream` | `count`, `streams` (sorted by id) |
/// | `reset`, `close` | `stream` | `stream` |
/// | `reload` | `model` or `configuration: true`; `force` | `model_version`, `model`, `integrity` |
/// | `label` | `stream`, `class` | `stored`, `durable`, `records`, `durable_records` |
/// | `retrain` | | `job`, `state` |
/// | `job` | `job` | `state`, `result` |
/// | `models` | | `current`, `models` |
/// | `rollback` | `version`; `force` | `model_version`, `model`, `integrity` |
struct ControlHandler {
    /// The commands, as listed in the error for an unknown one.
    static let commands = ["status", "streams", "reset", "close", "reload", "label", "retrain", "job", "models", "rollback"]

    static func failure(_ message: String) -> JSONValue {
        .object(["ok": .bool(false), "error": .string(message)])
    }

    /// The request's `force` flag (absent: false), or nil when it is not a boolean.
    private static func force(_ request: JSONValue) -> Bool? {
        switch request["force"] {
        case nil: false
        case .bool(let value)?: value
        default: nil
        }
    }

    /// The largest request accepted, in bytes: every request lstmctl sends is under 1 KiB.
    static let maxRequestBytes = 64 * 1024
    /// The deepest nesting accepted: requests are flat objects.
    static let maxRequestDepth = 32

    /// Answers one request. Parsing is linear in the request's size, and both are bounded.
    func handle(_ text: String, target: some ControlTarget) -> JSONValue {
        guard text.utf8.count <= Self.maxRequestBytes else {
            return Self.failure("request is larger than \(Self.maxRequestBytes) bytes")
        }
        let request: JSONValue
        do {
            request = try JSONValue.parse(text, maxDepth: Self.maxRequestDepth)
        } catch {
            return Self.failure("request is not JSON (\(error))")
        }
        guard case .object = request else { return Self.failure("request is not a JSON object") }
        guard let command = request["command"]?.stringValue else {
            return Self.failure("request has no \"command\" string")
        }
        switch command {
        case "status":
            return target.statusSnapshot().json
        case "streams":
            let requested = request["limit"]?.numberValue ?? 1000
            guard requested.isFinite, requested >= 0 else { return Self.failure("limit must be a non-negative number") }
            let limit = Int(min(requested, 1e9))
            var only: String?
            if let filter = request["stream"] {
                guard let id = filter.stringValue else { return Self.failure("streams \"stream\" must be a string") }
                only = id
            }
            let listings = target.streamListings(only: only)
            let list = listings.sorted { $0.id < $1.id }.prefix(limit).map { stream -> JSONValue in
                .object([
                    "id": .string(stream.id),
                    "frames": .number(Double(stream.frames)),
                    "timesteps": .number(Double(stream.timesteps)),
                    "labels": .number(Double(stream.labels)),
                    "gaps": .number(Double(stream.gaps)),
                    "last_sequence": .number(Double(stream.lastSequence)),
                    "last_label": stream.lastLabel.map { .string($0) } ?? .null,
                    "idle_s": .number(stream.idleSeconds),
                ])
            }
            return .object(["ok": .bool(true), "count": .number(Double(listings.count)), "streams": .array(Array(list))])
        case "reset", "close":
            guard let id = request["stream"]?.stringValue else {
                return Self.failure("\(command) needs a \"stream\" string")
            }
            let known = command == "reset" ? target.resetStream(id) : target.closeStream(id)
            guard known else { return Self.failure("unknown stream '\(id)'") }
            return .object(["ok": .bool(true), "stream": .string(id)])
        case "reload":
            if let model = request["model"], model.stringValue == nil {
                return Self.failure("reload \"model\" must be a string path")
            }
            guard let force = Self.force(request) else { return Self.failure("reload \"force\" must be true or false") }
            if let flag = request["configuration"], flag != .bool(false) {
                guard flag == .bool(true) else { return Self.failure("reload \"configuration\" must be true or false") }
                guard request["model"] == nil else { return Self.failure("reload takes \"model\" or \"configuration\", not both") }
                guard !force else {
                    return Self.failure("reload \"force\" applies to a model from the control socket, not to the configuration's")
                }
                guard target.canReloadConfiguration else {
                    return Self.failure("this daemon has no configuration to re-read (started in-process)")
                }
                return target.reloadConfiguration()
            }
            return target.reload(model: request["model"]?.stringValue, force: force)
        case "label":
            guard let id = request["stream"]?.stringValue, let className = request["class"]?.stringValue else {
                return Self.failure("label needs \"stream\" and \"class\" strings")
            }
            return target.label(stream: id, className: className)
        case "retrain":
            return target.retrain()
        case "job":
            guard let id = request["job"]?.stringValue else { return Self.failure("job needs a \"job\" string") }
            return target.job(id)
        case "models":
            return target.models()
        case "rollback":
            guard let version = request["version"]?.stringValue else { return Self.failure("rollback needs a \"version\" string") }
            guard let force = Self.force(request) else { return Self.failure("rollback \"force\" must be true or false") }
            return target.rollback(to: version, force: force)
        default:
            return Self.failure("unknown command '\(command)' (\(Self.commands.joined(separator: ", ")))")
        }
    }
}

extension ControlHandler {
    /// Who sent a request, for the audit line: the CURVE key the ZAP handler admitted
    /// (`User-Id`), else the peer's address; libzmq gives ipc peers as "localhost:uid:gid:pid"
    /// (SO_PEERCRED).
    static func peer(userID: String?, address: String?) -> String {
        if let userID, !userID.isEmpty { return "key \(userID)" }
        guard let address, !address.isEmpty else { return "unknown" }
        let fields = address.split(separator: ":", omittingEmptySubsequences: false).suffix(3)
        let ipc = address.hasPrefix("localhost:") || address.hasPrefix(":")
        if ipc, fields.count == 3, fields.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) {
            let (uid, gid, pid) = (fields[fields.startIndex], fields[fields.startIndex + 1], fields[fields.startIndex + 2])
            return "uid \(uid) gid \(gid) pid \(pid)"
        }
        return address
    }

    /// Commands that change what lstmd serves or holds: each leaves an audit line.
    static let audited: Set<String> = ["reload", "rollback", "reset", "close", "retrain", "label"]

    /// The audit record of a request that changed (or tried to change) state: its command, the
    /// fields it names, and its result (`ok` or the error); nil for read-only commands. The log
    /// handlers escape every value, so peer bytes never reach the journal raw.
    static func audit(request text: String, reply: JSONValue) -> [String: String]? {
        guard text.utf8.count <= maxRequestBytes, let request = try? JSONValue.parse(text, maxDepth: maxRequestDepth),
            let command = request["command"]?.stringValue, audited.contains(command)
        else { return nil }
        let result =
            reply["pending"] == .bool(true) ? "pending (the load's outcome is logged)"
            : reply["ok"] == .bool(true) ? "ok" : reply["error"]?.stringValue ?? "error"
        var record = ["command": command, "result": result]
        for key in ["stream", "model", "version", "class", "job"] {
            if let value = request[key]?.stringValue { record[key] = String(value.prefix(256)) }
        }
        for key in ["configuration", "force"] where request[key] == .bool(true) { record[key] = "true" }
        if let version = reply["model_version"]?.stringValue { record["model_version"] = version }
        return record
    }
}

extension ServingLoop: ControlTarget {
    /// Answers one request waiting on the control socket. A request that starts a model load
    /// (`reload`, `rollback`) is answered when the load has finished (`finishReload()`).
    func serveControl() {
        guard let control = sockets.control else { return }
        var message = ZMQMessage()
        guard (try? control.receive(into: &message, dontWait: true)) == true else { return }
        let text = String(decoding: message.bytes, as: UTF8.self)
        let peer = ControlHandler.peer(userID: message.property("User-Id"), address: message.property("Peer-Address"))
        var parts = 1
        while message.hasMore, (try? control.receive(into: &message, dontWait: false)) == true { parts += 1 }
        let reply: JSONValue
        if parts != 1 {
            reply = ControlHandler.failure("a request is one message part holding a JSON object")
        } else {
            answeringControl = true
            defer { answeringControl = false }
            reply = ControlHandler().handle(text, target: self)
            if var audit = ControlHandler.audit(request: text, reply: reply) {
                audit["peer"] = peer
                logger.notice("control \(audit["command"] ?? "")", metadata: audit.mapValues { .string($0) })
            }
        }
        if controlReplyDeferred {
            controlReplyDeferred = false
            return
        }
        _ = try? control.send(Array(reply.jsonText.utf8))
    }

    func statusSnapshot() -> StatusSnapshot { snapshot() }

    func streamListings(only id: String?) -> [StreamListing] {
        let slots = id.map { table.slot(of: $0).map { [$0] } ?? [] } ?? table.occupiedSlots
        let now = clock.monotonicNanoseconds()
        let classes = classifier.model.classes
        return slots.map { slot in
            let record = table[slot]
            return StreamListing(
                id: record.id, frames: record.frames, timesteps: classifier.timesteps(slot: slot), labels: record.labels,
                gaps: record.gaps, lastSequence: record.lastSequence,
                lastLabel: record.lastLabel >= 0 && record.lastLabel < classes.count ? classes[record.lastLabel] : nil,
                idleSeconds: Double(now - min(now, record.lastSeen)) / 1e9)
        }
    }

    func resetStream(_ id: String) -> Bool {
        guard let slot = table.slot(of: id) else { return false }
        classifier.reset(slot: slot)
        tap.reset(slot: slot)
        streamStateChanged(slot: slot)
        logger.debug("stream reset (control)", metadata: ["stream": "\(id)"])
        return true
    }

    func closeStream(_ id: String) -> Bool {
        guard let slot = table.slot(of: id) else { return false }
        table.remove(slot: slot)
        classifier.remove(slot: slot)
        tap.remove(slot: slot)
        streamStateChanged(slot: slot)
        logger.debug("stream closed (control)", metadata: ["stream": "\(id)"])
        return true
    }

    var canReloadConfiguration: Bool { state.configurationLoader != nil }
}
