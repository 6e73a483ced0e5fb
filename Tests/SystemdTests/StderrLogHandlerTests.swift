import Logging
import Testing

@testable import Systemd

struct StderrLogHandlerTests {
    @Test func lineFormat() {
        let line = StderrLogHandler.formatLine(
            timestamp: "2025-03-01T12:00:00.123Z", level: .warning, label: "lstmd.ingest",
            message: "frame dropped", metadata: ["stream": "abc", "reason": "short frame", "bytes": "\(12)"])
        #expect(line == #"2025-03-01T12:00:00.123Z warning lstmd.ingest: frame dropped bytes=12 reason="short frame" stream=abc"#)
    }

    @Test func lineBreaksAreEscaped() {
        let line = StderrLogHandler.formatLine(
            timestamp: "T", level: .info, label: "l", message: "one\ntwo", metadata: ["k": "a\"b\nc", "e": ""])
        #expect(line == #"T info l: one\ntwo e="" k="a\"b\nc""#)
    }

    /// Request fields and stream ids come from peers: NUL, ESC, DEL and C1 bytes are escaped, in
    /// the message, the keys and the values.
    @Test func controlCharactersAreEscaped() {
        let line = StderrLogHandler.formatLine(
            timestamp: "T", level: .info, label: "l", message: "a\u{0}b\u{1B}[2J",
            metadata: ["stream": "x\u{1B}]0;pwned\u{7}", "k\u{7F}": "c\u{9B}d"])
        #expect(line == #"T info l: a\x00b\x1B[2J k\x7F="c\x9Bd" stream="x\x1B]0;pwned\x07""#)
    }

    @Test func timestampFormat() {
        #expect(StderrLogHandler.formatTimestamp(seconds: 0, nanoseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(
            StderrLogHandler.formatTimestamp(seconds: 1_740_830_400, nanoseconds: 123_456_789)
                == "2025-03-01T12:00:00.123Z")
        let now = StderrLogHandler.timestamp()
        #expect(now.count == 24 && now.hasSuffix("Z"))
    }

    @Test func handlerKeepsMetadataAsValue() {
        var logger = Logger(label: "lstmd.test") { StderrLogHandler(label: $0) }
        logger[metadataKey: "stream"] = "abc"
        let copy = logger
        logger[metadataKey: "stream"] = "def"
        #expect(copy[metadataKey: "stream"] == "abc")
        #expect(logger[metadataKey: "stream"] == "def")
        #expect(logger.logLevel == .info)
    }
}
