import Foundation

/// Splits CSV bytes into rows of fields (RFC 4180): fields separated by `,`, rows by `\n` or
/// `\r\n`; a field may be quoted with `"`, with `""` standing for one quote inside, and may then
/// span lines. Blanks around unquoted fields are dropped. Blank lines are skipped.
struct CSVRowScanner {
    /// One field: its bytes (without quotes), where it starts, and whether it holds `""` escapes.
    struct Field {
        var start: Int
        var end: Int
        var line: Int
        var column: Int
        var quoted: Bool
        var escaped: Bool
    }

    let bytes: UnsafeBufferPointer<UInt8>
    let source: String
    private var position = 0
    private var line = 1
    private var lineStart = 0

    init(bytes: UnsafeBufferPointer<UInt8>, source: String) {
        self.bytes = bytes
        self.source = source
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF {
            position = 3
            lineStart = 3
        }
    }

    /// Reads the next non-blank row into `fields`; returns its line, or `nil` at the end.
    mutating func nextRow(into fields: inout [Field]) throws -> Int? {
        while true {
            guard position < bytes.count else { return nil }
            let rowLine = line
            fields.removeAll(keepingCapacity: true)
            var atRowEnd = false
            while !atRowEnd {
                let field = try nextField(&atRowEnd)
                fields.append(field)
            }
            if fields.count == 1 && !fields[0].quoted && fields[0].start == fields[0].end { continue }
            return rowLine
        }
    }

    /// Reads one field and the separator after it; sets `atRowEnd` after a line break or at EOF.
    private mutating func nextField(_ atRowEnd: inout Bool) throws -> Field {
        while position < bytes.count && DecimalScanner.isBlank(bytes[position]) { position += 1 }
        let column = position - lineStart + 1
        let fieldLine = line
        if position < bytes.count && bytes[position] == UInt8(ascii: "\"") {
            let start = position + 1
            var i = start
            var escaped = false
            while true {
                guard i < bytes.count else {
                    throw DatasetError(
                        .invalidRow, source: source, line: fieldLine, column: column,
                        message: "quoted field is not closed")
                }
                let byte = bytes[i]
                if byte == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") {
                        escaped = true
                        i += 2
                        continue
                    }
                    break
                }
                if byte == UInt8(ascii: "\n") {
                    line += 1
                    lineStart = i + 1
                }
                i += 1
            }
            let field = Field(start: start, end: i, line: fieldLine, column: column, quoted: true, escaped: escaped)
            position = i + 1
            while position < bytes.count && DecimalScanner.isBlank(bytes[position]) { position += 1 }
            try endField(&atRowEnd, afterQuote: true)
            return field
        }
        let start = position
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "\n") { break }
            if byte == UInt8(ascii: "\r") && (position + 1 == bytes.count || bytes[position + 1] == UInt8(ascii: "\n")) {
                break
            }
            if byte == UInt8(ascii: "\"") {
                throw DatasetError(
                    .invalidRow, source: source, line: line, column: position - lineStart + 1,
                    message: "quote inside an unquoted field; quote the whole field")
            }
            position += 1
        }
        var end = position
        while end > start && DecimalScanner.isBlank(bytes[end - 1]) { end -= 1 }
        try endField(&atRowEnd, afterQuote: false)
        return Field(start: start, end: end, line: fieldLine, column: column, quoted: false, escaped: false)
    }

    /// Consumes the `,`, line break or end of input after a field.
    private mutating func endField(_ atRowEnd: inout Bool, afterQuote: Bool) throws {
        guard position < bytes.count else {
            atRowEnd = true
            return
        }
        switch bytes[position] {
        case UInt8(ascii: ","):
            position += 1
        case UInt8(ascii: "\n"):
            position += 1
            newLine(&atRowEnd)
        case UInt8(ascii: "\r") where position + 1 == bytes.count || bytes[position + 1] == UInt8(ascii: "\n"):
            position = min(position + 2, bytes.count)
            newLine(&atRowEnd)
        default:
            precondition(afterQuote, "an unquoted field ends only at ',', a line break or the end")
            throw DatasetError(
                .invalidRow, source: source, line: line, column: position - lineStart + 1,
                message: "unexpected character after a closing quote")
        }
    }

    private mutating func newLine(_ atRowEnd: inout Bool) {
        line += 1
        lineStart = position
        atRowEnd = true
    }

    /// The text of a field, with `""` unescaped.
    func string(_ field: Field) -> String {
        let text = DecimalScanner.string(bytes, field.start, field.end)
        return field.escaped ? text.replacingOccurrences(of: "\"\"", with: "\"") : text
    }
}
