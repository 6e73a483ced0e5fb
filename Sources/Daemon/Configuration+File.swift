import Foundation
import LSTMKit

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

/// A configuration file: one `key = value` per line.
///
/// - `#` starts a comment at the start of a line or after white space (outside quotes).
/// - A value is a comma-separated list of items; an item is bare text (surrounding white space
///   removed) or a double-quoted string with `\"` and `\\` escapes. Scalar keys take one item;
///   an empty value means "the default" (for lists: none).
/// - Keys are those of ``Configuration/keys``; an unknown key or a key set twice is refused with
///   its line number.
public struct ConfigurationFile: Sendable, Equatable {
    /// One `key = value` line.
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var values: [String]
        public var line: Int
    }

    /// The file's path, as named in errors.
    public var path: String
    /// The entries in file order.
    public var entries: [Entry]

    /// Parses `text`.
    /// - Parameter path: named in errors.
    /// - Throws: `ConfigurationError` whose `source` is `path:line`.
    public init(parsing text: String, path: String) throws(ConfigurationError) {
        self.path = path
        entries = []
        var seen: [String: Int] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let source = ConfigurationSource.file(path: path, line: number).description
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigurationError(key: String(line.prefix(40)), message: "expected 'key = value'", source: source)
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }) else {
                throw ConfigurationError(
                    key: key, message: "a key is lower-case letters, digits and '_' before '='", source: source)
            }
            guard Configuration.key(named: key) != nil else {
                throw ConfigurationError(
                    key: key, message: "unknown key (known: \(Configuration.keys.map(\.name).joined(separator: ", ")))",
                    source: source)
            }
            if let first = seen[key] {
                throw ConfigurationError(key: key, message: "set twice (first on line \(first))", source: source)
            }
            seen[key] = number
            let values: [String]
            do {
                values = try Configuration.parseValue(String(line[line.index(after: equals)...]))
            } catch {
                throw ConfigurationError(key: key, message: error.message, source: source)
            }
            entries.append(Entry(key: key, values: values, line: number))
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

/// A value that does not fit its key; the caller adds the key and source.
struct ValueError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

extension Configuration {
    /// One configuration key: its name in files (`max_streams`), environment (`LSTMD_MAX_STREAMS`)
    /// and on the command line (`--max-streams`), and how a value is applied.
    public struct Key: Sendable {
        /// The key's name in configuration files.
        public let name: String
        let apply: @Sendable (inout Configuration, [String]) throws -> Void

        /// The environment variable that sets this key.
        public var environmentVariable: String { "LSTMD_" + name.uppercased() }
        /// The command-line flag that sets this key.
        public var flag: String { "--" + name.replacingOccurrences(of: "_", with: "-") }
    }

    /// Every key a configuration file, the environment or the command line may set.
    public static let keys: [Key] = [
        Key(name: "model") { $0.modelPath = try optional($1) },
        Key(name: "ingest") { $0.ingestEndpoints = $1 },
        Key(name: "publish") { $0.publishEndpoints = $1 },
        Key(name: "control") { $0.controlEndpoints = $1 },
        Key(name: "mode") { configuration, values in
            guard let text = try optional(values) else { configuration.mode = nil; return }
            guard let mode = StreamingMode(rawValue: text) else {
                throw ValueError("must be window or continuous (or empty for the model's), got '\(text)'")
            }
            configuration.mode = mode
        },
        Key(name: "hop") { $0.hop = try optional($1).map(integer) },
        Key(name: "max_streams") { $0.maxStreams = try integer(required($1)) },
        Key(name: "idle_timeout") { $0.idleTimeout = try seconds(required($1)) },
        Key(name: "stop_drain_timeout") { $0.stopDrainTimeout = try seconds(required($1)) },
        Key(name: "max_timesteps_per_frame") { $0.maxTimestepsPerFrame = try integer(required($1)) },
        Key(name: "max_message_bytes") { $0.maxMessageBytes = try integer(required($1)) },
        Key(name: "receive_hwm") { $0.receiveHighWaterMark = try integer(required($1)) },
        Key(name: "send_hwm") { $0.sendHighWaterMark = try integer(required($1)) },
        Key(name: "log_level") { $0.logLevel = try required($1) },
        Key(name: "log_destination") { $0.logDestination = try required($1) },
        Key(name: "metrics") { $0.metricsAddress = try optional($1) },
        Key(name: "state_directory") { $0.stateDirectory = try optional($1) },
    ]

    /// The value of `key` as a configuration file would spell it (`""` for unset), for the
    /// debug listing of the resolved configuration at start.
    public func text(of key: String) -> String {
        switch key {
        case "model": modelPath ?? ""
        case "ingest": ingestEndpoints.joined(separator: ", ")
        case "publish": publishEndpoints.joined(separator: ", ")
        case "control": controlEndpoints.joined(separator: ", ")
        case "mode": mode?.rawValue ?? ""
        case "hop": hop.map(String.init) ?? ""
        case "max_streams": String(maxStreams)
        case "idle_timeout": "\(idleTimeout)"
        case "stop_drain_timeout": "\(stopDrainTimeout)"
        case "max_timesteps_per_frame": String(maxTimestepsPerFrame)
        case "max_message_bytes": String(maxMessageBytes)
        case "receive_hwm": String(receiveHighWaterMark)
        case "send_hwm": String(sendHighWaterMark)
        case "log_level": logLevel
        case "log_destination": logDestination
        case "metrics": metricsAddress ?? ""
        case "state_directory": stateDirectory ?? ""
        default: "?"
        }
    }

    /// `LSTMD_*` variables in `environment` that set no key (a misspelling is otherwise silently
    /// ignored), each with the closest key's variable when one is near.
    public static func unknownEnvironmentVariables(_ environment: [String: String]) -> [(variable: String, suggestion: String?)] {
        let known = Set(keys.map(\.environmentVariable))
        // Read elsewhere: the configuration file's path, the build's -march, test hooks.
        let other: Set<String> = ["LSTMD_CONFIG", "LSTMD_MARCH", "LSTMD_DEBUG_STALL_AFTER_MS"]
        return environment.keys.filter { $0.hasPrefix("LSTMD_") && !known.contains($0) && !other.contains($0) }.sorted().map { variable in
            let scored = known.map { ($0, editDistance(Array(variable), Array($0))) }.min { $0.1 < $1.1 }
            return (variable, scored.flatMap { $0.1 <= 3 ? $0.0 : nil })
        }
    }

    private static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, y) in b.enumerated() {
                current[j + 1] = Swift.min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// The key called `name`, if there is one.
    public static func key(named name: String) -> Key? {
        keys.first { $0.name == name }
    }

    /// Sets `key` from its textual values.
    /// - Throws: `ConfigurationError` naming the key and `source` when the key is unknown or the
    ///   value has the wrong form. Ranges are checked later by `validate()`.
    public mutating func set(_ key: String, to values: [String], from source: ConfigurationSource) throws(ConfigurationError) {
        guard let entry = Self.key(named: key) else {
            throw ConfigurationError(key: key, message: "unknown key", source: source.description)
        }
        do {
            try entry.apply(&self, values)
        } catch let error as ValueError {
            throw ConfigurationError(key: key, message: error.message, source: source.description)
        } catch {
            throw ConfigurationError(key: key, message: "\(error)", source: source.description)
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

        for key in keys {
            guard let text = environment[key.environmentVariable] else { continue }
            let source = ConfigurationSource.environment(key.environmentVariable)
            let values: [String]
            do {
                values = try parseValue(text)
            } catch {
                throw ConfigurationError(key: key.name, message: error.message, source: source.description)
            }
            try set(key.name, values, source)
        }

        for (key, values) in commandLine {
            let flag = Self.key(named: key)?.flag ?? key
            var items: [String] = []
            for value in values {
                do {
                    items += try parseValue(value)
                } catch {
                    throw ConfigurationError(key: key, message: error.message, source: flag)
                }
            }
            try set(key, items, .commandLine(flag))
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

    // MARK: Values

    /// Splits a value into its comma-separated items (bare or double-quoted); a `#` at the start
    /// or after white space begins a comment. An empty value is no items.
    static func parseValue(_ text: String) throws(ValueError) -> [String] {
        let characters = Array(text)
        var index = 0
        func skipSpace() {
            while index < characters.count, characters[index] == " " || characters[index] == "\t" { index += 1 }
        }
        func atEnd() -> Bool { index == characters.count || characters[index] == "#" }
        var items: [String] = []
        skipSpace()
        if atEnd() { return [] }
        while true {
            skipSpace()
            if atEnd() || characters[index] == "," { throw ValueError("empty item in a list") }
            if characters[index] == "\"" {
                index += 1
                var item = ""
                var closed = false
                while index < characters.count {
                    let character = characters[index]
                    index += 1
                    if character == "\"" {
                        closed = true
                        break
                    }
                    if character == "\\" {
                        guard index < characters.count, characters[index] == "\"" || characters[index] == "\\" else {
                            throw ValueError("only \\\" and \\\\ are escapes inside quotes")
                        }
                        item.append(characters[index])
                        index += 1
                    } else {
                        item.append(character)
                    }
                }
                guard closed else { throw ValueError("unterminated quoted string") }
                items.append(item)
                skipSpace()
            } else {
                var item = ""
                while index < characters.count, characters[index] != "," {
                    let character = characters[index]
                    if character == "#", let last = item.last, last == " " || last == "\t" { break }
                    guard character != "\"" else { throw ValueError("a quote may only start an item") }
                    item.append(character)
                    index += 1
                }
                items.append(item.trimmingCharacters(in: .whitespaces))
            }
            if atEnd() { return items }
            guard characters[index] == "," else { throw ValueError("unexpected text after a quoted string") }
            index += 1
        }
    }

    private static func optional(_ values: [String]) throws(ValueError) -> String? {
        guard values.count <= 1 else { throw ValueError("takes one value, got \(values.count)") }
        guard let value = values.first, !value.isEmpty else { return nil }
        return value
    }

    private static func required(_ values: [String]) throws(ValueError) -> String {
        guard let value = try optional(values) else { throw ValueError("needs a value") }
        return value
    }

    private static func integer(_ text: String) throws(ValueError) -> Int {
        guard let value = Int(text.replacingOccurrences(of: "_", with: "")) else {
            throw ValueError("must be an integer, got '\(text)'")
        }
        return value
    }

    private static func seconds(_ text: String) throws(ValueError) -> Double {
        guard let value = Double(text), value.isFinite else { throw ValueError("must be a number of seconds, got '\(text)'") }
        return value
    }
}
