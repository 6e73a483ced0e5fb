import Foundation
import LSTMKit

/// What the daemon is doing, as one typed value: the control `status` reply, systemd's STATUS=
/// line and the Prometheus series are all rendered from it where they leave the process.
public struct StatusSnapshot: Sendable, Equatable {
    /// The model serving.
    public struct Model: Sendable, Equatable {
        public var path: String
        public var version: String
        public var digest: String
        public var classes: [String]
        public var window: Int
        public var hop: Int
        public var mode: String
        public var channels: Int

        public init(
            path: String, version: String, digest: String, classes: [String], window: Int, hop: Int, mode: String,
            channels: Int
        ) {
            (self.path, self.version, self.digest, self.classes) = (path, version, digest, classes)
            (self.window, self.hop, self.mode, self.channels) = (window, hop, mode, channels)
        }
    }

    /// The stream table.
    public struct Streams: Sendable, Equatable {
        public var active = 0
        public var max = 0
        public var evicted = 0
        public var rejected = 0
        /// Bytes held by the streams' model state.
        public var bytes = 0

        public init(active: Int = 0, max: Int = 0, evicted: Int = 0, rejected: Int = 0, bytes: Int = 0) {
            (self.active, self.max, self.evicted, self.rejected, self.bytes) = (active, max, evicted, rejected, bytes)
        }
    }

    /// Monotonic counts since start.
    public struct Counts: Sendable, Equatable {
        public var frames = 0
        public var timesteps = 0
        public var labels = 0
        public var labelledFrames = 0
        public var gaps = 0
        /// Producer restarts (`StreamTable.Admission.restart`).
        public var sequenceRestarts = 0
        public var reloads = 0
        /// Training-sample frames stored in the retraining buffer, and refused.
        public var trainingSamples = 0
        public var trainingSamplesRefused = 0
        /// Frames dropped, by reason (`DropReason.allCases` order).
        public var drops = [Int](repeating: 0, count: DropReason.allCases.count)

        public init(
            frames: Int = 0, timesteps: Int = 0, labels: Int = 0, labelledFrames: Int = 0, gaps: Int = 0, reloads: Int = 0
        ) {
            (self.frames, self.timesteps, self.labels, self.labelledFrames) = (frames, timesteps, labels, labelledFrames)
            (self.gaps, self.reloads) = (gaps, reloads)
        }

        public var dropped: Int { drops.reduce(0, +) }

        public func drops(_ reason: DropReason) -> Int { drops[DropReason.allCases.firstIndex(of: reason)!] }

        mutating func drop(_ reason: DropReason) { drops[DropReason.allCases.firstIndex(of: reason)!] += 1 }
    }

    /// Per-second rates over the last half second or more.
    public struct Rates: Sendable, Equatable {
        public var framesPerSecond = 0.0
        public var timestepsPerSecond = 0.0
        public var labelsPerSecond = 0.0

        public init(framesPerSecond: Double = 0, timestepsPerSecond: Double = 0, labelsPerSecond: Double = 0) {
            (self.framesPerSecond, self.timestepsPerSecond, self.labelsPerSecond) = (framesPerSecond, timestepsPerSecond, labelsPerSecond)
        }
    }

    /// The retraining buffer and jobs (nil: retraining is off, no state directory).
    public struct Retraining: Sendable, Equatable {
        public var records = 0
        public var durableRecords = 0
        public var bytes = 0
        public var classes: [String: Int] = [:]
        public var evicted = 0
        public var refused = 0
        public var windows = 0
        public var corrections = 0
        public var newSinceLastJob = 0
        public var jobs = 0
        public var promoted = 0
        public var rejected = 0
        public var failed = 0
        public var running: String?

        public init() {}
    }

    /// Peers' connections (`ConnectionGuard`).
    public struct Connections: Sendable, Equatable {
        public var open = 0
        public var max = 0
        public var refused = 0
        public var acceptFailures = 0
        public var descriptorLimit = 0

        public init() {}
    }

    /// Transport security: CURVE on or off, plain TCP beyond loopback allowed, and the CURVE
    /// handshakes the ZAP handler refused, by role and by client key (Z85; at most
    /// `CurveAuthenticator.trackedKeys` keys, the rest under `other`).
    public struct Security: Sendable, Equatable {
        public var curve = false
        public var insecureTCP = false
        public var refusedByRole: [String: Int] = [:]
        public var refusedByKey: [String: Int] = [:]

        public init(curve: Bool = false, insecureTCP: Bool = false, refusedByRole: [String: Int] = [:], refusedByKey: [String: Int] = [:]) {
            (self.curve, self.insecureTCP, self.refusedByRole, self.refusedByKey) = (curve, insecureTCP, refusedByRole, refusedByKey)
        }

        /// Handshakes refused, all roles.
        public var refused: Int { refusedByRole.values.reduce(0, +) }
    }

    public var uptimeSeconds: Double
    public var connections = Connections()
    public var model: Model
    public var security = Security()
    public var retraining: Retraining?
    public var streams: Streams
    public var counts: Counts
    public var rates: Rates

    public init(uptimeSeconds: Double, model: Model, streams: Streams, counts: Counts, rates: Rates, retraining: Retraining? = nil) {
        (self.uptimeSeconds, self.model, self.streams, self.counts, self.rates) = (uptimeSeconds, model, streams, counts, rates)
        self.retraining = retraining
    }

    /// The control `status` reply (the keys are a contract: README, `lstmctl status`).
    public var json: JSONValue {
        var drops: [String: JSONValue] = [:]
        for (index, reason) in DropReason.allCases.enumerated() { drops[reason.rawValue] = .number(Double(counts.drops[index])) }
        return .object([
            "ok": .bool(true),
            "uptime_s": .number(uptimeSeconds),
            "model": .object([
                "path": .string(model.path),
                "version": .string(model.version),
                "digest": .string(model.digest),
                "classes": .array(model.classes.map { .string($0) }),
                "window": .number(Double(model.window)),
                "hop": .number(Double(model.hop)),
                "mode": .string(model.mode),
                "channels": .number(Double(model.channels)),
            ]),
            "connections": .object([
                "open": .number(Double(connections.open)),
                "max": .number(Double(connections.max)),
                "refused": .number(Double(connections.refused)),
                "accept_failures": .number(Double(connections.acceptFailures)),
                "descriptor_limit": .number(Double(connections.descriptorLimit)),
            ]),
            "streams": .object([
                "active": .number(Double(streams.active)),
                "max": .number(Double(streams.max)),
                "evicted": .number(Double(streams.evicted)),
                "rejected": .number(Double(streams.rejected)),
                "bytes": .number(Double(streams.bytes)),
            ]),
            "counters": .object([
                "frames": .number(Double(counts.frames)),
                "timesteps": .number(Double(counts.timesteps)),
                "labels": .number(Double(counts.labels)),
                "labelled_frames": .number(Double(counts.labelledFrames)),
                "gaps": .number(Double(counts.gaps)),
                "sequence_restarts": .number(Double(counts.sequenceRestarts)),
                "reloads": .number(Double(counts.reloads)),
                "dropped": .number(Double(counts.dropped)),
                "training_samples": .number(Double(counts.trainingSamples)),
                "training_samples_refused": .number(Double(counts.trainingSamplesRefused)),
            ]),
            "buffer": retraining.map { r in
                .object([
                    "records": .number(Double(r.records)), "durable_records": .number(Double(r.durableRecords)),
                    "bytes": .number(Double(r.bytes)), "classes": .object(r.classes.mapValues { .number(Double($0)) }),
                    "evicted": .number(Double(r.evicted)), "refused": .number(Double(r.refused)),
                    "windows": .number(Double(r.windows)), "corrections": .number(Double(r.corrections)),
                ])
            } ?? .object(["enabled": .bool(false)]),
            "retrain": retraining.map { r in
                .object([
                    "jobs": .number(Double(r.jobs)), "promoted": .number(Double(r.promoted)),
                    "rejected": .number(Double(r.rejected)), "failed": .number(Double(r.failed)),
                    "running": r.running.map { .string($0) } ?? .null, "new_since_last_job": .number(Double(r.newSinceLastJob)),
                ])
            } ?? .object(["enabled": .bool(false)]),
            "drops": .object(drops),
            "security": .object([
                "curve": .bool(security.curve), "insecure_tcp": .bool(security.insecureTCP),
                "refused": .number(Double(security.refused)),
                "refused_by_role": .object(security.refusedByRole.mapValues { .number(Double($0)) }),
                "refused_by_key": .object(security.refusedByKey.mapValues { .number(Double($0)) }),
            ]),
            "rates": .object([
                "frames_per_s": .number(rates.framesPerSecond),
                "timesteps_per_s": .number(rates.timestepsPerSecond),
                "labels_per_s": .number(rates.labelsPerSecond),
            ]),
        ])
    }

    /// systemd's STATUS= line, e.g. `model 3f2a…, 12 streams, 840 frames/s`.
    public var statusLine: String {
        "model \(model.version), \(streams.active) streams, \(String(format: "%.0f", rates.framesPerSecond)) frames/s"
    }
}

/// Keeps `StatusSnapshot.Rates` current from the counts, refreshed by housekeeping.
struct RateMeter {
    private(set) var rates = StatusSnapshot.Rates()
    private var last: (time: UInt64, frames: Int, timesteps: Int, labels: Int)?

    /// Takes a reading at `now` (ns); rates move once at least half a second has passed.
    mutating func update(now: UInt64, counts: StatusSnapshot.Counts) {
        if let last, now > last.time + 500_000_000 {
            let seconds = Double(now - last.time) / 1e9
            rates.framesPerSecond = Double(counts.frames - last.frames) / seconds
            rates.timestepsPerSecond = Double(counts.timesteps - last.timesteps) / seconds
            rates.labelsPerSecond = Double(counts.labels - last.labels) / seconds
        } else if last != nil {
            return
        }
        last = (now, counts.frames, counts.timesteps, counts.labels)
    }
}
