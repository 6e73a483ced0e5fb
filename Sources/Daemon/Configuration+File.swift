import Foundation
import KeyValue

/// Where a configuration value came from; errors name it.
public enum ConfigurationSource: Sendable, Equatable, CustomStringConvertible {
    /// The built-in default.
    case defaults
    /// A directory systemd passes in the environment (`RUNTIME_DIRECTORY`, `STATE_DIRECTORY`).
    case systemd(String)
    /// A line of a configuration file.
    case file(path: String, line: Int)
    /// An `LSTMD_*` environment variable.
    case environment(String)
    /// A command-line flag (`--hop`).
    case commandLine(String)

    public var description: String {
        switch self {
        case .defaults: "default"
        case .systemd(let name): "environment variable \(name)"
        case .file(let path, let line): "\(path):\(line)"
        case .environment(let name): "environment variable \(name)"
        case .commandLine(let flag): flag
        }
    }
}

/// A configuration file: one `key = value` per line, in the syntax every `key = value` file of
/// lstmd shares (``KeyValueFile``, ``ValueSyntax``):
///
/// - `#` starts a comment at the start of a line or after white space (outside quotes).
/// - A value is a comma-separated list of items; an item is bare text (surrounding white space
///   removed) or a double-quoted string with `\"`, `\\`, `\n` and `\t` escapes. Scalar keys take
///   one item; an empty value means "the default" (for lists: none).
/// - Keys are those of ``Configuration/keys`` (`-` reads as `_`); an unknown key (named with the
///   closest known one) or a key set twice is refused with its line number.
public struct ConfigurationFile: Sendable, Equatable {
    /// One `key = value` line.
    public typealias Entry = KeyValueFile.Entry

    /// The file's path, as named in errors.
    public var path: String
    /// The entries in file order.
    public var entries: [Entry]

    /// Parses `text`.
    /// - Parameter path: named in errors.
    /// - Throws: `ConfigurationError` whose `source` is `path:line`.
    public init(parsing text: String, path: String) throws(ConfigurationError) {
        do {
            let file = try Configuration.table.parse(text, path: path)
            self.path = file.path
            entries = file.entries
        } catch {
            throw ConfigurationError(key: error.key, message: error.message, source: error.location)
        }
    }

    /// Reads and parses the file at `path`.
    /// - Throws: `ConfigurationError` when it cannot be read (key `config`) or parsed.
    public init(contentsOfFile path: String) throws(ConfigurationError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let reason = (error as NSError).localizedFailureReason ?? error.localizedDescription
            throw ConfigurationError(key: "config", message: "cannot read \(path): \(reason)")
        }
        try self.init(parsing: text, path: path)
    }
}

extension Configuration {
    /// The prefix of the environment variables that set keys (`LSTMD_MAX_STREAMS`).
    public static let environmentPrefix = "LSTMD_"

    /// `LSTMD_*` variables in `environment` that set no key (a misspelling is otherwise silently
    /// ignored), each with the closest key's variable when one is near.
    public static func unknownEnvironmentVariables(_ environment: [String: String]) -> [(variable: String, suggestion: String?)] {
        // Read elsewhere: the configuration file's path, the build's -march, test hooks.
        table.unknownEnvironmentVariables(
            environment, prefix: environmentPrefix, ignoring: ["LSTMD_CONFIG", "LSTMD_MARCH", "LSTMD_DEBUG_STALL_AFTER_MS", "LSTMD_DEBUG_PAUSE_PROMOTION"])
    }

    /// Sets `key` from its items.
    /// - Throws: `ConfigurationError` naming the key and `source` when the key is unknown or the
    ///   value has the wrong form. Ranges are checked later by `validate()`.
    public mutating func set(_ key: String, to values: [String], from source: ConfigurationSource) throws(ConfigurationError) {
        do {
            try Self.table.apply(key, values, to: &self)
        } catch {
            throw ConfigurationError(key: key, message: error.message, source: source.description)
        }
    }

    /// Applies every entry of `file`, in order.
    /// - Throws: `ConfigurationError` naming the key and line.
    public mutating func apply(_ file: ConfigurationFile) throws(ConfigurationError) {
        for entry in file.entries {
            try set(entry.key, to: entry.values, from: .file(path: file.path, line: entry.line))
        }
    }

    /// Builds the configuration from its layers, each overriding the one before:
    ///
    /// 1. the built-in defaults;
    /// 2. systemd's directories: `RUNTIME_DIRECTORY` makes the control endpoint
    ///    `ipc://$RUNTIME_DIRECTORY/control.sock`, `STATE_DIRECTORY` the state directory;
    /// 3. the configuration file: `file` when given (it must exist; empty means none), else
    ///    `LSTMD_CONFIG`, else `$CONFIGURATION_DIRECTORY/lstmd.conf` when systemd set that variable
    ///    and the file exists;
    /// 4. `LSTMD_<KEY>` environment variables (`LSTMD_MODEL`, `LSTMD_LOG_LEVEL`, …);
    /// 5. `commandLine`: (key, values) pairs from flags, in order.
    ///
    /// - Returns: the validated configuration and the path of the file read, if any.
    /// - Throws: `ConfigurationError` naming the key and where its value came from.
    public static func load(
        file: String?, environment: [String: String], commandLine: [(key: String, values: [String])] = []
    ) throws(ConfigurationError) -> (configuration: Configuration, file: String?) {
        let loaded = try loadWithSources(file: file, environment: environment, commandLine: commandLine)
        return (loaded.configuration, loaded.file)
    }

    /// `load`, also returning where each key's value came from (keys left at their default are
    /// absent), for messages about a value that validated but did not work and for the debug
    /// listing of the resolved configuration.
    public static func loadWithSources(
        file: String?, environment: [String: String], commandLine: [(key: String, values: [String])] = []
    ) throws(ConfigurationError) -> (configuration: Configuration, file: String?, sources: [String: ConfigurationSource]) {
        var configuration = Configuration()
        var origins: [String: ConfigurationSource] = [:]
        func set(_ key: String, _ values: [String], _ source: ConfigurationSource) throws(ConfigurationError) {
            try configuration.set(key, to: values, from: source)
            origins[key] = source
        }

        if let runtime = firstDirectory(environment["RUNTIME_DIRECTORY"]) {
            try set("control", ["ipc://\(runtime)/control.sock"], .systemd("RUNTIME_DIRECTORY"))
        }
        if let state = firstDirectory(environment["STATE_DIRECTORY"]) {
            try set("state_directory", [state], .systemd("STATE_DIRECTORY"))
        }

        let path = configurationPath(explicit: file, environment: environment)
        if let path {
            let parsed = try ConfigurationFile(contentsOfFile: path)
            for entry in parsed.entries {
                try set(entry.key, entry.values, .file(path: parsed.path, line: entry.line))
            }
        }

        for (key, variable, text) in table.environmentValues(environment, prefix: environmentPrefix) {
            let source = ConfigurationSource.environment(variable)
            try set(key.name, items(text, key: key.name, source: source), source)
        }

        for (key, values) in commandLine {
            let source = ConfigurationSource.commandLine(Self.key(named: key)?.flag ?? key)
            var all: [String] = []
            for value in values { all += try items(value, key: key, source: source) }
            try set(key, all, source)
        }

        do {
            try configuration.validate()
        } catch let error as ConfigurationError {
            var located = error
            located.source = origins[error.key].map(\.description) ?? located.source
            throw located
        } catch {
            throw ConfigurationError(key: "?", message: "\(error)")
        }
        return (configuration, path, origins)
    }

    /// The configuration file `load` reads: `explicit` when given (empty means none), else
    /// `LSTMD_CONFIG`, else `$CONFIGURATION_DIRECTORY/lstmd.conf` if it exists, else none.
    public static func configurationPath(explicit: String?, environment: [String: String]) -> String? {
        if let explicit { return explicit.isEmpty ? nil : explicit }
        if let named = environment["LSTMD_CONFIG"] { return named.isEmpty ? nil : named }
        if let directory = firstDirectory(environment["CONFIGURATION_DIRECTORY"]) {
            let candidate = directory + "/lstmd.conf"
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The first of systemd's colon-separated directories, or nil when unset or empty.
    static func firstDirectory(_ value: String?) -> String? {
        guard let first = value?.split(separator: ":").first, !first.isEmpty else { return nil }
        return String(first)
    }

    /// The items of one value (``ValueSyntax``), with errors naming `key` and `source`.
    static func items(_ text: String, key: String, source: ConfigurationSource) throws(ConfigurationError) -> [String] {
        do {
            return try ValueSyntax.items(text)
        } catch {
            throw ConfigurationError(key: key, message: error.message, source: source.description)
        }
    }
}
