import Foundation
import LSTMKit

/// Everything `lstmd` can be told. Defaults never bind beyond loopback.
public struct Configuration: Sendable, Equatable {
    /// Model file; nil means the bundled default model.
    public var modelPath: String?
    /// PULL endpoints frames arrive on.
    public var ingestEndpoints: [String] = ["tcp://127.0.0.1:5555"]
    /// PUB endpoints labels leave from (topic = stream id).
    public var publishEndpoints: [String] = ["tcp://127.0.0.1:5556"]
    /// REP endpoints for control requests (JSON).
    public var controlEndpoints: [String] = ["tcp://127.0.0.1:5557"]
    /// Streaming mode; nil means the model's.
    public var mode: StreamingMode?
    /// Timesteps between labels; nil means the model's hop.
    public var hop: Int?
    /// Most concurrent streams; frames of new streams beyond it are dropped (`stream_limit`).
    public var maxStreams = 10_000
    /// Streams idle this long are evicted, seconds.
    public var idleTimeout: Double = 60
    /// Most timesteps one frame may carry.
    public var maxTimestepsPerFrame = 4096
    /// Largest frame payload accepted, bytes; larger ones are dropped (`oversize`). ZeroMQ's
    /// ZMQ_MAXMSGSIZE is set to 4× this (plus headroom), so a peer sending more than that is
    /// disconnected by libzmq before the bytes are buffered.
    public var maxMessageBytes = 1 << 20
    /// ZMQ_RCVHWM of the ingest socket, messages: how many frames may queue while busy.
    public var receiveHighWaterMark = 100_000
    /// ZMQ_SNDHWM of the label socket, messages: a subscriber slower than this loses labels
    /// (PUB never blocks the daemon).
    public var sendHighWaterMark = 100_000
    /// Log level name (trace, debug, info, notice, warning, error, critical).
    public var logLevel = "info"
    /// Where logs go: `auto` (the journal when stderr is connected to it, else stderr),
    /// `journal` or `stderr`.
    public var logDestination = "auto"
    /// `host:port` of the Prometheus HTTP endpoint (`GET /metrics`, `GET /healthz`); nil turns it
    /// off. Port 0 picks a free port.
    public var metricsAddress: String?
    /// Directory for persistent state (systemd's `STATE_DIRECTORY`); nil when there is none.
    public var stateDirectory: String?
    /// Seconds between watchdog-progress and housekeeping passes of the serving loop.
    public var housekeepingInterval: Double = 0.25
    /// At stop, seconds spent classifying frames already queued before giving up on the rest
    /// (keep below systemd's TimeoutStopSec).
    public var stopDrainTimeout: Double = 5

    /// The defaults.
    public init() {}

    /// Checks ranges and names.
    /// - Throws: `ConfigurationError` naming the key.
    public func validate() throws {
        func check(_ condition: Bool, _ key: String, _ message: String) throws {
            if !condition { throw ConfigurationError(key: key, message: message) }
        }
        try check(!ingestEndpoints.isEmpty, "ingest", "at least one ingest endpoint is needed")
        try check(!publishEndpoints.isEmpty, "publish", "at least one publish endpoint is needed")
        for (key, list) in [("ingest", ingestEndpoints), ("publish", publishEndpoints), ("control", controlEndpoints)] {
            for endpoint in list {
                try check(
                    ["tcp://", "ipc://", "inproc://"].contains { endpoint.hasPrefix($0) }, key,
                    "endpoint '\(endpoint)' must start with tcp://, ipc:// or inproc://")
            }
        }
        if let hop { try check(hop >= 1, "hop", "must be at least 1, got \(hop)") }
        try check((1...10_000_000).contains(maxStreams), "max_streams", "must be in 1...10000000, got \(maxStreams)")
        try check(idleTimeout > 0 && idleTimeout <= 1e6, "idle_timeout", "must be in (0, 1000000] seconds, got \(idleTimeout)")
        try check(
            housekeepingInterval >= 0.01 && housekeepingInterval <= 10, "housekeeping_interval",
            "must be in [0.01, 10] seconds, got \(housekeepingInterval)")
        try check(stopDrainTimeout >= 0 && stopDrainTimeout <= 600, "stop_drain_timeout", "must be in [0, 600] seconds, got \(stopDrainTimeout)")
        try check((1...1_000_000).contains(maxTimestepsPerFrame), "max_timesteps_per_frame", "must be in 1...1000000, got \(maxTimestepsPerFrame)")
        try check((64...(1 << 30)).contains(maxMessageBytes), "max_message_bytes", "must be in 64...1073741824, got \(maxMessageBytes)")
        try check(receiveHighWaterMark >= 0, "receive_hwm", "must not be negative")
        try check(sendHighWaterMark >= 0, "send_hwm", "must not be negative")
        try check(
            ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(logLevel), "log_level",
            "must be one of trace, debug, info, notice, warning, error, critical; got '\(logLevel)'")
        try check(
            ["auto", "journal", "stderr"].contains(logDestination), "log_destination",
            "must be auto, journal or stderr; got '\(logDestination)'")
        if let metricsAddress {
            try check(
                Self.hostAndPort(metricsAddress) != nil, "metrics",
                "must be host:port (an IPv4 address, [IPv6] or localhost, port 0...65535), got '\(metricsAddress)'")
        }
        if let stateDirectory {
            try check(stateDirectory.hasPrefix("/"), "state_directory", "must be an absolute path, got '\(stateDirectory)'")
        }
    }

    /// Splits `host:port` (`127.0.0.1:9464`, `[::1]:9464`, `localhost:9464`) into its parts.
    /// - Returns: the host (without brackets) and the port, or nil when `text` is not of that form.
    public static func hostAndPort(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
            guard host.contains(":"), host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
            return (host, port)
        }
        if host == "localhost" { return (host, port) }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ $0.count <= 3 && UInt8($0) != nil }) else { return nil }
        return (host, port)
    }
}

/// A configuration value that cannot be used.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    /// The configuration key at fault.
    public var key: String
    /// What is wrong with it.
    public var message: String
    /// Where the value came from (`/etc/lstmd/lstmd.conf:12`, `environment variable LSTMD_HOP`,
    /// `--hop`), when known.
    public var source: String?

    public init(key: String, message: String, source: String? = nil) {
        self.key = key
        self.message = message
        self.source = source
    }

    public var description: String {
        if let source { return "\(source): \(key): \(message)" }
        return "\(key): \(message)"
    }
}
