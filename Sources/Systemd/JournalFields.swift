import Logging

/// Builds journal fields from swift-log records. Internal; tested through `@testable import`.
enum JournalFields {
    /// Longest field name journald accepts.
    static let maximumNameLength = 64

    /// Field names the handler sets itself; metadata that sanitises to one of them gets a `META_`
    /// prefix instead of overriding it.
    static let reservedNames: Set<String> = [
        "MESSAGE", "MESSAGE_ID", "PRIORITY", "SYSLOG_IDENTIFIER", "SYSLOG_FACILITY", "SYSLOG_PID",
        "SYSLOG_TIMESTAMP", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "LOGGER_LABEL", "LOGGER_SOURCE",
        "ERRNO", "TID",
    ]

    /// The syslog priority (0 emerg … 7 debug) for a swift-log level.
    ///
    /// trace, debug → 7 (debug); info → 6; notice → 5; warning → 4; error → 3; critical → 2 (crit).
    static func priority(for level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// A journal field name for metadata key `key`, or `nil` when nothing usable is left.
    ///
    /// ASCII letters are uppercased, digits and `_` kept, every other character becomes `_`; leading
    /// underscores are dropped (they mark trusted fields); a name that starts with a digit or equals a
    /// reserved name gets the prefix `META_`; the result is cut to 64 characters.
    static func fieldName(forMetadataKey key: String) -> String? {
        var name = String(
            key.unicodeScalars.map { scalar -> Character in
                switch scalar {
                case "a"..."z": Character(Unicode.Scalar(UInt8(scalar.value - 32)))
                case "A"..."Z", "0"..."9", "_": Character(scalar)
                default: "_"
                }
            })
        name = String(name.drop(while: { $0 == "_" }))
        guard let first = name.first else { return nil }
        if first.isNumber || reservedNames.contains(name) { name = "META_" + name }
        return String(name.prefix(maximumNameLength))
    }

    /// The `KEY=value` fields of one journal entry, in a fixed order: `MESSAGE`, `PRIORITY`,
    /// `SYSLOG_IDENTIFIER`, `CODE_FILE`, `CODE_LINE`, `CODE_FUNC`, `LOGGER_LABEL`, `LOGGER_SOURCE`,
    /// then the metadata sorted by key. Metadata keys that sanitise to the same name keep the first in
    /// key order.
    static func fields(for event: LogEvent, label: String, identifier: String, metadata: Logger.Metadata) -> [String] {
        var fields = [
            "MESSAGE=\(LogText.escaped("\(event.message)"))",
            "PRIORITY=\(priority(for: event.level))",
            "SYSLOG_IDENTIFIER=\(identifier)",
            "CODE_FILE=\(event.file)",
            "CODE_LINE=\(event.line)",
            "CODE_FUNC=\(event.function)",
            "LOGGER_LABEL=\(label)",
            "LOGGER_SOURCE=\(event.source)",
        ]
        var seen: Set<String> = []
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            guard let name = fieldName(forMetadataKey: key), seen.insert(name).inserted else { continue }
            fields.append("\(name)=\(LogText.escaped("\(value)"))")
        }
        return fields
    }

    /// The handler's metadata, overridden by the provider's, overridden by the record's; an error
    /// attached to the record adds `error.message` and `error.type` (as swift-log's stream handler does).
    static func mergedMetadata(
        base: Logger.Metadata, provider: Logger.MetadataProvider?, explicit: Logger.Metadata?, error: (any Error)?
    ) -> Logger.Metadata {
        var metadata = base
        if let provided = provider?.get(), !provided.isEmpty {
            metadata.merge(provided) { _, new in new }
        }
        if let explicit, !explicit.isEmpty {
            metadata.merge(explicit) { _, new in new }
        }
        if let error {
            metadata["error.message"] = "\(error)"
            metadata["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        return metadata
    }

    /// Whether a `JOURNAL_STREAM` value (`<device>:<inode>`, both decimal) names the given file.
    static func journalStreamMatches(_ value: String?, device: UInt64, inode: UInt64) -> Bool {
        guard let value else { return false }
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let streamDevice = UInt64(parts[0]), let streamInode = UInt64(parts[1]) else {
            return false
        }
        return streamDevice == device && streamInode == inode
    }
}
