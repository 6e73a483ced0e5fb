import ArgumentParser
import Daemon
import Foundation
import LSTMKit
import Logging
import Systemd

/// `lstmd`: the streaming classification daemon.
@main
struct LSTMDCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstmd",
        abstract: "Classify time-series streams arriving over ZeroMQ with an LSTM model.",
        discussion: """
            Frames arrive on a PULL socket, labels leave on a PUB socket (topic = stream id), and a \
            REP socket answers JSON control requests. Settings come from, in increasing priority: \
            defaults, systemd's RUNTIME_DIRECTORY/STATE_DIRECTORY, the configuration file \
            (deploy/config/lstmd.conf documents every key), LSTMD_<KEY> environment variables \
            (LSTMD_MODEL, LSTMD_LOG_LEVEL, ...), and these flags. A bad setting exits with status 78 \
            (EX_CONFIG), naming the key and where it came from. Signals: SIGTERM/SIGINT stop after \
            the frames already received; SIGHUP reloads the model. Under systemd (Type=notify) it \
            reports READY=1, STATUS=, RELOADING=1, STOPPING=1 and pings the watchdog from the \
            serving loop.
            """)

    /// Exit status for an unusable configuration (sysexits' EX_CONFIG); the unit's
    /// `RestartPreventExitStatus=` keeps systemd from retrying it.
    static let configurationExitCode: Int32 = 78

    @OptionGroup var options: DaemonOptions

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        var configuration: Configuration
        let file: String?
        do {
            (configuration, file) = try options.configuration(environment: environment)
        } catch {
            FileHandle.standardError.write(Data("lstmd: configuration: \(error)\n".utf8))
            throw ExitCode(Self.configurationExitCode)
        }
        let destination: LoggingBootstrap.Destination =
            switch configuration.logDestination {
            case "journal": .journal
            case "stderr": .stderr
            default: .automatic
            }
        LoggingBootstrap.bootstrap(
            logLevel: Logger.Level(rawValue: configuration.logLevel) ?? .info, destination: destination,
            identifier: "lstmd")
        let logger = Logger(label: "lstmd")
        let notifier = SystemdNotifier(logger: logger)
        if let interval = notifier.watchdogInterval {
            // The supervisor pings only after the serving loop stamps progress; stamp often
            // enough that a healthy loop never misses a ping.
            configuration.housekeepingInterval = min(configuration.housekeepingInterval, interval.seconds / 8)
        }
        logger.info("configuration", metadata: ["file": "\(file ?? "none")"])

        let metrics = try startMetrics(configuration: configuration, logger: logger)
        let daemon: Daemon
        do {
            daemon = try Daemon(
                configuration: configuration, logger: logger, metrics: metrics?.recorder,
                reloadHook: { event in
                    switch event {
                    case .began: notifier.reloading()
                    case .succeeded(let version):
                        notifier.ready()
                        notifier.status("reloaded model \(version)")
                    case .failed:
                        notifier.ready()
                        notifier.status("reload refused; previous model still serving")
                    }
                })
            try daemon.start()
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            metrics?.server.shutdown()
            throw ExitCode.failure
        }
        if let metrics {
            metrics.server.onScrape { metrics.recorder.update(status: daemon.status) }
            metrics.server.isReady = true
        }
        let configFile = options.config, commandLine = options.commandLine
        let watchdogInterval = notifier.watchdogInterval
        let signals = SignalHandlers(
            daemon: daemon, notifier: notifier, logger: logger,
            reloadConfiguration: {
                var fresh = try Configuration.load(
                    file: configFile, environment: ProcessInfo.processInfo.environment, commandLine: commandLine
                ).configuration
                if let watchdogInterval {
                    fresh.housekeepingInterval = min(fresh.housekeepingInterval, watchdogInterval.seconds / 8)
                }
                return fresh
            }
        ) {
            metrics?.server.isReady = false
        }
        notifier.ready()
        notifier.status("serving model \(daemon.modelVersion)")
        let supervisor = Supervisor(daemon: daemon, notifier: notifier)
        supervisor.start()
        Self.armDebugStall(daemon: daemon, environment: environment, logger: logger)
        daemon.wait()
        supervisor.stop()
        metrics?.server.shutdown()
        withExtendedLifetime(signals) {}
        logger.info("stopped")
    }

    /// Starts the Prometheus endpoint when `metrics` is configured.
    private func startMetrics(
        configuration: Configuration, logger: Logger
    ) throws -> (recorder: MetricsRecorder, server: MetricsServer)? {
        guard let address = configuration.metricsAddress, let (host, port) = Configuration.hostAndPort(address) else {
            return nil
        }
        let recorder = MetricsRecorder()
        let server = MetricsServer(host: host, port: port, recorder: recorder, logger: logger)
        do {
            try server.start()
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            server.shutdown()
            throw ExitCode.failure
        }
        return (recorder, server)
    }

    /// Test hook: `LSTMD_DEBUG_STALL_AFTER_MS=N` stalls the serving loop N ms after start, so a
    /// test can check that the watchdog pings stop. Not for production use.
    private static func armDebugStall(daemon: Daemon, environment: [String: String], logger: Logger) {
        guard let text = environment["LSTMD_DEBUG_STALL_AFTER_MS"], let milliseconds = Int(text), milliseconds >= 0 else {
            return
        }
        logger.warning("debug: the serving loop will stall", metadata: ["after_ms": "\(milliseconds)"])
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(milliseconds)) {
            logger.warning("debug: stalling the serving loop")
            daemon.setStalled(true)
        }
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
