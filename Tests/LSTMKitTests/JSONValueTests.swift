import Foundation
import LSTMKit
import Testing

/// `JSONValue.parse` against Foundation's JSONDecoder (the oracle) and RFC 8259's edges.
@Suite struct JSONValueTests {
    /// Foundation's JSONDecoder through `JSONValue`'s Codable conformance (what `parse` used to be).
    static func oracle(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    @Test(arguments: [
        #"{"command":"status","limit":10,"stream":"s1"}"#,
        #"[1, -2.5, 3e2, 0.125E-1, -0, true, false, null, "", {}, []]"#,
        #"{"esc":"\"\\\/\b\f\n\r\t","u":"\u00e9\u20ac\ud83d\ude00","raw":"café 😀"}"#,
        "  {\n\t\"a\" : [ {\"b\" : [ ] } ] }  ",
    ])
    func matchesFoundation(_ text: String) throws {
        #expect(try JSONValue.parse(text) == Self.oracle(text))
    }

    @Test(arguments: [
        ("", "unexpected end of text at byte 0"),
        ("{", "expected a string key at byte 1"),
        (#"{"a" 1}"#, "expected ':' at byte 5"),
        ("[1 2]", "expected ',' or ']' at byte 3"),
        ("01", "leading zero in a number at byte 2"),
        ("1.", "bad number at byte 2"),
        ("tru", "unexpected character at byte 0"),
        ("\"a\u{1}\"", "control character in a string at byte 3"),
        (#""\x""#, "unknown escape at byte 3"),
        (#""\ud800""#, "unpaired surrogate at byte 7"),
        ("[1] x", "text after the JSON value at byte 4"),
        ("\"open", "unterminated string at byte 5"),
        ("[1e999]", "number out of range at byte 6"),
    ])
    func refusesWithTheOffset(_ text: String, _ message: String) {
        #expect(Self.failure(text) == message)
    }

    @Test func theLastOfDuplicateKeysWins() throws {
        #expect(try JSONValue.parse(#"{"dup":1,"dup":2}"#) == .object(["dup": .number(2)]))
    }

    @Test func depthIsBounded() throws {
        let nested = { (depth: Int) in String(repeating: "[", count: depth) + String(repeating: "]", count: depth) }
        #expect(throws: Never.self) { try JSONValue.parse(nested(64)) }
        #expect(Self.failure(nested(65)) == "nested deeper than 64 at byte 64")
        // A deep document far beyond the stack is refused at the limit, not overflowed.
        #expect(Self.failure(nested(1_000_000), maxDepth: 8) == "nested deeper than 8 at byte 8")
    }

    static func failure(_ text: String, maxDepth: Int = JSONValue.defaultMaxDepth) -> String? {
        do {
            _ = try JSONValue.parse(text, maxDepth: maxDepth)
            return nil
        } catch {
            return error.description
        }
    }
}
