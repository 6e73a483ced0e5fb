import Foundation
import Synchronization
import ZeroMQ

/// The serving loop's sockets, bound at build time so that a start failure (an address in use, a
/// bad endpoint) is reported before anything runs: ingest (PULL), labels (PUB), control (REP)
/// and the wake pipe (an inproc PAIR that `Waker` writes to).
final class ServingSockets {
    let ingest: ZMQSocket
    let publisher: ZMQSocket
    let control: ZMQSocket?
    let wake: ZMQSocket
    /// PAIR sockets carrying the connection events of ingest, publish and control.
    private(set) var monitors: [ZMQSocket] = []
    /// The socket files of the ipc:// endpoints bound, with their (device, inode), removed at
    /// close only while they are still ours.
    private var ipcFiles: [(path: String, device: UInt64, inode: UInt64)] = []

    /// Binds every endpoint of `configuration`. With `curve`, every tcp:// endpoint is a CURVE
    /// server whose clients the ZAP handler checks against its role's allowlist; ipc:// and
    /// inproc:// stay plain (file permissions guard ipc). libzmq copies a socket's options into
    /// each listener as it binds, so plain endpoints are bound first, then CURVE is switched on.
    /// - Throws: `DaemonError`; its `key` names the setting at fault, or is nil when a retry
    ///   may succeed (an address in use, or not yet configured on an interface at boot).
    init(configuration: Configuration, context: ZMQContext, wakeEndpoint: String, curve: CurveAuthenticator? = nil) throws {
        func bind(_ socket: ZMQSocket, _ endpoints: [String], key: String, role: CurveRole) throws {
            let tcp = endpoints.filter { $0.hasPrefix("tcp://") }
            for endpoint in endpoints.filter({ !$0.hasPrefix("tcp://") }) + tcp {
                if let curve, endpoint == tcp.first {
                    try socket.makeCurveServer(secretKey: curve.serverSecretKey, zapDomain: role.rawValue)
                }
                do {
                    try socket.bind(endpoint)
                } catch {
                    throw DaemonError(
                        "cannot bind \(key) endpoint \(endpoint): \(error.message)",
                        key: [EADDRINUSE, EADDRNOTAVAIL, ENODEV].contains(error.code) ? nil : key)
                }
            }
        }
        var monitors: [ZMQSocket] = []
        /// Connection events of `socket` on a PAIR of our own (before it binds: none is missed).
        func monitor(_ socket: ZMQSocket, _ role: String) throws {
            let endpoint = "inproc://lstmd-monitor-\(role)-\(UUID().uuidString)"
            try socket.monitorConnections(on: endpoint)
            let pair = try ZMQSocket(.pair, context: context)
            try pair.set(.linger, to: 0)
            try pair.connect(endpoint)
            monitors.append(pair)
        }
        do {
            ingest = try ZMQSocket(.pull, context: context)
            try monitor(ingest, "ingest")
            let queue = configuration.ingestQueue()
            try ingest.set(.receiveHighWaterMark, to: queue.highWaterMark)
            try ingest.set(.maxMessageSize, to: queue.maxMessageSize)
            try ingest.set(.linger, to: 0)
            try bind(ingest, configuration.ingestEndpoints, key: "ingest", role: .producers)
            publisher = try ZMQSocket(.pub, context: context)
            try monitor(publisher, "publish")
            try publisher.set(.sendHighWaterMark, to: configuration.sendHighWaterMark)
            try publisher.set(.linger, to: 500)
            try bind(publisher, configuration.publishEndpoints, key: "publish", role: .subscribers)
            if configuration.controlEndpoints.isEmpty {
                control = nil
            } else {
                let socket = try ZMQSocket(.rep, context: context)
                try monitor(socket, "control")
                try socket.set(.linger, to: 0)
                try socket.set(.maxMessageSize, to: 1 << 20)
                try bind(socket, configuration.controlEndpoints, key: "control", role: .operators)
                control = socket
            }
            self.monitors = monitors
            wake = try ZMQSocket(.pair, context: context)
            try wake.set(.linger, to: 0)
            try wake.bind(wakeEndpoint)
        } catch let error as DaemonError {
            throw error
        } catch {
            throw DaemonError("cannot set up sockets: \(error)")
        }
        let endpoints = configuration.ingestEndpoints + configuration.publishEndpoints + configuration.controlEndpoints
        for endpoint in endpoints where endpoint.hasPrefix("ipc://") {
            let path = String(endpoint.dropFirst("ipc://".count))
            // "@name" is Linux's abstract namespace (no file); "*" lets libzmq pick a name.
            guard !path.isEmpty, !path.hasPrefix("@"), path != "*" else { continue }
            var info = stat()
            if stat(path, &info) == 0 { ipcFiles.append((path, UInt64(info.st_dev), UInt64(info.st_ino))) }
            // Under systemd, control sockets in the runtime directory are the group's (root and the
            // group lstmd-control); the directory's mode decides who reaches them
            // (RuntimeDirectoryMode=0750). Elsewhere the umask decides, as before.
            let runtime = (ProcessInfo.processInfo.environment["RUNTIME_DIRECTORY"] ?? "").split(separator: ":")
            if configuration.controlEndpoints.contains(endpoint), runtime.contains(where: { path.hasPrefix($0 + "/") }) {
                chmod(path, 0o660)
            }
        }
    }

    /// Endpoints actually bound (ephemeral tcp ports resolved), by role.
    var boundEndpoints: [String: String] {
        var endpoints: [String: String] = [:]
        endpoints["ingest"] = (try? ingest.lastEndpoint) ?? nil
        endpoints["publish"] = (try? publisher.lastEndpoint) ?? nil
        if let control { endpoints["control"] = (try? control.lastEndpoint) ?? nil }
        return endpoints
    }

    /// Closes every socket (the label socket keeps its linger for the context's termination) and
    /// removes the socket files of the ipc:// endpoints bound (libzmq leaves them behind).
    func close() {
        for monitor in monitors { monitor.close() }
        ingest.close()
        control?.close()
        wake.close()
        publisher.close()
        for file in ipcFiles {
            // Another process may have bound the same path since (libzmq replaces the file).
            var info = stat()
            if stat(file.path, &info) == 0, UInt64(info.st_dev) == file.device, UInt64(info.st_ino) == file.inode {
                unlink(file.path)
            }
        }
    }
}

/// The write end of the serving loop's wake pipe (czmq's actor pattern): other threads tell the
/// loop to stop, reload or stall with a one-part message on an inproc PAIR socket the loop polls
/// with its others, so each takes effect at once.
final class Waker: Sendable {
    /// What a wake message asks.
    enum Command: UInt8 {
        case stop = 1
        case reload = 2
        /// Debug: block the loop (no progress, so the watchdog stops pinging) until `stop`.
        case stall = 3
        /// A promoted model waits in `Retrainer.takeSwaps()`.
        case swap = 4
        /// A model load finished on the loader thread: its outcome waits in `ServingLoop.loader` (`LoopTask.take()`).
        case loaded = 5
        /// The new model's stream states are rebuilt: the classifier waits in `SwapPrimer.take()`.
        case primed = 6
    }

    /// A PAIR socket is not thread-safe: every send holds the lock.
    private let socket: Mutex<ZMQSocket?>

    /// Connects to the loop's end, bound at `endpoint` in `context`.
    init(context: ZMQContext, endpoint: String) throws {
        let socket = try ZMQSocket(.pair, context: context)
        try socket.set(.linger, to: 0)
        try socket.connect(endpoint)
        self.socket = Mutex(socket)
    }

    /// Sends `command`; after `close()` it is a no-op.
    func send(_ command: Command) {
        socket.withLock { socket in
            _ = try? socket?.send(CollectionOfOne(command.rawValue), dontWait: true)
        }
    }

    /// Closes the socket (before the context terminates).
    func close() {
        socket.withLock { socket in
            socket?.close()
            socket = nil
        }
    }
}
