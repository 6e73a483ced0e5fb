import KeyValue
import Testing

/// Lines, keys, comments, duplicates and the line numbers in errors.
@Suite struct KeyValueFileTests {
    @Test func readsEntriesWithTheirLines() throws {
        let file = try KeyValueFile(
            parsing: """
                # comment

                  alpha = 1   # trailing
                beta=two, "three, four"
                learning-rate = 0.5\r
                empty =
                path = /var/lib/x#y
                """, path: "test.conf")
        #expect(file.path == "test.conf")
        #expect(
            file.entries == [
                .init(key: "alpha", values: ["1"], line: 3),
                .init(key: "beta", values: ["two", "three, four"], line: 4),
                .init(key: "learning_rate", values: ["0.5"], line: 5),
                .init(key: "empty", values: [], line: 6),
                .init(key: "path", values: ["/var/lib/x#y"], line: 7),
            ])
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        let text: String
        let line: Int
        let key: String
        let reason: KeyValueError.Reason
        var testDescription: String { text }
    }

    static let bad: [Bad] = [
        Bad(text: "a = 1\n\njust words\n", line: 3, key: "just words", reason: .notKeyValue),
        Bad(text: "Max = 1\n", line: 1, key: "Max", reason: .malformedKey),
        Bad(text: "a b = 1\n", line: 1, key: "a b", reason: .malformedKey),
        Bad(text: " = 1\n", line: 1, key: "", reason: .malformedKey),
        Bad(text: "a = 1\n# x\na = 2\n", line: 3, key: "a", reason: .duplicate(firstLine: 1)),
        Bad(text: "a_b = 1\na-b = 2\n", line: 2, key: "a_b", reason: .duplicate(firstLine: 1)),
        Bad(text: "a = 1\nb = \"x\n", line: 2, key: "b", reason: .value("unterminated quoted string")),
    ]

    @Test(arguments: bad) func refusesWithLineAndKey(_ bad: Bad) {
        let error = #expect(throws: KeyValueError.self) { try KeyValueFile(parsing: bad.text, path: "/etc/x.conf") }
        #expect(error?.line == bad.line)
        #expect(error?.key == bad.key)
        #expect(error?.reason == bad.reason)
        #expect(error?.location == "/etc/x.conf:\(bad.line)")
        #expect(error?.description.hasPrefix("/etc/x.conf:\(bad.line): \(bad.key): ") == true)
    }

    @Test func duplicateMessageNamesTheFirstLine() {
        let error = #expect(throws: KeyValueError.self) { try KeyValueFile(parsing: "a = 1\na = 2", path: "f") }
        #expect(error?.description == "f:2: a: set twice (first on line 1)")
    }

    @Test func unknownKeysAreRefusedWithTheClosest() {
        let known = ["max_streams", "idle_timeout"]
        let close = #expect(throws: KeyValueError.self) {
            try KeyValueFile(parsing: "idle_timeout = 1\nmax_stream = 5\n", path: "f", knownKeys: known)
        }
        #expect(close?.line == 2)
        #expect(close?.reason == .unknownKey(suggestion: "max_streams", known: known))
        #expect(close?.message == "unknown key (did you mean 'max_streams'?)")
        let far = #expect(throws: KeyValueError.self) { try KeyValueFile(parsing: "colour = blue\n", path: "f", knownKeys: known) }
        #expect(far?.message == "unknown key (known: max_streams, idle_timeout)")
    }

    @Test func closestNeedsAPlausibleMisspelling() {
        #expect(closest(to: "epochz", among: ["epochs", "seed"]) == "epochs")
        #expect(closest(to: "LSTMD_MAX_STREAM", among: ["LSTMD_MAX_STREAMS"]) == "LSTMD_MAX_STREAMS")
        #expect(closest(to: "ab", among: ["xy"]) == nil)
        #expect(closest(to: "frobnicate", among: ["epochs", "seed"]) == nil)
    }
}
