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
            REP socket answers JSON control requests. Signals: SIGTERM/SIGINT stop after the frames \
            already received; SIGHUP reloads the model. Under systemd (Type=notify) it reports \
            READY=1, STATUS=, RELOADING=1, STOPPING=1 and pings the watchdog from the serving loop.
            """)

    @OptionGroup var options: DaemonOptions

    func run() throws {
        let configuration = try options.configuration()
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        LoggingBootstrap.bootstrap(logLevel: level, identifier: "lstmd")
        let logger = Logger(label: "lstmd")
        let notifier = SystemdNotifier(logger: logger)
        let daemon: Daemon
        do {
            daemon = try Daemon(
                configuration: configuration, logger: logger,
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
            throw ExitCode.failure
        }
        let signals = SignalHandlers(daemon: daemon, notifier: notifier, logger: logger)
        notifier.ready()
        notifier.status("serving model \(daemon.modelVersion)")
        let supervisor = Supervisor(daemon: daemon, notifier: notifier)
        supervisor.start()
        daemon.wait()
        supervisor.stop()
        withExtendedLifetime(signals) {}
        logger.info("stopped")
    }
}
