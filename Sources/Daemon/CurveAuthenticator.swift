import Synchronization
import ZeroMQ

/// CURVE authorisation: the server's key pair, the allowlists per role, and the refusals counted
/// per role and per client key. The ZAP handler's thread asks it about each handshake
/// (`authenticate(_:)`); the serving loop replaces the allowlists at a reload and reads the
/// counts for the status. Thread-safe (the mutable state is behind a `Mutex`).
final class CurveAuthenticator: Sendable {
    /// The ZAP endpoint libzmq asks, in the context of the CURVE sockets (RFC 27).
    static let zapEndpoint = "inproc://zeromq.zap.01"
    /// Distinct refused keys counted one by one; refusals of further keys go to `other`.
    static let trackedKeys = 1000

    /// The CURVE directory (`curve_directory`) as at start.
    let directory: String
    /// The server's secret key, Z85.
    let serverSecretKey: String
    private let state: Mutex<State>

    private struct State {
        var allowlists: CurveAllowlists
        var refusedByRole: [CurveRole: Int] = [:]
        var refusedByKey: [String: Int] = [:]
    }

    /// Reads `server.key_secret` and the allowlists of `directory`.
    /// - Throws: `DaemonError` with key `curve_directory` naming the file at fault.
    init(directory: String) throws {
        guard ZMQCurve.isAvailable else {
            throw DaemonError("this libzmq has no CURVE support (zmq_has(\"curve\") is false)", key: "curve_directory")
        }
        let path = directory + "/" + CurveAllowlists.serverCertificateFile
        do {
            let certificate = try ZMQCurveCertificate(contentsOfFile: path, requiringSecret: true)
            serverSecretKey = certificate.secretKey!
        } catch {
            throw DaemonError("\(error) (make one with: lstmctl keygen --out \(directory)/server)", key: "curve_directory")
        }
        do {
            state = Mutex(State(allowlists: try CurveAllowlists.load(directory: directory)))
        } catch {
            throw DaemonError("\(error)", key: "curve_directory")
        }
        self.directory = directory
    }

    /// The allowlists in force.
    var allowlists: CurveAllowlists { state.withLock { $0.allowlists } }

    /// Re-reads the allowlists (SIGHUP, `reload configuration:true`); a bad file changes nothing.
    /// - Returns: the new allowlists.
    /// - Throws: `CurveAllowlists.Problem` saying why they were refused.
    @discardableResult
    func reload() throws -> CurveAllowlists {
        let fresh = try CurveAllowlists.load(directory: directory)
        state.withLock { $0.allowlists = fresh }
        return fresh
    }

    /// Answers one ZAP request, counting a refusal.
    /// - Parameter request: the request's parts.
    /// - Returns: the reply's parts.
    func authenticate(_ request: [[UInt8]]) -> [[UInt8]] {
        state.withLock { state in
            let decision = Self.decide(request, allowlists: state.allowlists)
            if let refused = decision.refused {
                state.refusedByRole[refused.role, default: 0] += 1
                let key = state.refusedByKey[refused.key] != nil || state.refusedByKey.count < Self.trackedKeys ? refused.key : "other"
                state.refusedByKey[key, default: 0] += 1
            }
            return decision.reply
        }
    }

    /// What one ZAP request gets: the reply, and who was refused (nil when admitted or when the
    /// request names no role of ours).
    struct Decision {
        var reply: [[UInt8]]
        var refused: (role: CurveRole, key: String)?
    }

    /// The ZAP decision (RFC 27): a request is `1.0`, request id, domain, address, routing id,
    /// mechanism, credentials. A `CURVE` request whose domain is a role and whose 32-byte client
    /// key is in that role's allowlist gets `200` with the key's Z85 as user id (frames then carry
    /// it as the `User-Id` property); anything else gets `400` (or `500` for a malformed
    /// request).
    static func decide(_ request: [[UInt8]], allowlists: CurveAllowlists) -> Decision {
        let requestID = request.count > 1 ? request[1] : []
        func reply(_ code: String, _ text: String, user: String = "") -> [[UInt8]] {
            [Array("1.0".utf8), requestID, Array(code.utf8), Array(text.utf8), Array(user.utf8), []]
        }
        guard request.count >= 6, request[0] == Array("1.0".utf8) else {
            return Decision(reply: reply("500", "malformed ZAP request"))
        }
        let domain = String(decoding: request[2], as: UTF8.self)
        let mechanism = String(decoding: request[5], as: UTF8.self)
        guard let role = CurveRole(rawValue: domain) else { return Decision(reply: reply("400", "unknown domain")) }
        guard mechanism == "CURVE", request.count >= 7, request[6].count == 32, let key = ZMQCurve.encode(request[6]) else {
            return Decision(reply: reply("400", "CURVE required"), refused: (role, "mechanism \(mechanism.prefix(20))"))
        }
        guard allowlists.admits(key, as: role) else {
            return Decision(reply: reply("400", "unknown key"), refused: (role, key))
        }
        return Decision(reply: reply("200", "OK", user: key))
    }

    /// The counts for the status.
    func security(insecureTCP: Bool) -> StatusSnapshot.Security {
        state.withLock { state in
            StatusSnapshot.Security(
                curve: true, insecureTCP: insecureTCP,
                refusedByRole: Dictionary(uniqueKeysWithValues: state.refusedByRole.map { ($0.key.rawValue, $0.value) }),
                refusedByKey: state.refusedByKey)
        }
    }
}

/// The ZAP handler: a REP socket on `inproc://zeromq.zap.01` in the daemon's context, bound
/// before any CURVE socket (else libzmq admits every client with a valid handshake), served on a
/// thread of its own so that handshakes never wait for the serving loop. Stops through its wake
/// pipe (`Waker`).
final class ZAPHandler {
    let authenticator: CurveAuthenticator
    let waker: Waker
    private let socket: ZMQSocket
    private let wake: ZMQSocket

    /// Binds the ZAP endpoint and the wake pipe in `context`.
    init(authenticator: CurveAuthenticator, context: ZMQContext) throws {
        self.authenticator = authenticator
        do {
            socket = try ZMQSocket(.rep, context: context)
            try socket.set(.linger, to: 0)
            try socket.bind(CurveAuthenticator.zapEndpoint)
            wake = try ZMQSocket(.pair, context: context)
            try wake.set(.linger, to: 0)
            let endpoint = try wake.bind("inproc://lstmd-zap-wake-\(UInt64.random(in: 0 ... .max))")
            waker = try Waker(context: context, endpoint: endpoint)
        } catch {
            throw DaemonError("cannot set up the ZAP handler: \(error)")
        }
    }

    /// Closes the sockets of a handler that never served (a failed build).
    func close() {
        waker.close()
        socket.close()
        wake.close()
    }

    /// Answers requests until the wake pipe says stop or the context ends (the serving loop has
    /// stopped by then: services stop in reverse order); then closes its sockets.
    func serve() {
        defer {
            socket.close()
            wake.close()
        }
        let poller = ZMQPoller()
        let zap = poller.register(socket)
        let stop = poller.register(wake)
        while true {
            do {
                _ = try poller.poll(timeout: -1)
                if poller.isReadable(stop) { return }
                guard poller.isReadable(zap), let request = try socket.receiveMultipart(maxParts: 8, dontWait: true) else { continue }
                try socket.send(parts: authenticator.authenticate(request.parts))
            } catch {
                // Only the context's end stops it: without a handler libzmq would admit every
                // client that completes a CURVE handshake.
                if error.isTerminated { return }
            }
        }
    }
}
