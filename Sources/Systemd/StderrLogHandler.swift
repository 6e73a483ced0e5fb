import Glibc
import Logging

/// A swift-log handler that writes one line per record to stderr, for terminals, tests and service
/// managers other than systemd's journal:
///
/// ```
/// 2025-03-01T12:00:00.123Z warning lstmd.ingest: frame dropped reason=short stream=abc
/// ```
///
/// Fields: UTC timestamp with milliseconds, level, label, message, then metadata as sorted `key=value`
/// pairs (values with spaces, quotes, `=` or control characters are quoted). Line breaks in the
/// message are escaped so each record stays on one line. Each line goes out in a single `write(2)`,
/// so lines from concurrent threads do not interleave.
public struct StderrLogHandler: LogHandler {
    /// The logger label printed on each line.
    public let label: String
    /// The minimum level this handler's logger emits.
    public var logLevel: Logger.Level
    /// Metadata attached to every record of this logger.
    public var metadata: Logger.Metadata = [:]
    /// Adds contextual metadata (for example task-local values) to each record.
    public var metadataProvider: Logger.MetadataProvider?

    /// Creates a stderr handler.
    ///
    /// - Parameters:
    ///   - label: The logger label.
    ///   - logLevel: The minimum level emitted; `.info` by default.
    ///   - metadataProvider: Contextual metadata; defaults to the one given to `LoggingSystem`.
    public init(
        label: String,
        logLevel: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.label = label
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

    /// Writes `event` to stderr as one line.
    ///
    /// - Parameter event: The record: level, message, metadata, error and source location.
    public func log(event: LogEvent) {
        let merged = JournalFields.mergedMetadata(
            base: metadata, provider: metadataProvider, explicit: event.metadata, error: event.error)
        var line = Self.formatLine(
            timestamp: Self.timestamp(), level: event.level, label: label,
            message: "\(event.message)", metadata: merged)
        line.append("\n")
        line.withUTF8 { bytes in
            var remaining = UnsafeRawBufferPointer(bytes)
            while !remaining.isEmpty {
                let written = write(STDERR_FILENO, remaining.baseAddress, remaining.count)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                remaining = UnsafeRawBufferPointer(rebasing: remaining[written...])
            }
        }
    }

    /// One record without the trailing newline.
    static func formatLine(
        timestamp: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata
    ) -> String {
        var line = "\(timestamp) \(level) \(label): \(escapeLineBreaks(message))"
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            line += " \(escapeLineBreaks(key))=\(quotedIfNeeded("\(value)"))"
        }
        return line
    }

    /// `text` with every control character written as an escape: `\n`, `\r`, `\t`, and `\xNN`
    /// for the rest of C0, DEL and C1 (0x80–0x9F), so a peer's bytes in a logged field can neither
    /// break a record into lines nor reach a terminal as an escape sequence.
    static func escapeLineBreaks(_ text: String) -> String {
        LogText.escaped(text)
    }

    /// `value` as is, or in double quotes (with `"` and `\` escaped) when it is empty or holds a space,
    /// a quote, `=` or a control character.
    static func quotedIfNeeded(_ value: String) -> String {
        let needsQuotes =
            value.isEmpty
            || value.unicodeScalars.contains { $0 == " " || $0 == "\"" || $0 == "=" || LogText.isControl($0) }
        guard needsQuotes else { return value }
        var quoted = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        quoted += "\""
        return escapeLineBreaks(quoted)
    }

    /// Now in UTC as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return formatTimestamp(seconds: Int(now.tv_sec), nanoseconds: Int(now.tv_nsec))
    }

    /// A Unix time in UTC as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    static func formatTimestamp(seconds: Int, nanoseconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))"
            + "T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))"
            + ".\(pad(Int32(nanoseconds / 1_000_000), 3))Z"
    }
}
