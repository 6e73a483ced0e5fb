/// Byte-level helpers shared by the dataset parsers: decimal numbers and whitespace.
///
/// Numbers are read straight from the UTF-8 bytes of the file, without allocating a `String` per
/// value. The accepted grammar is plain decimal: `[+-]? (digits [. digits?] | . digits)
/// ([eE] [+-]? digits)?`. Hexadecimal floats, `nan` and `inf` are refused.
enum DecimalScanner {
    /// The outcome of reading one value.
    enum Result: Equatable {
        /// A finite number, correctly rounded to `Float`.
        case value(Float)
        /// The token is `?`, the `.ts` marker for a missing value.
        case missing
        /// The token is empty.
        case empty
        /// The token spells NaN or infinity.
        case notFinite
        /// The number is too large in magnitude for `Float`.
        case outOfRange
        /// Anything else that is not a decimal number.
        case invalid
    }

    /// Exact powers of ten as `Float` (10^10 = 2^10 · 5^10 and 5^10 < 2^24).
    private static let powersOfTen: [Float] = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10]

    /// Reads the number in `bytes[start..<end]` (already trimmed of surrounding blanks).
    ///
    /// Short mantissas (up to 2^24) with small exponents (|e| ≤ 10) take Clinger's fast path: both
    /// operands are exact in `Float`, so one IEEE multiplication or division rounds correctly.
    /// Everything else goes through the standard library's correctly rounded conversion.
    @inline(__always)
    static func scan(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Result {
        if start == end { return .empty }
        var i = start
        var negative = false
        if bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") {
            negative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var exponent = 0
        var sawDigit = false
        var truncated = false
        while i < end, bytes[i] &- 48 < 10 {
            let digit = UInt64(bytes[i] &- 48)
            sawDigit = true
            if mantissa != 0 || digit != 0 {
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ digit
                    digits += 1
                } else {
                    truncated = true
                }
            }
            i += 1
        }
        if i < end, bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < end, bytes[i] &- 48 < 10 {
                let digit = UInt64(bytes[i] &- 48)
                sawDigit = true
                if mantissa == 0 && digit == 0 {
                    exponent -= 1
                } else if digits < 19 {
                    mantissa = mantissa &* 10 &+ digit
                    digits += 1
                    exponent -= 1
                } else {
                    truncated = true
                }
                i += 1
            }
        }
        guard sawDigit else { return classifyNonNumber(bytes, start, end) }
        if i < end, bytes[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            var exponentNegative = false
            if i < end, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") {
                exponentNegative = bytes[i] == UInt8(ascii: "-")
                i += 1
            }
            var written = 0
            var sawExponentDigit = false
            while i < end, bytes[i] &- 48 < 10 {
                sawExponentDigit = true
                if written < 100_000 { written = written * 10 + Int(bytes[i] &- 48) }
                i += 1
            }
            guard sawExponentDigit else { return .invalid }
            exponent += exponentNegative ? -written : written
        }
        guard i == end else { return .invalid }
        if mantissa == 0 { return .value(negative ? -0.0 : 0.0) }
        if !truncated && mantissa <= 1 << 24 && exponent >= -10 && exponent <= 10 {
            let m = Float(mantissa)
            let magnitude = exponent < 0 ? m / powersOfTen[-exponent] : m * powersOfTen[exponent]
            return .value(negative ? -magnitude : magnitude)
        }
        return slowPath(bytes, start, end)
    }

    /// The correctly rounded conversion for long mantissas and large exponents.
    private static func slowPath(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Result {
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        guard let value = Float(text), value.isFinite else { return .outOfRange }
        return .value(value)
    }

    /// Tells `?`, NaN/infinity spellings and other garbage apart, for precise error messages.
    private static func classifyNonNumber(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Result {
        if end - start == 1 && bytes[start] == UInt8(ascii: "?") { return .missing }
        var i = start
        if bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
        let word = String(decoding: UnsafeBufferPointer(rebasing: bytes[i..<end]), as: UTF8.self).lowercased()
        return word == "nan" || word == "inf" || word == "infinity" ? .notFinite : .invalid
    }

    /// `true` for space and horizontal tab.
    @inline(__always)
    static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    /// Narrows `start..<end` to exclude leading and trailing spaces, tabs and carriage returns.
    @inline(__always)
    static func trim(_ bytes: UnsafeBufferPointer<UInt8>, _ start: inout Int, _ end: inout Int) {
        while end > start, isBlank(bytes[end - 1]) || bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        while start < end, isBlank(bytes[start]) { start += 1 }
    }

    /// The text of `bytes[start..<end]`.
    static func string(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    /// A short quotation of a token for error messages, cut at 40 characters.
    static func quote(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
        let text = string(bytes, start, min(end, start + 40))
        return "'\(text)\(end - start > 40 ? "…" : "")'"
    }

    /// The message for a value that did not read as a number, or `nil` for `.value`.
    static func problem(
        _ result: Result, _ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int
    ) -> (DatasetError.Code, String)? {
        switch result {
        case .value: return nil
        case .missing: return (.missingValue, "missing value '?'; missing values are not supported")
        case .empty: return (.missingValue, "empty value; missing values are not supported")
        case .notFinite:
            return (.invalidNumber, "invalid number \(quote(bytes, start, end)): NaN and infinity are not allowed")
        case .outOfRange: return (.invalidNumber, "number \(quote(bytes, start, end)) is out of range for Float")
        case .invalid: return (.invalidNumber, "invalid number \(quote(bytes, start, end))")
        }
    }
}
