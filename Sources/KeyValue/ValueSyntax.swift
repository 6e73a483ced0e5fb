/// A value that does not fit its key, or a value whose syntax is wrong. The caller adds the key
/// and where the value came from (`path:line`, an environment variable, a flag).
public struct ValueError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, e.g. `must be an integer, got 'many'`.
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// The syntax of one value: what follows `=` in a file, an `LSTMD_<KEY>` variable's text, or the
/// argument of a flag.
///
/// - A value is a comma-separated list of items. An item is bare text (surrounding white space
///   removed) or a double-quoted string with the escapes `\"`, `\\`, `\n` and `\t`. A quote may
///   only start an item.
/// - `#` starts a comment at the start of the value or after white space, outside quotes
///   (`/var/lib/x#y` keeps its `#`; `/a # note` does not).
/// - An empty value is no items; an empty item inside a list (`a,,b`, `a,`) is refused.
public enum ValueSyntax {
    /// Splits `text` into its items.
    /// - Throws: `ValueError` for an empty item, an unterminated or misplaced quote, or an
    ///   unknown escape.
    public static func items(_ text: String) throws(ValueError) -> [String] {
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
                    guard character == "\\" else {
                        item.append(character)
                        continue
                    }
                    guard index < characters.count, let escaped = escapes[characters[index]] else {
                        let shown = index < characters.count ? "\\\(characters[index])" : "\\"
                        throw ValueError("unknown escape '\(shown)' (escapes inside quotes: \\\" \\\\ \\n \\t)")
                    }
                    item.append(escaped)
                    index += 1
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
                items.append(trimmed(item))
            }
            if atEnd() { return items }
            guard characters[index] == "," else { throw ValueError("unexpected text after a quoted string") }
            index += 1
        }
    }

    /// `items` spelled so that `items(_:)` reads them back: each item bare when it can be,
    /// quoted otherwise, joined by `, `.
    public static func text(of items: [String]) -> String {
        items.map(quotedIfNeeded).joined(separator: ", ")
    }

    /// `item` bare when `items(_:)` reads it back as one item, else double-quoted with escapes.
    public static func quotedIfNeeded(_ item: String) -> String {
        let plain =
            !item.isEmpty && trimmed(item) == item && !item.contains(",") && !item.contains("\"")
            && !item.contains("\n") && !item.contains(" #") && !item.contains("\t#") && !item.hasPrefix("#")
        if plain { return item }
        var quoted = "\""
        for character in item {
            switch character {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\t": quoted += "\\t"
            default: quoted.append(character)
            }
        }
        return quoted + "\""
    }

    private static let escapes: [Character: Character] = ["\"": "\"", "\\": "\\", "n": "\n", "t": "\t"]

    static func trimmed<S: StringProtocol>(_ text: S) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = text.firstIndex(where: { !isSpace($0) }), let last = text.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(text[first...last])
    }
}
