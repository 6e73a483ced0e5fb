import Foundation
import Logging
import Retraining
import ServiceLifecycle
import Systemd
import ZeroMQ

/// What a daemon is built with besides its configuration: the process around it (lstmd) or a
/// test's doubles.
public struct DaemonBuildOptions: Sendable {
    /// A ZeroMQ context to share (in-process tests reach `inproc://` endpoints through it); nil
    /// makes one, terminated when `run()` returns.
    public var context: ZMQContext?
    /// The serving loop's clock.
    public var clock: any ServingClock = SystemServingClock()
    /// systemd's notification socket: READY=1, STATUS=, RELOADING=1, STOPPING=1, and the
    /// watchdog when `WATCHDOG_USEC` is set. nil: none.
    public var notifier: SystemdNotifier?
    /// Re-reads the configuration (file, environment, flags) for SIGHUP and the control request
    /// `{"command":"reload","configuration":true}` (what `systemctl reload` runs); nil refuses that
    /// request.
    public var configurationLoader: (@Sendable () throws -> Configuration)?
    /// Receives every labelled frame (stream, header, raw values).
    public var labelledSink: (@Sendable (String, FrameHeader, [Float]) -> Void)?
    /// Told when a reload begins and ends (besides the notifier).
    public var reloadHook: (@Sendable (ReloadEvent) -> Void)?
    /// The program run as `PROGRAM retrain-worker DIR` for each retraining job; default this
    /// process's own executable (lstmd).
    public var workerExecutable: String?
    /// Called on the thread that rebuilds the streams' states in a new model, before it starts
    /// (a test seam: holding it lets frames arrive while a swap is under way). nil: none.
    public var primingGate: (@Sendable () -> Void)?
    /// Called by the retraining thread between the steps of filing a candidate: `stored` (in
    /// the model store), `promoted` (the `current` pointer names it; the swap follows). A test
    /// seam for a crash in the middle of a promotion. nil: none.
    public var promotionHook: (@Sendable (String) -> Void)?

    public init() {}
}

/// Builds the daemon: validates the configuration, loads the model to serve, binds every socket
/// (and the metrics endpoint), and composes the services. Nothing runs until `Daemon.run()`.
/// - Throws: `ConfigurationError` or `DaemonError` naming the problem; nothing is left bound.
public func buildDaemon(configuration: Configuration, logger: Logger, options: DaemonBuildOptions = DaemonBuildOptions()) throws -> Daemon {
    try configuration.validate()
    if let warning = try configuration.checkTransportSecurity() { logger.warning("\(warning)") }
    let authenticator = try configuration.curveDirectory.map { try CurveAuthenticator(directory: $0) }
    let retraining = try openRetraining(configuration: configuration, logger: logger)
    let model = try LoadedModel.initial(configuration: configuration, store: retraining?.store, logger: logger)
    let context: ZMQContext
    do {
        context = try options.context ?? ZMQContext(ioThreads: 1)
    } catch {
        throw DaemonError("cannot create the ZeroMQ context: \(error)")
    }
    let ownsContext = options.context == nil
    let metrics: (recorder: MetricsRecorder, server: MetricsServer)?
    if let address = configuration.metricsAddress, let (host, port) = Configuration.hostAndPort(address) {
        let recorder = MetricsRecorder()
        let server = MetricsServer(host: host, port: port, recorder: recorder, logger: logger)
        do {
            try server.start()
        } catch {
            server.shutdown(stoppingThreads: false)
            if ownsContext { context.terminate() }
            throw error
        }
        metrics = (recorder, server)
    } else {
        metrics = nil
    }
    let metricsServer = metrics?.server
    let notifier = options.notifier
    let reloadHook = options.reloadHook
    let state = DaemonState(
        labelledSink: options.labelledSink, metrics: metrics?.recorder,
        reloadHook: { event in
            if let notifier {
                switch event {
                case .began: notifier.reloading()
                case .succeeded(let version):
                    notifier.ready()
                    notifier.status("reloaded model \(version)")
                case .failed(let reason):
                    notifier.ready()
                    notifier.status("reload refused; previous model still serving: \(reason)")
                }
            }
            reloadHook?(event)
        },
        configurationLoader: options.configurationLoader, primingGate: options.primingGate)
    let wakeEndpoint = "inproc://lstmd-wake-\(UUID().uuidString)"
    let sockets: ServingSockets
    let loop: ServingLoop
    let waker: Waker
    let retrainer: Retrainer?
    var zap: ZAPHandler?
    do {
        // The ZAP handler is bound before any CURVE socket: libzmq admits every client of a
        // CURVE socket when no handler is bound.
        zap = try authenticator.map { try ZAPHandler(authenticator: $0, context: context) }
        sockets = try ServingSockets(
            configuration: configuration, context: context, wakeEndpoint: wakeEndpoint,
            curve: authenticator)
        waker = try Waker(context: context, endpoint: wakeEndpoint)
        let tap = LabelTap(buffer: retraining?.buffer, model: model.model, stride: configuration.labelStride)
        retrainer = retraining.map {
            Retrainer(
                configuration: configuration, buffer: $0.buffer, store: $0.store, jobsDirectory: $0.jobs,
                workerExecutable: options.workerExecutable ?? ownExecutable(), counters: tap.counters, waker: waker, logger: logger,
                clock: options.clock, promotionHook: options.promotionHook)
        }
        loop = try ServingLoop(
            configuration: configuration, model: model, sockets: sockets, state: state, clock: options.clock, tap: tap,
            retrainer: retrainer, waker: waker, authenticator: authenticator, logger: logger)
    } catch {
        zap?.close()
        retraining?.buffer.close()
        metricsServer?.shutdown(stoppingThreads: false)
        if ownsContext { context.terminate() }
        throw error
    }
    state.publish(loop.snapshot())
    let bound = sockets.boundEndpoints
    var services: [any Service] = []
    if let (recorder, metricsServer) = metrics {
        metricsServer.onScrape { if let snapshot = state.latestSnapshot { recorder.update(snapshot) } }
        metricsServer.isReady = true
        services.append(MetricsService(server: metricsServer))
    }
    if let notifier, let interval = notifier.watchdogInterval {
        services.append(WatchdogService(notifier: notifier, interval: interval, state: state, clock: options.clock, logger: logger))
    }
    if let retrainer { services.append(RetrainService(retrainer: retrainer)) }
    if let zap {
        // Before the serving loop: services stop in reverse order, so handshakes are answered
        // until the CURVE sockets are closed.
        services.append(ZAPService(handler: HandedOver(value: zap)))
        let curve = zap.authenticator
        logger.info("CURVE on for tcp endpoints", metadata: ["directory": "\(curve.directory)", "keys": "\(curve.allowlists.summary)"])
    }
    services.append(ServingService(loop: HandedOver(value: loop), waker: waker))
    if let notifier {
        services.append(NotifyService(notifier: notifier, state: state) { metricsServer?.isReady = false })
    } else if let metricsServer {
        services.append(NotifyService(notifier: SystemdNotifier(), state: state) { metricsServer.isReady = false })
    }
    return Daemon(
        configuration: configuration, modelVersion: model.model.file.version, boundEndpoints: bound,
        metricsPort: metricsServer?.boundPort, state: state, services: services, waker: waker, context: context,
        ownsContext: ownsContext, logger: logger)
}

/// The retraining buffer, model store and job directories under the state directory; nil
/// (retraining off) without one.
private func openRetraining(configuration: Configuration, logger: Logger) throws -> (buffer: LabelledBuffer, store: ModelStore, jobs: URL)? {
    guard let state = configuration.stateDirectory else { return nil }
    let root = URL(fileURLWithPath: state)
    guard configuration.bufferMaxBytes >= 128 << 10 else {
        throw DaemonError("buffer_max_bytes must be at least 128KiB (two segments), got \(configuration.bufferMaxBytes)", key: "buffer_max_bytes")
    }
    do {
        let fsync: LabelledBuffer.FsyncPolicy =
            switch configuration.bufferFsync {
            case .always: .always
            case .interval(let seconds): .interval(seconds: seconds)
            }
        let buffer = try LabelledBuffer(
            directory: root.appendingPathComponent("buffer"),
            configuration: .init(maxBytes: configuration.bufferMaxBytes, fsync: fsync), logger: logger)
        let report = buffer.recovery
        if report.truncatedSegments > 0 || !report.renamedSegments.isEmpty {
            logger.warning(
                "labelled buffer recovered after an unclean stop: torn tails truncated",
                metadata: [
                    "segments_truncated": "\(report.truncatedSegments)", "bytes_truncated": "\(report.truncatedBytes)",
                    "renamed_aside": "\(report.renamedSegments.map(\.renamedTo))", "records": "\(report.records)",
                ])
        }
        let store = try ModelStore(directory: root.appendingPathComponent("models"), keep: configuration.modelsKeep, logger: logger)
        return (buffer, store, root.appendingPathComponent("jobs"))
    } catch {
        throw DaemonError("cannot open the retraining state in \(state): \(error)", key: "state_directory")
    }
}

/// This process's executable (`/proc/self/exe` resolved).
private func ownExecutable() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}
