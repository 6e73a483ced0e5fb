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
