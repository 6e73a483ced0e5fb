internal import CSystemd
import Glibc
import Logging

/// A swift-log handler that writes each record to the systemd journal with `sd_journal_sendv(3)`.
///
/// Each entry carries `MESSAGE`, `PRIORITY` (syslog 0–7, see ``JournalFields/priority(for:)``),
/// `SYSLOG_IDENTIFIER`, the caller's `CODE_FILE`, `CODE_LINE` and `CODE_FUNC`, `LOGGER_LABEL`,
/// `LOGGER_SOURCE`, and every metadata item as a field of its own, its key sanitised to a journal
/// field name (`stream.id` becomes `STREAM_ID`). Query them with e.g.
/// `journalctl -u lstmd STREAM_ID=abc -o verbose`.
///
/// Use it when ``journalAvailable()`` is true (``LoggingBootstrap`` decides). A record that cannot be
/// sent (journald down) is dropped: logging never fails the caller.
public struct JournalLogHandler: LogHandler {
    /// The logger label, sent as `LOGGER_LABEL`.
    public let label: String
    /// The `SYSLOG_IDENTIFIER` of every entry (what `journalctl -t` matches).
    public let identifier: String
    /// The minimum level this handler's logger emits.
    public var logLevel: Logger.Level
    /// Metadata attached to every record of this logger.
    public var metadata: Logger.Metadata = [:]
    /// Adds contextual metadata (for example task-local values) to each record.
    public var metadataProvider: Logger.MetadataProvider?

    /// Creates a journal handler.
    ///
    /// - Parameters:
    ///   - label: The logger label.
    ///   - identifier: The `SYSLOG_IDENTIFIER`; defaults to the program name.
    ///   - logLevel: The minimum level emitted; `.info` by default.
    ///   - metadataProvider: Contextual metadata; defaults to the one given to `LoggingSystem`.
    public init(
        label: String,
        identifier: String = LoggingBootstrap.programName,
        logLevel: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.label = label
        self.identifier = identifier
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    /// Gets or sets one metadata item of this logger.
    ///
    /// - Parameter metadataKey: The metadata key.
    public subscript(metadataKey metadataKey: String) -> Logger.Metadata.Value? {
        get { metadata[metadataKey] }
        set { metadata[metadataKey] = newValue }
    }

    /// Sends `event` to the journal.
    ///
    /// - Parameter event: The record: level, message, metadata, error and source location.
    public func log(event: LogEvent) {
        let merged = JournalFields.mergedMetadata(
            base: metadata, provider: metadataProvider, explicit: event.metadata, error: event.error)
        let fields = JournalFields.fields(for: event, label: label, identifier: identifier, metadata: merged)
        _ = Self.send(fields)
    }

    /// Whether stderr is connected to the journal: `JOURNAL_STREAM` (`<device>:<inode>`, set by systemd
    /// for `StandardError=journal`) names the same file as `fstat(2)` of file descriptor 2.
    ///
    /// This is the check `systemd.exec(5)` documents; a child whose stderr was redirected elsewhere
    /// inherits the variable but fails the comparison.
    public static func journalAvailable() -> Bool {
        var status = stat()
        guard fstat(STDERR_FILENO, &status) == 0 else { return false }
        return JournalFields.journalStreamMatches(
            ProcessEnvironment.value("JOURNAL_STREAM"),
            device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
    }

    /// Sends `KEY=value` fields as one journal entry.
    ///
    /// All fields are copied into one buffer and passed as iovecs; values may contain newlines.
    ///
    /// - Returns: The result of `sd_journal_sendv`: 0 on success (or with no journald), a negative errno.
    static func send(_ fields: [String]) -> Int32 {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(fields.reduce(0) { $0 + $1.utf8.count })
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(fields.count)
        for field in fields {
            let start = bytes.count
            bytes.append(contentsOf: field.utf8)
            ranges.append(start..<bytes.count)
        }
        return bytes.withUnsafeMutableBytes { buffer -> Int32 in
            let base = buffer.baseAddress
            let vectors = ranges.map { range in
                iovec(iov_base: base.map { $0 + range.lowerBound }, iov_len: range.count)
            }
            return vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
    }
}
