import Foundation
import LSTMKit
import Logging
import Synchronization
import ZeroMQ

/// An error that stops the daemon from starting or a request from completing.
public struct DaemonError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A model loaded from a path (or the bundled default), validated and built.
struct LoadedModel: Sendable {
    let path: String
    let model: LSTMModel

    init(path: String?) throws {
        guard let resolved = path ?? DefaultModel.url?.path else {
            throw DaemonError("no model path given and the bundled default model was not found")
        }
        self.path = resolved
        do {
            model = try LSTMModel(contentsOf: URL(fileURLWithPath: resolved))
        } catch let error as ModelError {
            throw DaemonError("model \(resolved): \(error.message)")
        }
    }

    func classifier(configuration: Configuration) throws -> StreamClassifier {
        do {
            return try StreamClassifier(
                model: model, mode: configuration.mode ?? model.file.mode,
                hop: configuration.hop ?? model.file.hop)
        } catch let error as ModelError {
            throw DaemonError("model \(path): \(error.message)")
        }
    }
}

/// Counters the serving loop reports to a metrics backend (issue: operations).
public protocol ServingMetrics: Sendable {
    /// A frame was accepted; `receivedAt` is CLOCK_MONOTONIC ns.
    func frame(timesteps: Int, receivedAt: UInt64)
    /// A label was published.
    func label()
    /// A label was published for a frame stamped `frameTimestamp` (sender's CLOCK_REALTIME ns),
    /// at `emitted` (CLOCK_REALTIME ns).
    func label(frameTimestamp: Int64, emitted: Int64)
    /// A frame was dropped.
    func drop(_ reason: DropReason)
}

extension ServingMetrics {
    public func label(frameTimestamp: Int64, emitted: Int64) { label() }
}

/// Reload progress, for service managers.
public enum ReloadEvent: Sendable, Equatable {
    case began
    case succeeded(String)
    case failed(String)
}

/// The lstmd daemon: loads the model, binds the sockets and serves on a thread it owns.
///
/// `start()` returns once every socket is bound (or throws), so a caller can report readiness;
/// `stop()` asks the loop to finish the frames already queued and return; `wait()` blocks until
/// it has. Thread-safe.
public final class Daemon: Sendable {
    /// State shared between the serving thread and everyone else.
    final class Shared: Sendable {
        private let stop = Atomic<Bool>(false)
        private let reload = Atomic<Bool>(false)
        private let stalled = Atomic<Bool>(false)
        private let lastProgress = Atomic<UInt64>(0)
        private let snapshot = Mutex<JSONValue>(.null)
        private let pendingConfiguration = Mutex<Configuration?>(nil)
        let labelledSink: (@Sendable (String, FrameHeader, [Float]) -> Void)?
        let metrics: (any ServingMetrics)?
        let reloadHook: (@Sendable (ReloadEvent) -> Void)?

        init(
            labelledSink: (@Sendable (String, FrameHeader, [Float]) -> Void)?,
            metrics: (any ServingMetrics)?, reloadHook: (@Sendable (ReloadEvent) -> Void)?
        ) {
            self.labelledSink = labelledSink
            self.metrics = metrics
            self.reloadHook = reloadHook
        }

        var stopRequested: Bool { stop.load(ordering: .acquiring) }
        func requestStop() { stop.store(true, ordering: .releasing) }
        func requestReload(configuration: Configuration? = nil) {
            if let configuration { pendingConfiguration.withLock { $0 = configuration } }
            reload.store(true, ordering: .releasing)
        }
        func takeReloadRequest() -> Bool { reload.exchange(false, ordering: .acquiringAndReleasing) }
        func takePendingConfiguration() -> Configuration? { pendingConfiguration.withLock { value in defer { value = nil }; return value } }
        func setStalled(_ value: Bool) { stalled.store(value, ordering: .releasing) }

        /// Debug hook: blocks the serving loop while stalled (to test the watchdog).
        func waitWhileStalled() {
            while stalled.load(ordering: .acquiring) && !stopRequested { usleep(10_000) }
        }

        func progress() { lastProgress.store(Server.monotonicNanoseconds(), ordering: .releasing) }
        var lastProgressNanoseconds: UInt64 { lastProgress.load(ordering: .acquiring) }
        func publish(snapshot value: JSONValue) { snapshot.withLock { $0 = value } }
        var latestSnapshot: JSONValue { snapshot.withLock { $0 } }
    }

    /// The configuration served.
    public let configuration: Configuration
    private let logger: Logger
    private let context: ZMQContext
    let shared: Shared
    private let initialModel: LoadedModel
    private let finished = DispatchSemaphore(value: 0)
    private let endpoints = Mutex<[String: String]>([:])

    /// Validates the configuration and loads the model; binds nothing yet.
    /// - Parameters:
    ///   - labelledSink: receives every labelled frame (stream, header, raw values).
    ///   - metrics: receives counters as they move.
    ///   - reloadHook: told when a reload begins and ends.
    /// - Throws: `ConfigurationError` or `DaemonError` naming the problem.
    public init(
        configuration: Configuration, logger: Logger,
        labelledSink: (@Sendable (String, FrameHeader, [Float]) -> Void)? = nil,
        metrics: (any ServingMetrics)? = nil,
        reloadHook: (@Sendable (ReloadEvent) -> Void)? = nil
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        initialModel = try LoadedModel(path: configuration.modelPath)
        _ = try initialModel.classifier(configuration: configuration)
        do {
            context = try ZMQContext(ioThreads: 1)
        } catch {
            throw DaemonError("cannot create the ZeroMQ context: \(error)")
        }
        shared = Shared(labelledSink: labelledSink, metrics: metrics, reloadHook: reloadHook)
    }

    /// The loaded model's version.
    public var modelVersion: String { initialModel.model.file.version }

    /// Endpoints bound, by role (`ingest`, `publish`, `control`), with ephemeral ports resolved.
    public var boundEndpoints: [String: String] { endpoints.withLock { $0 } }

    /// Binds every socket and starts the serving thread.
    /// - Throws: `DaemonError` when a socket cannot be bound; nothing keeps running then.
    public func start() throws {
        let ready = DispatchSemaphore(value: 0)
        let failure = Mutex<DaemonError?>(nil)
        let thread = Thread { [self] in
            let server: Server
            do {
                server = try Server(
                    configuration: configuration, model: initialModel, context: context, shared: shared,
                    logger: logger)
            } catch {
                failure.withLock { $0 = error as? DaemonError ?? DaemonError("\(error)") }
                ready.signal()
                finished.signal()
                return
            }
            endpoints.withLock { $0 = server.boundEndpoints }
            shared.publish(snapshot: server.statusObject())
            shared.progress()
            ready.signal()
            server.run()
            server.close()  // the label socket lingers until `wait()` terminates the context
            finished.signal()
        }
        thread.name = "lstmd-serve"
        thread.stackSize = 8 << 20
        thread.start()
        ready.wait()
        if let error = failure.withLock({ $0 }) { throw error }
        logger.info(
            "serving", metadata: ["model_version": "\(modelVersion)", "endpoints": "\(boundEndpoints)"])
    }

    /// Asks the serving loop to finish the frames already received and return.
    public func stop() { shared.requestStop() }

    /// Blocks until the serving loop has returned, then terminates the ZeroMQ context, which
    /// waits (up to the label socket's 500 ms linger) until the last labels are sent.
    public func wait() {
        finished.wait()
        finished.signal()
        context.terminate()
    }

    /// Asks the serving loop to reload the model from its path (as the `reload` control command),
    /// or, given a new configuration, to apply it and load its model: streaming settings
    /// (model, mode, hop, stream limits, timeouts, frame limits) change in place; changed
    /// endpoints are logged and take effect at the next restart. A configuration that does not
    /// validate, or whose model is refused, changes nothing.
    public func requestReload(configuration: Configuration? = nil) { shared.requestReload(configuration: configuration) }

    /// The serving loop's latest status (refreshed about four times a second).
    public var status: JSONValue { shared.latestSnapshot }

    /// CLOCK_MONOTONIC ns of the serving loop's last progress (for a watchdog).
    public var lastProgress: UInt64 { shared.lastProgressNanoseconds }

    /// Debug hook: stalls (or resumes) the serving loop, to test that a hung loop stops the
    /// watchdog pings.
    public func setStalled(_ stalled: Bool) { shared.setStalled(stalled) }
}
