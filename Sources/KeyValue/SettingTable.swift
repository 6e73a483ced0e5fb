/// Every key of one configuration, in the order files, help and renderings list them.
///
/// The table reads a ``KeyValueFile`` (refusing unknown keys with the closest one), picks its
/// keys out of an environment, reads `--flag value` arguments, checks values, and writes help
/// and `key = value` text, so one ``Setting`` entry is all a new key needs.
public struct SettingTable<Root>: Sendable {
    /// The settings, in order.
    public let settings: [Setting<Root>]
    private let index: [String: Int]

    public init(_ settings: [Setting<Root>]) {
        self.settings = settings
        var index: [String: Int] = [:]
        for (position, setting) in settings.enumerated() {
            precondition(index.updateValue(position, forKey: setting.name) == nil, "setting '\(setting.name)' declared twice")
        }
        self.index = index
    }

    /// Every key's name, in order.
    public var names: [String] { settings.map(\.name) }

    /// The setting called `name` (`-` read as `_`), if there is one.
    public func setting(named name: String) -> Setting<Root>? {
        index[String(name.map { $0 == "-" ? "_" : $0 })].map { settings[$0] }
    }

    /// The known name nearest to a misspelt `name`, if one is near.
    public func suggestion(for name: String) -> String? {
        closest(to: name, among: names)
    }

    /// Parses a file, refusing keys the table does not have.
    /// - Throws: `KeyValueError` with the line of the first problem.
    public func parse(_ text: String, path: String) throws(KeyValueError) -> KeyValueFile {
        try KeyValueFile(parsing: text, path: path, knownKeys: names)
    }

    /// Sets `name` in `root` from items.
    /// - Throws: `ValueError` for an unknown key or a value of the wrong form.
    public func apply(_ name: String, _ values: [String], to root: inout Root) throws(ValueError) {
        guard let setting = setting(named: name) else {
            throw ValueError("unknown key" + (suggestion(for: name).map { " (did you mean '\($0)'?)" } ?? ""))
        }
        try setting.apply(values, to: &root)
    }

    /// Each setting's problem in `root`, in table order.
    public func problems(in root: Root) -> [(name: String, message: String)] {
        settings.compactMap { setting in setting.problem(in: root).map { (setting.name, $0) } }
    }

    /// Every key as `key = value` lines, as a file spells them.
    public func render(_ root: Root) -> String {
        settings.map { "\($0.name) = \($0.text(in: root))\n" }.joined()
    }

    // MARK: Environment

    /// The variables of `environment` that set a key (`prefix` + the name in upper case), in
    /// table order.
    public func environmentValues(_ environment: [String: String], prefix: String) -> [(setting: Setting<Root>, variable: String, text: String)] {
        settings.compactMap { setting in
            let variable = setting.environmentVariable(prefix: prefix)
            return environment[variable].map { (setting, variable, $0) }
        }
    }

    /// Variables starting with `prefix` that set no key and are not in `ignoring`, sorted, each
    /// with the closest key's variable when one is near.
    public func unknownEnvironmentVariables(
        _ environment: [String: String], prefix: String, ignoring: Set<String> = []
    ) -> [(variable: String, suggestion: String?)] {
        let known = names.map { prefix + $0.uppercased() }
        let knownSet = Set(known)
        return environment.keys.filter { $0.hasPrefix(prefix) && !knownSet.contains($0) && !ignoring.contains($0) }.sorted().map {
            ($0, closest(to: $0, among: known))
        }
    }

    // MARK: Flags

    /// Reads `--key value` and `--key=value` arguments (dashes or underscores in the key; a
    /// value may start with `-`, as `--learning-rate -1`).
    ///
    /// A list setting's values from repeated flags are collected into one entry; for other
    /// settings the last flag wins.
    /// - Returns: per key, in order of first appearance: the key, the flag's raw values (each
    ///   in ``ValueSyntax``), and the flag as named in errors (the setting's canonical flag).
    /// - Throws: `ValueError` for an unknown flag (with the closest), a flag without a value, or
    ///   an argument that is not a flag.
    public func flags(_ arguments: [String]) throws(ValueError) -> [(key: String, values: [String], flag: String)] {
        var result: [(key: String, values: [String], flag: String)] = []
        var position: [String: Int] = [:]
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw ValueError("unexpected argument '\(argument)'")
            }
            var spelled = String(argument.dropFirst(2))
            var value: String?
            if let equals = spelled.firstIndex(of: "=") {
                value = String(spelled[spelled.index(after: equals)...])
                spelled = String(spelled[..<equals])
            }
            guard let setting = setting(named: spelled) ?? settings.first(where: { $0.flagAliases.contains("--" + spelled) }) else {
                let flags = settings.map(\.flag) + settings.flatMap(\.flagAliases)
                throw ValueError(
                    "unknown option '--\(spelled)'" + (closest(to: "--" + spelled, among: flags).map { " (did you mean '\($0)'?)" } ?? ""))
            }
            if value == nil {
                guard let next = remaining.first, !(next.hasPrefix("--") && next.count > 2) else {
                    throw ValueError("missing value for '\(setting.flag) <\(setting.valueName)>'")
                }
                value = remaining.removeFirst()
            }
            if let existing = position[setting.name] {
                if setting.isList { result[existing].values.append(value!) } else { result[existing].values = [value!] }
            } else {
                position[setting.name] = result.count
                result.append((setting.name, [value!], setting.flag))
            }
        }
        return result
    }

    /// One line per setting for `--help`: `--flag <value>: summary (default: …)`, with the
    /// defaults read from `defaults`.
    public func help(defaults: Root) -> String {
        settings.map { setting in
            var label = "\(setting.flag) <\(setting.valueName)>"
            if !setting.flagAliases.isEmpty { label += " (or \(setting.flagAliases.joined(separator: ", ")))" }
            let shown = setting.defaultDescription ?? setting.text(in: defaults)
            return "\(label): \(setting.summary) (default: \(shown.isEmpty ? "none" : shown))"
        }.joined(separator: "\n")
    }
}
