import Logging

/// Chooses where the daemon's logs go and installs the matching swift-log handler.
///
/// Under systemd with stderr connected to the journal the records go to ``JournalLogHandler``, with
/// structured fields; anywhere else (a terminal, a container, a test) to ``StderrLogHandler``.
public enum LoggingBootstrap {
    /// Where log records go.
    public enum Destination: Sendable, Equatable {
        /// The journal when ``JournalLogHandler/journalAvailable()`` says so, else stderr.
        case automatic
        /// The systemd journal, through `sd_journal_sendv`.
        case journal
        /// Plain lines on stderr.
        case stderr
    }

    /// The program name (the last path component of `argv[0]`), the default `SYSLOG_IDENTIFIER`.
    public static var programName: String {
        guard let path = CommandLine.arguments.first, let name = path.split(separator: "/").last else {
            return "lstmd"
        }
        return String(name)
    }

    /// Resolves ``Destination/automatic`` against the process's stderr and environment.
    ///
    /// - Parameter destination: The requested destination.
    /// - Returns: ``Destination/journal`` or ``Destination/stderr``.
    public static func resolve(_ destination: Destination) -> Destination {
        switch destination {
        case .automatic: JournalLogHandler.journalAvailable() ? .journal : .stderr
        case .journal, .stderr: destination
        }
    }

    /// Makes the handler for one logger.
    ///
    /// - Parameters:
    ///   - label: The logger label.
    ///   - logLevel: The minimum level emitted.
    ///   - destination: Where records go; ``Destination/automatic`` is resolved on each call.
    ///   - identifier: The journal's `SYSLOG_IDENTIFIER`; defaults to ``programName``.
    /// - Returns: A ``JournalLogHandler`` or a ``StderrLogHandler``.
    public static func makeHandler(
        label: String,
        logLevel: Logger.Level = .info,
        destination: Destination = .automatic,
        identifier: String = programName
    ) -> any LogHandler {
        switch resolve(destination) {
        case .journal:
            JournalLogHandler(label: label, identifier: identifier, logLevel: logLevel)
        case .automatic, .stderr:
            StderrLogHandler(label: label, logLevel: logLevel)
        }
    }

    /// Installs the handler factory process-wide with `LoggingSystem.bootstrap`. Call it once, first
    /// thing in `main`; swift-log traps on a second call.
    ///
    /// - Parameters:
    ///   - logLevel: The minimum level of every logger.
    ///   - destination: Where records go; ``Destination/automatic`` is resolved once, here.
    ///   - identifier: The journal's `SYSLOG_IDENTIFIER`; defaults to ``programName``.
    /// - Returns: The destination chosen, so the caller can log it.
    @discardableResult
    public static func bootstrap(
        logLevel: Logger.Level = .info,
        destination: Destination = .automatic,
        identifier: String = programName
    ) -> Destination {
        let resolved = resolve(destination)
        LoggingSystem.bootstrap { label in
            makeHandler(label: label, logLevel: logLevel, destination: resolved, identifier: identifier)
        }
        return resolved
    }
}
