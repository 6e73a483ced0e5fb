import Foundation
import Logging
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

    public init() {}
}

/// Builds the daemon: validates the configuration, loads the model to serve, binds every socket
/// (and the metrics endpoint), and composes the services. Nothing runs until `Daemon.run()`.
/// - Throws: `ConfigurationError` or `DaemonError` naming the problem; nothing is left bound.
public func buildDaemon(configuration: Configuration, logger: Logger, options: DaemonBuildOptions = DaemonBuildOptions()) throws -> Daemon {
    try configuration.validate()
    let model = try LoadedModel.initial(configuration: configuration, logger: logger)
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
        configurationLoader: options.configurationLoader)
    let wakeEndpoint = "inproc://lstmd-wake-\(UUID().uuidString)"
    let sockets: ServingSockets
    let loop: ServingLoop
    let waker: Waker
    do {
        sockets = try ServingSockets(configuration: configuration, context: context, wakeEndpoint: wakeEndpoint)
        loop = try ServingLoop(
            configuration: configuration, model: model, sockets: sockets, state: state, clock: options.clock, logger: logger)
        waker = try Waker(context: context, endpoint: wakeEndpoint)
    } catch {
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
