import CoreMetrics
import Foundation
import LSTMKit
import Prometheus
import Synchronization

/// The daemon's Prometheus metrics: swift-metrics instruments made by a `PrometheusMetricsFactory`
/// over a registry of its own (nothing process-global, so several can coexist in tests).
///
/// The serving loop moves the hot-path counters through ``ServingMetrics``; the rest is copied
/// from the daemon's `StatusSnapshot` by ``update(_:)`` just before each scrape. Series (all prefixed
/// `lstmd_`):
///
/// | name | type | meaning |
/// |---|---|---|
/// | `frames_total` | counter | frames accepted |
/// | `timesteps_total` | counter | timesteps classified |
/// | `labels_total` | counter | labels published |
/// | `dropped_frames_total{reason}` | counter | frames dropped, one series per `DropReason` |
/// | `frame_processing_seconds` | histogram | frame receipt to classification done |
/// | `frame_to_label_seconds` | histogram | the frame's `timestamp_ns` (sender clock) to label publication |
/// | `active_streams` | gauge | streams with state |
/// | `evicted_streams_total` | counter | streams evicted after `idle_timeout` |
/// | `rejected_streams_total` | counter | frames of new streams refused at `max_streams` |
/// | `labelled_frames_total` | counter | frames carrying a class label |
/// | `sequence_gaps_total` | counter | sequence gaps (each reset a stream) |
/// | `model_reloads_total` | counter | successful model reloads |
/// | `model_info{version}` | gauge | 1 for the model version serving |
/// | `retrain_runs_total`, `retrain_failures_total` | counter | retraining jobs started, and failed (crash, kill, timeout) |
/// | `retrain_promotions_total`, `retrain_rejections_total` | counter | jobs whose candidate the gate promoted, rejected |
/// | `buffer_records{class}` | gauge | records in the retraining buffer, by class |
/// | `buffer_bytes` | gauge | bytes of the retraining buffer's segment files |
/// | `buffer_evicted_total` | counter | records evicted from the full buffer |
/// | `auth_refused_total{role}` | counter | CURVE handshakes the ZAP handler refused, by role (producers, subscribers, operators) |
/// | `uptime_seconds` | gauge | seconds since the serving loop started |
public final class MetricsRecorder: ServingMetrics {
    /// Buckets of `lstmd_frame_processing_seconds`: 1 µs to 1 s.
    public static let latencyBuckets: [Duration] = [
        .microseconds(1), .microseconds(2), .microseconds(5), .microseconds(10), .microseconds(25),
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
        .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(100),
        .milliseconds(250), .seconds(1),
    ]

    /// The registry the series live in; ``exposition()`` renders it.
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let frames: CoreMetrics.Counter
    private let timesteps: CoreMetrics.Counter
    private let labels: CoreMetrics.Counter
    private let drops: [CoreMetrics.Counter]
    private let latency: CoreMetrics.Timer
    private let frameToLabel: CoreMetrics.Timer
    private let activeStreams: CoreMetrics.Gauge
    private let openConnections: CoreMetrics.Gauge
    private let uptime: CoreMetrics.Gauge
    private let fromStatus: [(value: @Sendable (StatusSnapshot) -> Int, counter: CoreMetrics.Counter)]
    private let bufferBytes: CoreMetrics.Gauge
    /// `lstmd_buffer_records{class}`, by class, made as classes appear.
    private let bufferRecords = Mutex<[String: CoreMetrics.Gauge]>([:])
    /// What `update(_:)` saw last: counter values and the model-version gauge.
    private let last = Mutex<(values: [Double], version: String?, model: CoreMetrics.Gauge?)>(([], nil, nil))

    /// Creates every series (at zero) in a new registry.
    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["lstmd_frame_processing_seconds"] = Self.latencyBuckets
        factory.durationHistogramBuckets["lstmd_frame_to_label_seconds"] = Self.latencyBuckets
        self.factory = factory
        frames = CoreMetrics.Counter(label: "lstmd_frames_total", factory: factory)
        timesteps = CoreMetrics.Counter(label: "lstmd_timesteps_total", factory: factory)
        labels = CoreMetrics.Counter(label: "lstmd_labels_total", factory: factory)
        drops = DropReason.allCases.map {
            CoreMetrics.Counter(label: "lstmd_dropped_frames_total", dimensions: [("reason", $0.rawValue)], factory: factory)
        }
        latency = CoreMetrics.Timer(label: "lstmd_frame_processing_seconds", factory: factory)
        frameToLabel = CoreMetrics.Timer(label: "lstmd_frame_to_label_seconds", factory: factory)
        activeStreams = CoreMetrics.Gauge(label: "lstmd_active_streams", factory: factory)
        openConnections = CoreMetrics.Gauge(label: "lstmd_connections_open", factory: factory)
        uptime = CoreMetrics.Gauge(label: "lstmd_uptime_seconds", factory: factory)
        var fromStatus: [(value: @Sendable (StatusSnapshot) -> Int, counter: CoreMetrics.Counter)] = [
            ({ @Sendable in $0.streams.evicted }, CoreMetrics.Counter(label: "lstmd_evicted_streams_total", factory: factory)),
            ({ @Sendable in $0.streams.rejected }, CoreMetrics.Counter(label: "lstmd_rejected_streams_total", factory: factory)),
            ({ @Sendable in $0.counts.labelledFrames }, CoreMetrics.Counter(label: "lstmd_labelled_frames_total", factory: factory)),
            ({ @Sendable in $0.counts.gaps }, CoreMetrics.Counter(label: "lstmd_sequence_gaps_total", factory: factory)),
            ({ @Sendable in $0.connections.refused }, CoreMetrics.Counter(label: "lstmd_connections_refused_total", factory: factory)),
            ({ @Sendable in $0.counts.sequenceRestarts }, CoreMetrics.Counter(label: "lstmd_sequence_restarts_total", factory: factory)),
            ({ @Sendable in $0.counts.reloads }, CoreMetrics.Counter(label: "lstmd_model_reloads_total", factory: factory)),
        ]
        fromStatus += [
            ({ @Sendable in $0.retraining?.jobs ?? 0 }, CoreMetrics.Counter(label: "lstmd_retrain_runs_total", factory: factory)),
            ({ @Sendable in $0.retraining?.failed ?? 0 }, CoreMetrics.Counter(label: "lstmd_retrain_failures_total", factory: factory)),
            ({ @Sendable in $0.retraining?.promoted ?? 0 }, CoreMetrics.Counter(label: "lstmd_retrain_promotions_total", factory: factory)),
            ({ @Sendable in $0.retraining?.rejected ?? 0 }, CoreMetrics.Counter(label: "lstmd_retrain_rejections_total", factory: factory)),
            ({ @Sendable in $0.retraining?.evicted ?? 0 }, CoreMetrics.Counter(label: "lstmd_buffer_evicted_total", factory: factory)),
        ]
        fromStatus += CurveRole.allCases.map { role in
            let name = role.rawValue
            return (
                { @Sendable in $0.security.refusedByRole[name] ?? 0 },
                CoreMetrics.Counter(label: "lstmd_auth_refused_total", dimensions: [("role", name)], factory: factory)
            )
        }
        self.fromStatus = fromStatus
        bufferBytes = CoreMetrics.Gauge(label: "lstmd_buffer_bytes", factory: factory)
    }

    // MARK: ServingMetrics (called by the serving thread)

    public func frame(timesteps count: Int, receivedAt: UInt64) {
        frames.increment()
        timesteps.increment(by: count)
        let now = Self.monotonicNanoseconds()
        latency.recordNanoseconds(Int64(now &- min(now, receivedAt)))
    }

    public func label() {
        labels.increment()
    }

    public func label(frameTimestamp: Int64, emitted: Int64) {
        labels.increment()
        // The sender's clock: meaningful when sender and daemon share one (same host, or NTP).
        if frameTimestamp > 0, emitted >= frameTimestamp {
            frameToLabel.recordNanoseconds(emitted - frameTimestamp)
        }
    }

    public func drop(_ reason: DropReason) {
        drops[DropReason.allCases.firstIndex(of: reason)!].increment()
    }

    // MARK: Status

    /// Copies the gauges and slow counters from the daemon's status: active streams, evictions,
    /// rejected streams, labelled frames, gaps, reloads, uptime and the model version. Counters
    /// advance by the difference to the previous snapshot, so they never go back.
    public func update(_ status: StatusSnapshot) {
        activeStreams.record(status.streams.active)
        openConnections.record(status.connections.open)
        uptime.record(status.uptimeSeconds)
        let values = fromStatus.map { Double($0.value(status)) }
        if let retraining = status.retraining {
            bufferBytes.record(retraining.bytes)
            bufferRecords.withLock { gauges in
                for (name, count) in retraining.classes {
                    let gauge = gauges[name] ?? CoreMetrics.Gauge(label: "lstmd_buffer_records", dimensions: [("class", name)], factory: factory)
                    gauges[name] = gauge
                    gauge.record(count)
                }
            }
        }
        let version = status.model.version
        last.withLock { last in
            for (index, entry) in fromStatus.enumerated() {
                let previous = index < last.values.count ? last.values[index] : 0
                if values[index] > previous { entry.counter.increment(by: Int64(values[index] - previous)) }
            }
            last.values = values
            if version != last.version {
                last.model?.destroy()
                let gauge = CoreMetrics.Gauge(label: "lstmd_model_info", dimensions: [("version", version)], factory: factory)
                gauge.record(1)
                last.model = gauge
                last.version = version
            }
        }
    }

    /// The registry in Prometheus text exposition format (version 0.0.4).
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }

    static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
