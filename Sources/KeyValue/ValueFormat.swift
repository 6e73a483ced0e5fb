/// How a setting's items (``ValueSyntax``) become a typed value, and how the value is written
/// back so that reading it again gives the same value.
public struct ValueFormat<Value>: Sendable {
    /// Shown in help as the flag's argument: `n`, `seconds`, `path`.
    public var valueName: String
    /// Whether the value is a list (a repeated flag adds to it rather than replacing it).
    public var isList: Bool
    /// Reads the items.
    public var parse: @Sendable ([String]) throws(ValueError) -> Value
    /// Writes the value as a file would spell it.
    public var render: @Sendable (Value) -> String

    public init(
        valueName: String, isList: Bool = false, parse: @escaping @Sendable ([String]) throws(ValueError) -> Value,
        render: @escaping @Sendable (Value) -> String
    ) {
        self.valueName = valueName
        self.isList = isList
        self.parse = parse
        self.render = render
    }

    /// A single-item format from a function of the item's text.
    public static func single(
        _ valueName: String, render: @escaping @Sendable (Value) -> String,
        parse: @escaping @Sendable (String) throws(ValueError) -> Value
    ) -> ValueFormat {
        ValueFormat(valueName: valueName, parse: { values throws(ValueError) in try parse(required(values)) }, render: render)
    }

    /// Nil for no value (an empty value means "unset"), else the value in `format`.
    public static func optional<Wrapped>(_ format: ValueFormat<Wrapped>) -> ValueFormat<Wrapped?> where Value == Wrapped? {
        ValueFormat<Wrapped?>(
            valueName: format.valueName, isList: format.isList,
            parse: { values throws(ValueError) in
                if values.isEmpty || values == [""] { return nil }
                return try format.parse(values)
            },
            render: { $0.map(format.render) ?? "" })
    }
}

/// The single item of `values`.
/// - Throws: `ValueError` for none (`needs a value`) or several.
public func required(_ values: [String]) throws(ValueError) -> String {
    guard values.count <= 1 else { throw ValueError("takes one value, got \(values.count)") }
    guard let value = values.first, !value.isEmpty else { throw ValueError("needs a value") }
    return value
}

extension ValueFormat where Value == String {
    /// Any text (written quoted when it holds a comma, a quote or a comment).
    public static func text(_ valueName: String = "text") -> ValueFormat {
        .single(valueName, render: { ValueSyntax.quotedIfNeeded($0) }, parse: { $0 })
    }
}

extension ValueFormat where Value == [String] {
    /// A list of texts; an empty value is the empty list.
    public static func list(_ valueName: String) -> ValueFormat {
        ValueFormat(valueName: valueName, isList: true, parse: { $0 }, render: { ValueSyntax.text(of: $0) })
    }
}

extension ValueFormat where Value: FixedWidthInteger & Sendable {
    /// An integer; `_` may group digits (`10_000`).
    public static var integer: ValueFormat {
        .single("n", render: { "\($0)" }) { text throws(ValueError) in
            guard let value = Value(String(text.filter { $0 != "_" })) else {
                throw ValueError("must be an integer, got '\(text)'")
            }
            return value
        }
    }

    /// A number of bytes: an integer with an optional unit `B`, `kB`/`KB`, `MB`, `GB`, `TB`
    /// (powers of 1000) or `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024): `268435456`, `256MiB`,
    /// `256 MiB`.
    public static var bytes: ValueFormat {
        .single("bytes", render: { "\($0)" }) { text throws(ValueError) in
            let digits = text.prefix { $0.isNumber || $0 == "_" }
            let unit = ValueSyntax.trimmed(text.dropFirst(digits.count))
            let scale: [String: UInt64] = [
                "": 1, "B": 1, "kB": 1000, "KB": 1000, "MB": 1_000_000, "GB": 1_000_000_000, "TB": 1_000_000_000_000,
                "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
            ]
            guard let number = Value(String(digits.filter { $0 != "_" })), let unitScale = scale[unit] else {
                throw ValueError("must be a number of bytes (e.g. 268435456 or 256MiB), got '\(text)'")
            }
            guard let factor = Value(exactly: unitScale) else { throw ValueError("is too large: '\(text)'") }
            let (product, overflow) = number.multipliedReportingOverflow(by: factor)
            guard !overflow else { throw ValueError("is too large: '\(text)'") }
            return product
        }
    }
}

extension ValueFormat where Value: BinaryFloatingPoint & LosslessStringConvertible & Sendable {
    /// A number (`0.5`, `1e-5`, `nan` and `inf` included: range checks are the setting's).
    public static var number: ValueFormat {
        .single("x", render: { "\($0)" }) { text throws(ValueError) in
            guard let value = Value(text) else { throw ValueError("must be a number, got '\(text)'") }
            return value
        }
    }

    /// A finite number of seconds (`2.5`).
    public static var seconds: ValueFormat {
        .single("seconds", render: { "\($0)" }) { text throws(ValueError) in
            guard let value = Value(text), value.isFinite else {
                throw ValueError("must be a number of seconds, got '\(text)'")
            }
            return value
        }
    }
}

extension ValueFormat where Value == Bool {
    /// `true`/`yes`/`on`/`1` or `false`/`no`/`off`/`0`, any case; written `true` or `false`.
    public static var boolean: ValueFormat {
        .single("bool", render: { "\($0)" }) { text throws(ValueError) in
            switch text.lowercased() {
            case "true", "yes", "1", "on": return true
            case "false", "no", "0", "off": return false
            default: throw ValueError("must be true or false, got '\(text)'")
            }
        }
    }
}

extension ValueFormat where Value: RawRepresentable & CaseIterable & Sendable, Value.RawValue == String {
    /// One of the cases' raw values.
    /// - Parameter orEmpty: appended to the error as `(or empty for …)` when the setting is
    ///   optional.
    public static func choice(orEmpty: String? = nil) -> ValueFormat {
        .single(Value.allCases.map(\.rawValue).joined(separator: "|"), render: { $0.rawValue }) { text throws(ValueError) in
            guard let value = Value(rawValue: text) else {
                let names = Value.allCases.map(\.rawValue)
                let spelled = names.count > 1 ? names.dropLast().joined(separator: ", ") + " or " + names.last! : names.joined()
                throw ValueError("must be \(spelled)\(orEmpty.map { " (or empty for \($0))" } ?? ""), got '\(text)'")
            }
            return value
        }
    }
}
