import Foundation
import LSTMKit
import Testing

/// `lstmctl send` as a user runs it twice in a row, or with the wrong file: it continues the
/// stream's sequence, reports what the daemon did with its frames, and fails when none was
/// accepted.
@Suite(.serialized) struct SendReportTests {
    let tools = ClientToolTests()
    static let data = "Tests/LSTMTrainingTests/Fixtures/BasicMotions_TEST.ts"

    private func send(_ daemon: DaemonProcess, _ extra: [String]) throws -> (status: Int32, out: String, err: String) {
        try tools.run(
            try tools.lstmctl,
            ["send", "--endpoint", daemon.ingestEndpoint, "--control", daemon.controlEndpoint, "--timeout", "20"] + extra)
    }

    @Test func sendingTwiceContinuesTheSequenceAndReportsAcceptance() throws {
        try withDaemon { daemon in
            let first = try send(daemon, ["--stream", "twice", "--data", Self.data, "--samples", "2"])
            #expect(first.status == 0, "\(first.err)")
            #expect(first.err.contains("sequence 0...19"), "\(first.err)")
            #expect(first.err.contains("lstmd accepted all 20 frames"), "\(first.err)")
            // Before this change the second run restarted at 0 and the daemon dropped all but one
            // frame as out_of_order while send reported success.
            let second = try send(daemon, ["--stream", "twice", "--data", Self.data, "--samples", "2"])
            #expect(second.status == 0, "\(second.err)")
            #expect(second.err.contains("sequence 20...39"), "\(second.err)")
            #expect(second.err.contains("lstmd accepted all 20 frames"), "\(second.err)")
            #expect(try daemon.drops()["out_of_order", default: 0] == 0)
        }
    }

    @Test func anExplicitStartSequenceThatGoesBackFailsNamingTheReason() throws {
        try withDaemon { daemon in
            // Sequence 0…19, then 10…19 again: within reorder_window, so dropped (0 would be a
            // producer restart, which the daemon accepts).
            #expect(try send(daemon, ["--stream", "back", "--data", Self.data, "--samples", "2"]).status == 0)
            let replay = try send(daemon, ["--stream", "back", "--data", Self.data, "--samples", "1", "--start-seq", "10"])
            #expect(replay.status == 1, "\(replay.err)")
            #expect(replay.err.contains("lstmd accepted 0 of 10 frames"), "\(replay.err)")
            #expect(replay.err.contains("out_of_order 9"), "\(replay.err)")
            #expect(replay.err.contains("duplicate 1"), "\(replay.err)")
        }
    }

    @Test func aFileWithOtherChannelsIsRefusedBeforeSending() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.url.appendingPathComponent("three.ts")
        try """
            @problemName three
            @timeStamps false
            @univariate false
            @dimensions 3
            @equalLength true
            @seriesLength 4
            @classLabel true a b
            @data
            1,2,3,4:1,2,3,4:1,2,3,4:a

            """.write(to: file, atomically: true, encoding: .utf8)
        try withDaemon { daemon in
            let result = try send(daemon, ["--stream", "three", "--data", file.path])
            #expect(result.status == 1)
            #expect(result.err.contains("has 3 channels, the daemon's model has 6"), "\(result.err)")
            #expect(try daemon.status()["counters"]?["dropped"]?.numberValue == 0)
        }
    }

    /// A dropped frame's log line names the stream and what was wrong.
    @Test func dropLogsNameTheStreamAndTheDetail() throws {
        try withDaemon { daemon in
            #expect(try send(daemon, ["--stream", "gone-back", "--data", Self.data, "--samples", "1"]).status == 0)
            _ = try send(daemon, ["--stream", "gone-back", "--data", Self.data, "--samples", "1", "--start-seq", "3"])
            let logged = try daemon.waitForLog { $0.contains("dropped frame") && $0.contains("sequence 3 after 9") }
            #expect(logged, "\(daemon.log)")
            #expect(daemon.log.contains("stream=gone-back"), "\(daemon.log)")
        }
    }
}
