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
    /// With CURVE: most streams one client key may hold; frames of its new streams beyond it
    /// are dropped (`key_quota`). 0: no per-key quota.
    public var maxStreamsPerKey = 0
    /// Streams idle this long are evicted, seconds.
    public var idleTimeout: Double = 60
    /// A frame this many sequence numbers or fewer behind its stream's last is reordered
    /// (dropped as `out_of_order`); further back, or sequence 0, is a producer restart.
    public var reorderWindow = 1000
    /// Most peer connections open at once (all sockets); 0: three quarters of the descriptor limit.
    public var maxConnections = 0
    /// Most timesteps one frame may carry.
    public var maxTimestepsPerFrame = 4096
    /// Largest frame payload accepted, bytes; larger ones are dropped (`oversize`). ZeroMQ's
    /// ZMQ_MAXMSGSIZE is set to 1.25× this (plus 4 KiB), so a peer sending more than that is
    /// disconnected by libzmq before the bytes are buffered.
    public var maxMessageBytes = 1 << 20
    /// Bytes the ingest queue may hold per producer connection (`ingest_memory_limit`): the
    /// receive HWM is derived from it for the largest frame (`ingestQueue(channels:)`).
    public var ingestMemoryLimit = 256 << 20
    /// ZMQ_RCVHWM of the ingest socket, messages, when set explicitly; nil: derived from
    /// `ingestMemoryLimit`.
    public var receiveHighWaterMark: Int?
    /// ZMQ_SNDHWM of the label socket, messages: a subscriber slower than this loses labels
    /// (PUB never blocks the daemon).
    public var sendHighWaterMark = 10_000
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
    /// Directories a control-socket `reload` may load a model from (absolute paths); nil means
    /// the default, `modelDirectories`. The configured `model` itself is not confined.
    public var modelDirectoryList: [String]?
    /// Largest model file read, bytes (every load: start, reload, rollback, swap); a larger file
    /// is refused before any byte is read.
    public var maxModelBytes = 256 << 20
    /// Directory holding `server.key_secret` and the allowlists `producers`, `subscribers`,
    /// `operators`; nil turns CURVE off. With it, every tcp:// endpoint is a CURVE server.
    public var curveDirectory: String?
    /// Allow plain TCP (no CURVE) on endpoints beyond loopback.
    public var insecureTCP = false
    /// Seconds between watchdog-progress and housekeeping passes of the serving loop (not a
    /// configuration key: lstmd derives it from the watchdog interval).
    public var housekeepingInterval: Double = 0.25
    /// At stop, seconds spent classifying frames already queued before giving up on the rest
    /// (keep below systemd's TimeoutStopSec).
    public var stopDrainTimeout: Double = 5

    // Retraining (see `Configuration+Retraining.swift` for the types).
    /// Timesteps between labelled windows cut from a labelled stream; nil means the model's hop.
    public var labelStride: Int?
    /// When appended buffer records are fsynced (and so become durable).
    public var bufferFsync: BufferFsync = .interval(0.1)
    /// Largest size of the labelled buffer on disk, bytes; beyond it records are evicted
    /// keeping every class represented.
    public var bufferMaxBytes = 256 << 20
    /// Seconds between automatic retraining jobs; 0 turns them off.
    public var retrainInterval: Double = 0
    /// New labelled windows needed since the last job before an automatic job starts.
    public var retrainMinNew = 100
    /// Threads of a retraining job.
    public var retrainThreads = 1
    /// Seconds after which a retraining job is killed.
    public var retrainTimeout: Double = 3600
    /// A training data file mixed into every retraining job; nil for none.
    public var retrainBaseData: String?
    /// A recipe file for retraining; nil means the recipe in the current model's provenance,
    /// else the built-in default.
    public var retrainRecipe: String?
    /// Whether a job starts from the current weights and scaler or from scratch.
    public var retrainStart: RetrainStart = .warm
    /// Seconds of a stream that fall into one validation-split unit.
    public var retrainSplitBlock: Double = 60
    /// Fraction of split units that validate, in (0, 1).
    public var retrainValidationFraction = 0.2
    /// Macro-F1 a candidate must gain over the current model to be promoted.
    public var retrainPromoteMargin = 0.01
    /// Largest drop of any class's recall a promoted candidate may show, in [0, 1].
    public var retrainMaxRecallDrop = 0.05
    /// Validation windows every class needs before a candidate may be promoted.
    public var retrainMinValidationPerClass = 10
    /// Models kept in the store (the current and previous are never pruned); at least 2.
    public var modelsKeep = 10
    /// How a stream's state continues across a model swap.
    public var swapContinuity: SwapContinuity = .replay

    /// The defaults.
    public init() {}

    /// The directories a control-socket `reload --model` may name: `model_directory`, else
    /// `STATE_DIRECTORY/models` (the model store) when there is a state directory, and
    /// `/etc/lstmd/models`.
    public var modelDirectories: [String] {
        if let modelDirectoryList { return modelDirectoryList }
        return (stateDirectory.map { [URL(fileURLWithPath: $0).appendingPathComponent("models").path] } ?? []) + ["/etc/lstmd/models"]
    }

    /// Checks ranges and names: every key's rule in ``keys``, then the settings that are not
    /// keys.
    /// - Throws: `ConfigurationError` naming the key.
    public func validate() throws {
        if let (key, message) = Self.table.problems(in: self).first {
            throw ConfigurationError(key: key, message: message)
        }
        guard housekeepingInterval >= 0.01 && housekeepingInterval <= 10 else {
            throw ConfigurationError(
                key: "housekeeping_interval", message: "must be in [0.01, 10] seconds, got \(housekeepingInterval)")
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

extension Configuration {
    /// The ingest queue's bounds: the largest message part libzmq accepts (`ZMQ_MAXMSGSIZE`:
    /// `max_message_bytes` with headroom, so somewhat larger payloads are still counted as
    /// `oversize` rather than disconnected, whatever model a reload brings), and how many such
    /// parts may queue per producer connection (`ZMQ_RCVHWM`) within `ingestMemoryLimit`. The
    /// bound holds for any bytes a peer sends, not only for valid frames.
    public func ingestQueue() -> (maxMessageSize: Int, highWaterMark: Int) {
        let maxMessageSize = maxMessageBytes + maxMessageBytes / 4 + 4096
        let derived = max(16, ingestMemoryLimit / (maxMessageSize + 512))
        return (maxMessageSize, receiveHighWaterMark ?? derived)
    }
}
