import KeyValue
import Testing

/// The value syntax shared by files, environment variables and flags.
@Suite struct ValueSyntaxTests {
    @Test(arguments: [
        ("", [String]()),
        ("   ", []),
        ("# only a comment", []),
        ("a", ["a"]),
        ("  a b  ", ["a b"]),
        ("a, b ,c", ["a", "b", "c"]),
        ("a # note", ["a"]),
        ("a#b", ["a#b"]),
        ("/var/lib/x#y, z", ["/var/lib/x#y", "z"]),
        ("\"a, b # c\"", ["a, b # c"]),
        ("\"\"", [""]),
        ("\"q\\\"uote\", \"back\\\\slash\"", ["q\"uote", "back\\slash"]),
        ("\"line\\nbreak\\ttab\"", ["line\nbreak\ttab"]),
        ("\"a\" , b  # trailing", ["a", "b"]),
        ("64,32", ["64", "32"]),
        ("plateau:0.5:10:1e-05", ["plateau:0.5:10:1e-05"]),
        ("-1", ["-1"]),
    ])
    func readsItems(_ text: String, _ expected: [String]) throws {
        #expect(try ValueSyntax.items(text) == expected)
    }

    @Test(arguments: [
        ("a,,b", "empty item in a list"),
        ("a,", "empty item in a list"),
        (", a", "empty item in a list"),
        ("\"open", "unterminated quoted string"),
        ("\"a\" b", "unexpected text after a quoted string"),
        ("a\"b\"", "a quote may only start an item"),
        ("\"a\\q\"", "unknown escape '\\q'"),
        ("\"a\\", "unknown escape"),
    ])
    func refusesMalformedValues(_ text: String, _ message: String) {
        let error = #expect(throws: ValueError.self) { try ValueSyntax.items(text) }
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
    }

    /// Whatever the items, `text(of:)` spells them so that `items` reads them back.
    @Test func writtenItemsReadBack() throws {
        let cases: [[String]] = [
            [], ["a"], ["a b"], ["a,b"], ["x # y"], ["#x"], ["q\"uote"], ["back\\slash"], ["  padded "], [""],
            ["line\nbreak", "tab\there"], ["a#b", "tcp://127.0.0.1:5555"],
        ]
        for items in cases {
            #expect(try ValueSyntax.items(ValueSyntax.text(of: items)) == items, "\(items)")
        }
        #expect(ValueSyntax.text(of: ["tcp://a:1", "ipc:///b"]) == "tcp://a:1, ipc:///b")
    }
}
