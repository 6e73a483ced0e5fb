import Foundation
// The wire types (FrameHeader, DropReason) are part of the daemon's API (ServingMetrics, the
// labelled sink): re-exported, so importing Daemon is enough for its users.
@_exported import Wire
import LSTMKit
import Logging
import Synchronization
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

/// A model loaded from a path (or the bundled default), validated and built.
struct LoadedModel: Sendable {
    let path: String
    let model: LSTMModel

    /// The bundled default model's path, when the bundle is found.
    static var defaultPath: String? { DefaultModel.url?.path }

    init(path: String?) throws {
        guard let resolved = path ?? Self.defaultPath else {
            throw DaemonError("no model path given and the bundled default model was not found", key: "model")
        }
        self.path = resolved
        do {
            model = try LSTMModel(contentsOf: URL(fileURLWithPath: resolved))
        } catch let error as ModelError {
            throw DaemonError("model \(resolved): \(error.message)", key: "model")
        }
    }

    func classifier(configuration: Configuration) throws -> StreamClassifier {
        do {
            return try StreamClassifier(
                model: model, mode: configuration.mode ?? model.file.mode,
                hop: configuration.hop ?? model.file.hop)
        } catch let error as ModelError {
            // The streaming settings that do not fit the model are the ones to change.
            let key =
                error.message.contains("continuous") ? "mode" : error.message.contains("hop") ? "hop" : "model"
            throw DaemonError("model \(path): \(error.message)", key: key)
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
        let labelledSink: (@Sendable (String, FrameHeader, [Float]) -> Void)?
        let metrics: (any ServingMetrics)?
        let reloadHook: (@Sendable (ReloadEvent) -> Void)?
        let configurationLoader: (@Sendable () throws -> Configuration)?

        init(
            labelledSink: (@Sendable (String, FrameHeader, [Float]) -> Void)?,
            metrics: (any ServingMetrics)?, reloadHook: (@Sendable (ReloadEvent) -> Void)?,
            configurationLoader: (@Sendable () throws -> Configuration)?
        ) {
            self.labelledSink = labelledSink
            self.metrics = metrics
            self.reloadHook = reloadHook
            self.configurationLoader = configurationLoader
        }

        var stopRequested: Bool { stop.load(ordering: .acquiring) }
        func requestStop() { stop.store(true, ordering: .releasing) }
        func requestReload() { reload.store(true, ordering: .releasing) }
        func takeReloadRequest() -> Bool { reload.exchange(false, ordering: .acquiringAndReleasing) }
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
    ///   - configurationLoader: re-reads the configuration (file, environment, flags) for the
    ///     control command `{"command":"reload","configuration":true}` (what `systemctl reload`
    ///     runs); `nil` refuses that command.
    /// - Throws: `ConfigurationError` or `DaemonError` naming the problem.
    public init(
        configuration: Configuration, logger: Logger,
        labelledSink: (@Sendable (String, FrameHeader, [Float]) -> Void)? = nil,
        metrics: (any ServingMetrics)? = nil,
        configurationLoader: (@Sendable () throws -> Configuration)? = nil,
        reloadHook: (@Sendable (ReloadEvent) -> Void)? = nil
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        initialModel = try Self.loadInitialModel(configuration: configuration, logger: logger)
        do {
            context = try ZMQContext(ioThreads: 1)
        } catch {
            throw DaemonError("cannot create the ZeroMQ context: \(error)")
        }
        shared = Shared(
            labelledSink: labelledSink, metrics: metrics, reloadHook: reloadHook,
            configurationLoader: configurationLoader)
    }

    /// The model to serve at start (`ModelChoice`): an operator's recorded control-socket choice
    /// while the configured model is unchanged, else the configured model. A recorded choice that
    /// no longer loads is logged and the configured model serves.
    private static func loadInitialModel(configuration: Configuration, logger: Logger) throws -> LoadedModel {
        let resolved = ModelChoice.resolve(configuration, logger: logger)
        if resolved.chosen, let path = resolved.path {
            do {
                let model = try LoadedModel(path: path)
                _ = try model.classifier(configuration: configuration)
                logger.notice(
                    "serving the model loaded earlier with `lstmctl reload --model` (recorded in the state directory)",
                    metadata: ["model": "\(path)", "configured": "\(configuration.modelPath ?? "bundled default")"])
                return model
            } catch {
                // Dropped, or every later reload would try it again and be refused.
                logger.error(
                    "the model loaded earlier with `lstmctl reload --model` is refused; serving the configured model and forgetting that choice",
                    metadata: ["model": "\(path)", "error": "\(error)"])
                ModelChoice.remove(stateDirectory: configuration.stateDirectory)
            }
        }
        let model = try LoadedModel(path: configuration.modelPath)
        _ = try model.classifier(configuration: configuration)
        return model
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

    /// Asks the serving loop to do what SIGHUP does (and the control request
    /// `{"command":"reload","configuration":true}`): re-read the configuration through
    /// `configurationLoader`, apply it and load the model to serve (`ModelChoice`). Streaming
    /// settings (model, mode, hop, stream limits, timeouts, frame limits) change in place; changed
    /// endpoints are logged and take effect at the next restart. A configuration that does not
    /// load or validate, or whose model is refused, changes nothing. Without a loader, the model
    /// serving now is reloaded from its file.
    public func requestReload() { shared.requestReload() }

    /// The serving loop's latest status (refreshed about four times a second).
    public var status: JSONValue { shared.latestSnapshot }

    /// CLOCK_MONOTONIC ns of the serving loop's last progress (for a watchdog).
    public var lastProgress: UInt64 { shared.lastProgressNanoseconds }

    /// Debug hook: stalls (or resumes) the serving loop, to test that a hung loop stops the
    /// watchdog pings.
    public func setStalled(_ stalled: Bool) { shared.setStalled(stalled) }
}
