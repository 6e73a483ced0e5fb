import Foundation
// The wire types (FrameHeader, DropReason) are part of the daemon's API (ServingMetrics, the
// labelled sink): re-exported, so importing Daemon is enough for its users.
@_exported import Wire
import LSTMKit
import Logging
import ServiceLifecycle
import Synchronization
import Systemd
import ZeroMQ

/// An error that stops the daemon from starting or a request from completing.
public struct DaemonError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// The configuration key at fault (`model`, `mode`, `ingest`, …), when a setting is the
    /// cause: retrying with the same configuration cannot help (lstmd exits 78 then).
    public var key: String?
    public init(_ message: String, key: String? = nil) {
        self.message = message
        self.key = key
    }
    public var description: String { message }
}

/// Counters the serving loop reports to a metrics backend as they move.
public protocol ServingMetrics: Sendable {
    /// A frame was accepted; `receivedAt` is the serving clock's monotonic ns.
    func frame(timesteps: Int, receivedAt: UInt64)
    /// A label was published for a frame stamped `frameTimestamp` (sender's CLOCK_REALTIME ns),
    /// at `emitted` (CLOCK_REALTIME ns).
    func label(frameTimestamp: Int64, emitted: Int64)
    /// A frame was dropped.
    func drop(_ reason: DropReason)
}

/// Reload progress, for service managers.
public enum ReloadEvent: Sendable, Equatable {
    case began
    case succeeded(String)
    case failed(String)
}

/// What the serving thread shares with the rest of the process: its progress stamp, its latest
/// status, and the hooks it calls.
final class DaemonState: Sendable {
    private let progressStamp = Atomic<UInt64>(0)
    private let snapshot = Mutex<StatusSnapshot?>(nil)
    let labelledSink: (@Sendable (String, FrameHeader, [Float]) -> Void)?
    let metrics: (any ServingMetrics)?
    let reloadHook: (@Sendable (ReloadEvent) -> Void)?
    let configurationLoader: (@Sendable () throws -> Configuration)?
    /// Called on the priming thread before a swap's replay (`DaemonBuildOptions.primingGate`).
    let primingGate: (@Sendable () -> Void)?

    init(
        labelledSink: (@Sendable (String, FrameHeader, [Float]) -> Void)?, metrics: (any ServingMetrics)?,
        reloadHook: (@Sendable (ReloadEvent) -> Void)?, configurationLoader: (@Sendable () throws -> Configuration)?,
        primingGate: (@Sendable () -> Void)? = nil
    ) {
        self.primingGate = primingGate
        self.labelledSink = labelledSink
        self.metrics = metrics
        self.reloadHook = reloadHook
        self.configurationLoader = configurationLoader
    }

    /// Stamps the serving loop's progress (its clock's monotonic ns).
    func progress(_ now: UInt64) { progressStamp.store(now, ordering: .releasing) }
    var lastProgress: UInt64 { progressStamp.load(ordering: .acquiring) }
    func publish(_ value: StatusSnapshot) { snapshot.withLock { $0 = value } }
    var latestSnapshot: StatusSnapshot? { snapshot.withLock { $0 } }
}

/// The lstmd process, built by `buildDaemon(configuration:logger:options:)`: the serving loop,
/// the watchdog, notify and metrics as services in one `ServiceGroup`, run on a thread of ours.
/// Every socket is bound when it is built; `run()` serves until `triggerGracefulShutdown()`
/// (SIGTERM, SIGINT), which first sends STOPPING=1, then lets the serving loop classify the frames
/// already received, then stops the watchdog and the metrics endpoint. Thread-safe.
public final class Daemon: Sendable {
    /// The configuration served (as at start; a reload may change the streaming settings).
    public let configuration: Configuration
    /// The model version serving at start.
    public let modelVersion: String
    /// Endpoints bound, by role (`ingest`, `publish`, `control`), with ephemeral ports resolved.
    public let boundEndpoints: [String: String]
    /// The metrics endpoint's TCP port, when `metrics` is configured.
    public let metricsPort: Int?
    let state: DaemonState
    private let group: ServiceGroup
    private let executor: ThreadExecutor
    private let waker: Waker
    private let context: ZMQContext
    private let ownsContext: Bool
    private let logger: Logger

    init(
        configuration: Configuration, modelVersion: String, boundEndpoints: [String: String], metricsPort: Int?,
        state: DaemonState, services: [any Service], waker: Waker, context: ZMQContext, ownsContext: Bool, logger: Logger
    ) {
        self.configuration = configuration
        self.modelVersion = modelVersion
        self.boundEndpoints = boundEndpoints
        self.metricsPort = metricsPort
        self.state = state
        self.waker = waker
        self.context = context
        self.ownsContext = ownsContext
        self.logger = logger
        executor = ThreadExecutor(name: "lstmd-services")
        var groupConfiguration = ServiceGroupConfiguration(
            services: services.map {
                .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)
            },
            // Signals come through lstmd's own handlers (`triggerGracefulShutdown()`): the
            // group's would be Dispatch sources (see `ThreadExecutor`).
            gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        // Their timers would run on the global executor; the serving loop bounds its own drain.
        groupConfiguration.maximumGracefulShutdownDuration = nil
        groupConfiguration.maximumCancellationDuration = nil
        group = ServiceGroup(configuration: groupConfiguration)
    }

    /// Runs every service until graceful shutdown, then releases the sockets and (when the daemon
    /// made it) terminates the ZeroMQ context, which waits up to the label socket's 500 ms linger
    /// for the last labels to leave.
    public func run() async throws {
        logger.info("serving", metadata: ["model_version": "\(modelVersion)", "endpoints": "\(boundEndpoints)"])
        defer { finish() }
        try await withTaskExecutorPreference(executor) {
            try await group.run()
        }
    }

    /// `run()` for a synchronous caller (lstmd's main thread): blocks until it returns.
    public func runUntilStopped() throws {
        let done = DispatchSemaphore(value: 0)
        let failure = Mutex<(any Error)?>(nil)
        Task(executorPreference: executor) { [self] in
            do { try await run() } catch { failure.withLock { $0 = error } }
            done.signal()
        }
        done.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }

    private func finish() {
        waker.close()
        if ownsContext { context.terminate() }
    }

    /// Starts graceful shutdown (SIGTERM, SIGINT): callable from any thread, returns at once.
    public func triggerGracefulShutdown() {
        Task(executorPreference: executor) { [group] in await group.triggerGracefulShutdown() }
    }

    /// What SIGHUP does (and the control request `{"command":"reload","configuration":true}`):
    /// the serving loop re-reads the configuration through the loader, applies it and loads the
    /// model to serve (`ModelChoice`). Streaming settings change in place; changed endpoints are
    /// logged and take effect at the next restart. A configuration that does not load or
    /// validate, or whose model is refused, changes nothing. Without a loader, the model serving
    /// now is reloaded from its file.
    public func requestReload() { waker.send(.reload) }

    /// The serving loop's latest status (refreshed about four times a second).
    public var status: StatusSnapshot? { state.latestSnapshot }

    /// The serving clock's monotonic ns at the serving loop's last progress (for a watchdog).
    public var lastProgress: UInt64 { state.lastProgress }

    /// Debug hook: hangs the serving loop until stopped, to test that a hung loop stops the
    /// watchdog pings.
    public func stall() { waker.send(.stall) }
}
