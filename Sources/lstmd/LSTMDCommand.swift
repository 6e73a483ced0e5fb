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

    /// `lstmd retrain-worker DIR` is the retraining job's process (`RetrainWorker`); everything
    /// else is the daemon.
    static func main() {
        let arguments = CommandLine.arguments
        if arguments.count == 3, arguments[1] == "retrain-worker" {
            Glibc.exit(RetrainWorker.run(directory: arguments[2]))
        }
        main(nil)
    }

    func run() throws {
        // Until the handlers are installed (after the model loads and the sockets bind), a
        // SIGHUP (`systemctl reload` racing the start) must not kill the daemon; a SIGTERM may.
        signal(SIGHUP, SIG_IGN)
        let environment = ProcessInfo.processInfo.environment
        var configuration: Configuration
        let file: String?
        let sources: [String: ConfigurationSource]
        do {
            (configuration, file, sources) = try options.configuration(environment: environment)
        } catch {
            FileHandle.standardError.write(Data("lstmd: configuration: \(error)\n".utf8))
            throw ExitCode(Self.configurationExitCode)
        }
        do {
            try ISA.validateEnvironment()
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
            configuration.housekeepingInterval = min(configuration.housekeepingInterval, max(0.01, interval.seconds / 8))
        }
        logger.info("configuration", metadata: ["file": "\(file ?? "none")"])
        // Every connection costs a descriptor: run with as many as the hard limit allows.
        var files = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &files) == 0, files.rlim_cur < files.rlim_max {
            let soft = files.rlim_cur
            files.rlim_cur = files.rlim_max
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &files) == 0 {
                logger.debug("raised the descriptor limit", metadata: ["from": "\(soft)", "to": "\(files.rlim_max)"])
            }
        }
        for (variable, suggestion) in Configuration.unknownEnvironmentVariables(environment) {
            logger.warning(
                "ignored environment variable \(variable): no such setting\(suggestion.map { "; did you mean \($0)?" } ?? "")")
        }
        if logger.logLevel <= .debug {
            for key in Configuration.keys {
                logger.debug(
                    "configuration key",
                    metadata: [
                        "key": "\(key.name)", "value": "\(configuration.text(of: key.name))",
                        "source": "\(sources[key.name] ?? .defaults)",
                    ])
            }
        }

        if let interval = notifier.watchdogInterval {
            Self.abortPromptlyOnWatchdog(interval: interval, logger: logger)
        }
        let configFile = options.config, commandLine = options.commandLine
        let watchdogInterval = notifier.watchdogInterval
        // Re-reads file, environment and flags, on the serving loop: SIGHUP and `lstmctl reload
        // --configuration` (the unit's ExecReload=) both go through it.
        let reloadConfiguration: @Sendable () throws -> Configuration = {
            var fresh = try Configuration.load(
                file: configFile, environment: ProcessInfo.processInfo.environment, commandLine: commandLine
            ).configuration
            if let watchdogInterval {
                fresh.housekeepingInterval = min(fresh.housekeepingInterval, max(0.01, watchdogInterval.seconds / 8))
            }
            return fresh
        }

        var parts = DaemonBuildOptions()
        parts.notifier = notifier
        parts.configurationLoader = reloadConfiguration
        parts.promotionHook = Self.debugPromotionPause(environment: environment, logger: logger)
        let daemon: Daemon
        do {
            daemon = try buildDaemon(configuration: configuration, logger: logger, options: parts)
        } catch {
            throw startFailure(error, logger: logger, sources: sources)
        }
        let signals = SignalHandlers(logger: logger) { signal in
            switch signal {
            case .stop: daemon.triggerGracefulShutdown()
            case .reload: daemon.requestReload()
            }
        }
        Self.armDebugStall(daemon: daemon, environment: environment, logger: logger)
        try daemon.runUntilStopped()
        withExtendedLifetime(signals) {}
        logger.info("stopped")
    }

    /// Logs why the daemon cannot start and picks the exit status: 78 (EX_CONFIG, the units do
    /// not restart) when a setting is at fault, naming the key and where its value came from;
    /// 1 (systemd retries) for what may pass, such as an address still in use.
    /// - Parameter sources: where each key's value came from (absent: the default), from the
    ///   start-up load.
    private func startFailure(_ error: any Error, logger: Logger, sources: [String: ConfigurationSource]) -> ExitCode {
        guard let failure = error as? DaemonError, let key = failure.key else {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            return ExitCode.failure
        }
        let source = sources[key] ?? .defaults
        logger.critical(
            "cannot start: configuration: \(key) (\(source)): \(failure.message)",
            metadata: ["key": "\(key)", "source": "\(source)"])
        return ExitCode(Self.configurationExitCode)
    }

    /// Under a systemd watchdog (`WatchdogSignal=SIGABRT`), SIGABRT must end the process at once
    /// so that systemd restarts a hung daemon after `WatchdogSec`. The Swift runtime's crash
    /// handler would instead try to start its backtracer, which cannot run under
    /// `MemoryDenyWriteExecute=yes`, and its thread spins while the daemon lingers until
    /// `TimeoutAbortSec`. The units also set `SWIFT_BACKTRACE=enable=no`; restoring the default
    /// action here keeps a unit without that line (or a drop-in that drops it) safe.
    private static func abortPromptlyOnWatchdog(interval: Duration, logger: Logger) {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = SIG_DFL
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        if sigaction(SIGABRT, &action, nil) != 0 {
            logger.warning("cannot restore SIGABRT's default action", metadata: ["errno": "\(errno)"])
        } else {
            logger.debug("SIGABRT ends the process at once (watchdog)", metadata: ["watchdog_s": "\(interval.seconds)"])
        }
    }

    /// Test hook: `LSTMD_DEBUG_PAUSE_PROMOTION=stored|promoted` blocks the retraining thread for
    /// good at that step of filing a candidate (after logging it), so a test can kill -9 the
    /// daemon in the middle of a promotion. Not for production use.
    private static func debugPromotionPause(environment: [String: String], logger: Logger) -> (@Sendable (String) -> Void)? {
        guard let stage = environment["LSTMD_DEBUG_PAUSE_PROMOTION"] else { return nil }
        logger.warning("debug: promotions will pause", metadata: ["stage": "\(stage)"])
        return { reached in
            guard reached == stage else { return }
            logger.warning("debug: promotion paused", metadata: ["stage": "\(reached)"])
            while true { sleep(3600) }
        }
    }

    /// Test hook: `LSTMD_DEBUG_STALL_AFTER_MS=N` stalls the serving loop N ms after start, so a
    /// test can check that the watchdog pings stop. Not for production use.
    private static func armDebugStall(daemon: Daemon, environment: [String: String], logger: Logger) {
        guard let text = environment["LSTMD_DEBUG_STALL_AFTER_MS"], let milliseconds = Int(text), milliseconds >= 0 else {
            return
        }
        logger.warning("debug: the serving loop will stall", metadata: ["after_ms": "\(milliseconds)"])
        // A thread of ours, not Dispatch (see `SignalHandlers`).
        let thread = Thread {
            usleep(useconds_t(min(milliseconds, 3_600_000)) * 1000)
            logger.warning("debug: stalling the serving loop")
            daemon.stall()
        }
        thread.name = "lstmd-debug-stall"
        thread.start()
    }
}

extension Duration {
    /// The duration in seconds.
    fileprivate var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
