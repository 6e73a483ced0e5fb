/// A `key = value` file, as `lstmd.conf` and training recipes are written.
///
/// - One `key = value` per line (LF or CRLF line ends); blank lines and lines starting with `#`
///   are skipped.
/// - A key is lower-case letters, digits, `_` and `-`; `-` reads as `_` (`learning-rate` is
///   `learning_rate`). A key set twice is refused, naming the first line.
/// - The value follows ``ValueSyntax``: comma-separated items, bare or double-quoted with
///   `\"`, `\\`, `\n`, `\t` escapes, `#` comments after white space; an empty value is no items.
///
/// Which keys exist and what their values mean is the business of a ``SettingTable``.
public struct KeyValueFile: Sendable, Equatable {
    /// One `key = value` line.
    public struct Entry: Sendable, Equatable {
        /// The key, with `-` read as `_`.
        public var key: String
        /// The value's items.
        public var values: [String]
        /// The 1-based line number.
        public var line: Int

        public init(key: String, values: [String], line: Int) {
            self.key = key
            self.values = values
            self.line = line
        }
    }

    /// The file's path, as named in errors.
    public var path: String
    /// The entries in file order.
    public var entries: [Entry]

    /// Parses `text`.
    /// - Parameters:
    ///   - path: named in errors.
    ///   - knownKeys: when given, a key not in it is refused (with the closest known key).
    /// - Throws: `KeyValueError` with the line of the first problem.
    public init(parsing text: String, path: String, knownKeys: [String]? = nil) throws(KeyValueError) {
        self.path = path
        entries = []
        var seen: [String: Int] = [:]
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let number = index + 1
            let line = ValueSyntax.trimmed(rawLine)
            if line.isEmpty || line.hasPrefix("#") { continue }
            func fail(_ key: String, _ reason: KeyValueError.Reason) -> KeyValueError {
                KeyValueError(path: path, line: number, key: key, reason: reason, text: line)
            }
            guard let equals = line.firstIndex(of: "=") else { throw fail(String(line.prefix(40)), .notKeyValue) }
            let written = ValueSyntax.trimmed(line[..<equals])
            guard !written.isEmpty, written.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" })
            else { throw fail(written, .malformedKey) }
            let key = String(written.map { $0 == "-" ? "_" : $0 })
            if let knownKeys, !knownKeys.contains(key) {
                throw fail(key, .unknownKey(suggestion: closest(to: key, among: knownKeys), known: knownKeys))
            }
            if let first = seen[key] { throw fail(key, .duplicate(firstLine: first)) }
            seen[key] = number
            do {
                entries.append(Entry(key: key, values: try ValueSyntax.items(String(line[line.index(after: equals)...])), line: number))
            } catch {
                throw fail(key, .value(error.message))
            }
        }
    }
}

/// A line of a `key = value` file that cannot be read.
public struct KeyValueError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong with the line.
    public enum Reason: Sendable, Equatable {
        /// No `=` on the line.
        case notKeyValue
        /// The text before `=` is not a key.
        case malformedKey
        /// A key the table does not have, with the closest one when one is near.
        case unknownKey(suggestion: String?, known: [String])
        /// The key was already set on `firstLine`.
        case duplicate(firstLine: Int)
        /// The value's syntax (``ValueSyntax``) is wrong.
        case value(String)
    }

    /// The file, as named by the caller.
    public var path: String
    /// The 1-based line number.
    public var line: Int
    /// The key (as written for `malformedKey`, the line's start for `notKeyValue`).
    public var key: String
    public var reason: Reason
    /// The line, trimmed.
    public var text: String

    /// `path:line`.
    public var location: String { "\(path):\(line)" }

    /// The problem without location or key, e.g. `set twice (first on line 3)`.
    public var message: String {
        switch reason {
        case .notKeyValue: "expected 'key = value'"
        case .malformedKey: "a key is lower-case letters, digits, '_' and '-' before '='"
        case .unknownKey(let suggestion?, _): "unknown key (did you mean '\(suggestion)'?)"
        case .unknownKey(nil, let known): "unknown key (known: \(known.joined(separator: ", ")))"
        case .duplicate(let first): "set twice (first on line \(first))"
        case .value(let message): message
        }
    }

    public var description: String { "\(location): \(key): \(message)" }
}

/// The candidate nearest to `name` by edit distance, when it is near enough to be a likely
/// misspelling (at most 3 edits, and fewer than half of `name`'s characters).
public func closest(to name: String, among candidates: [String]) -> String? {
    let target = Array(name)
    let scored = candidates.map { ($0, editDistance(target, Array($0))) }.min { $0.1 < $1.1 }
    guard let (candidate, distance) = scored, distance <= 3, distance * 2 < max(target.count, 2) else { return nil }
    return candidate
}

/// Levenshtein distance.
func editDistance(_ a: [Character], _ b: [Character]) -> Int {
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
