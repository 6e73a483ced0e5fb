import Logging
import Testing

@testable import Systemd

struct JournalFieldsTests {
    @Test(arguments: [
        (Logger.Level.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
    ])
    func priorityMapping(level: Logger.Level, priority: Int) {
        #expect(JournalFields.priority(for: level) == priority)
    }

    @Test(arguments: [
        ("stream.id", "STREAM_ID"),
        ("dropReason", "DROPREASON"),
        ("UPPER_ok9", "UPPER_OK9"),
        ("__trusted", "TRUSTED"),
        ("_x-y", "X_Y"),
        ("9lives", "META_9LIVES"),
        ("__9", "META_9"),
        ("message", "META_MESSAGE"),
        ("priority", "META_PRIORITY"),
        ("code.file", "META_CODE_FILE"),
        ("grüße", "GR__E"),
        ("a b", "A_B"),
    ])
    func fieldNameSanitising(key: String, expected: String) {
        #expect(JournalFields.fieldName(forMetadataKey: key) == expected)
    }

    @Test func unusableKeysAreDropped() {
        #expect(JournalFields.fieldName(forMetadataKey: "") == nil)
        #expect(JournalFields.fieldName(forMetadataKey: "___") == nil)
    }

    @Test func longKeysAreCut() throws {
        let name = try #require(JournalFields.fieldName(forMetadataKey: String(repeating: "k", count: 100)))
        #expect(name == String(repeating: "K", count: 64))
    }

    @Test func fieldsOfARecord() {
        let event = LogEvent(
            level: .warning, message: "frame dropped", metadata: nil, source: "Daemon",
            file: "Daemon/Ingest.swift", function: "receive()", line: 42)
        let fields = JournalFields.fields(
            for: event, label: "lstmd.ingest", identifier: "lstmd",
            metadata: ["stream.id": "abc", "reason": "short", "message": "shadow", "STREAM-ID": "dup", "n": "\(3)"])
        #expect(
            fields == [
                "MESSAGE=frame dropped",
                "PRIORITY=4",
                "SYSLOG_IDENTIFIER=lstmd",
                "CODE_FILE=Daemon/Ingest.swift",
                "CODE_LINE=42",
                "CODE_FUNC=receive()",
                "LOGGER_LABEL=lstmd.ingest",
                "LOGGER_SOURCE=Daemon",
                "STREAM_ID=dup",
                "META_MESSAGE=shadow",
                "N=3",
                "REASON=short",
            ])
    }

    @Test func controlCharactersAreEscapedInMessageAndValues() {
        let event = LogEvent(
            level: .notice, message: "reload \u{1B}[31mmodel", metadata: nil, source: "D", file: "f", function: "g", line: 1)
        let fields = JournalFields.fields(for: event, label: "l", identifier: "lstmd", metadata: ["stream": "a\u{0}b\nc"])
        #expect(fields.first == #"MESSAGE=reload \x1B[31mmodel"#)
        #expect(fields.last == #"STREAM=a\x00b\nc"#)
    }

    @Test func metadataMergeOrderAndError() {
        struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }
        let provider = Logger.MetadataProvider { ["request": "from-provider", "task": "t1"] }
        let merged = JournalFields.mergedMetadata(
            base: ["request": "base", "handler": "h"], provider: provider,
            explicit: ["task": "explicit"], error: Boom())
        #expect(merged["handler"] == "h")
        #expect(merged["request"] == "from-provider")
        #expect(merged["task"] == "explicit")
        #expect(merged["error.message"] == "boom")
        #expect(merged["error.type"]?.description.hasSuffix("Boom") == true)
    }

    @Test func journalStreamParsing() {
        #expect(JournalFields.journalStreamMatches("8:1234", device: 8, inode: 1234))
        #expect(!JournalFields.journalStreamMatches("8:1235", device: 8, inode: 1234))
        #expect(!JournalFields.journalStreamMatches("9:1234", device: 8, inode: 1234))
        #expect(!JournalFields.journalStreamMatches(nil, device: 8, inode: 1234))
        #expect(!JournalFields.journalStreamMatches("", device: 8, inode: 1234))
        #expect(!JournalFields.journalStreamMatches("8:1234:5", device: 8, inode: 1234))
        #expect(!JournalFields.journalStreamMatches("x:1234", device: 8, inode: 1234))
    }

    @Test func sendingWithoutJournaldDoesNotFail() {
        // With journald absent libsystemd drops the entry and returns 0; with journald present the entry
        // is logged. Either way the call must not fail or crash, also with newlines in a value.
        let result = JournalLogHandler.send(["MESSAGE=lstmd test\nsecond line", "PRIORITY=7", "SYSLOG_IDENTIFIER=lstmd-test"])
        #expect(result >= 0)
        var logger = Logger(label: "lstmd.test") { JournalLogHandler(label: $0, identifier: "lstmd-test") }
        logger.logLevel = .debug
        logger.debug("journal handler smoke test", metadata: ["stream.id": "abc"])
    }
}
