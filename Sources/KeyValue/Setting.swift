/// One key of a configuration: its name, its help text, how its value is read, checked and
/// written. A ``SettingTable`` of these drives a configuration's file, environment variables,
/// flags, help and rendering, so a key is declared once.
///
/// The name is the file's spelling (`max_streams`); the flag is `--max-streams`; an
/// environment variable is the table's prefix and the name in upper case (`LSTMD_MAX_STREAMS`).
public struct Setting<Root>: Sendable {
    /// The key's name in files (lower-case, `_`-separated).
    public let name: String
    /// One or two sentences for help and documentation, without the default.
    public let summary: String
    /// The flag's argument in help (`n`, `seconds`, `path`).
    public let valueName: String
    /// How the default reads in help when its rendering alone would mislead (`the model's hop`);
    /// nil shows the rendered default.
    public let defaultDescription: String?
    /// Further flag spellings (`--max-timesteps`), with dashes.
    public let flagAliases: [String]
    /// Whether the value is a list: a repeated flag adds items instead of replacing them.
    public let isList: Bool
    private let assign: @Sendable (inout Root, [String]) throws(ValueError) -> Void
    private let read: @Sendable (Root) -> String
    private let check: @Sendable (Root) -> String?

    /// A setting stored at `keyPath`, read and written in `format`.
    /// - Parameters:
    ///   - validate: returns what is wrong with a value that parsed (a range, an absolute path),
    ///     or nil when it is fine; ``SettingTable/problems(in:)`` runs it.
    public init<Value>(
        _ name: String, _ keyPath: WritableKeyPath<Root, Value> & Sendable, _ format: ValueFormat<Value>,
        valueName: String? = nil, default defaultDescription: String? = nil, flagAliases: [String] = [],
        summary: String, validate: (@Sendable (Value) -> String?)? = nil
    ) {
        precondition(
            !name.isEmpty && name.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" },
            "setting name '\(name)' must be lower-case letters, digits and '_'")
        self.name = name
        self.summary = summary
        self.valueName = valueName ?? format.valueName
        self.defaultDescription = defaultDescription
        self.flagAliases = flagAliases
        isList = format.isList
        assign = { root, values throws(ValueError) in root[keyPath: keyPath] = try format.parse(values) }
        read = { format.render($0[keyPath: keyPath]) }
        check = { root in validate?(root[keyPath: keyPath]) }
    }

    /// `--` and the name with dashes.
    public var flag: String { "--" + String(name.map { $0 == "_" ? "-" : $0 }) }

    /// `prefix` and the name in upper case (`LSTMD_` → `LSTMD_MAX_STREAMS`).
    public func environmentVariable(prefix: String) -> String { prefix + name.uppercased() }

    /// Sets the value in `root` from its items.
    /// - Throws: `ValueError` when the items do not read as this setting's value.
    public func apply(_ values: [String], to root: inout Root) throws(ValueError) {
        try assign(&root, values)
    }

    /// The value in `root` as a file spells it (`""` for unset).
    public func text(in root: Root) -> String { read(root) }

    /// What is wrong with the value in `root`, or nil.
    public func problem(in root: Root) -> String? { check(root) }
}

/// Range checks for ``Setting``'s `validate`, worded `must be <rule>, got <value>`.
public enum Rule {
    /// Nil when `isValid(value)`, else `must be <rule>, got <value>`.
    public static func check<Value>(
        _ rule: String, _ isValid: @escaping @Sendable (Value) -> Bool
    ) -> @Sendable (Value) -> String? {
        { value in isValid(value) ? nil : "must be \(rule), got \(value)" }
    }

    /// An optional value: nil is fine, else as `check`.
    public static func checkIfSet<Value>(
        _ rule: String, _ isValid: @escaping @Sendable (Value) -> Bool
    ) -> @Sendable (Value?) -> String? {
        { value in value.flatMap { isValid($0) ? nil : "must be \(rule), got \($0)" } }
    }
}
