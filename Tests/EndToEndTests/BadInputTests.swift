import Foundation
import LSTMKit
import Testing

extension EndToEnd {
    /// Every kind of bad input is dropped, counted under exactly its own reason, creates no
    /// stream, and leaves good streams classified exactly.
    @Suite struct BadInput {
        /// A message and the counter it must increment.
        struct Case {
            var name: String
            var reason: String
            var parts: [[UInt8]]
        }

        static let channels = 3
        static let maxTimesteps = 400
        static let maxMessageBytes = 4096

        static func header(
            channels: Int = channels, timesteps: Int = 2, sequence: UInt64 = 0, _ change: (inout WireHeader) -> Void = { _ in }
        ) -> [UInt8] {
            var header = WireHeader(channels: channels, timesteps: timesteps, sequence: sequence)
            change(&header)
            return header.bytes
        }

        static func values(_ timesteps: Int, channels: Int = channels) -> [UInt8] {
            wirePayload((0..<(timesteps * channels)).map { Float($0 % 7) * 0.25 - 0.5 })
        }

        /// Frames that are bad on their own (no stream state involved).
        static var statelessCases: [Case] {
            let id = Array("bad".utf8)
            let good2 = values(2)
            var cases: [Case] = [
                Case(name: "1 part", reason: "wrong_parts", parts: [id]),
                Case(name: "2 parts", reason: "wrong_parts", parts: [id, header()]),
                Case(name: "4 parts", reason: "wrong_parts", parts: [id, header(), good2, []]),
                Case(name: "6 parts", reason: "wrong_parts", parts: [id, header(), good2, good2, id, header()]),
                Case(name: "empty id", reason: "bad_stream_id", parts: [[], header(), good2]),
                Case(name: "256-byte id", reason: "bad_stream_id", parts: [[UInt8](repeating: 0x61, count: 256), header(), good2]),
                Case(name: "invalid UTF-8 id", reason: "bad_stream_id", parts: [[0x61, 0xC3, 0x28], header(), good2]),
                Case(name: "0xFF id", reason: "bad_stream_id", parts: [[0xFF], header(), good2]),
                Case(name: "lone surrogate id", reason: "bad_stream_id", parts: [[0xED, 0xA0, 0x80], header(), good2]),
                Case(name: "31-byte header", reason: "malformed_header", parts: [id, Array(header().prefix(31)), good2]),
                Case(name: "33-byte header", reason: "malformed_header", parts: [id, header() + [0], good2]),
                Case(name: "empty header", reason: "malformed_header", parts: [id, [], good2]),
                Case(name: "unknown flag", reason: "malformed_header", parts: [id, header { $0.flags = 4 }, good2]),
                Case(name: "training sample without label", reason: "bad_label", parts: [id, header { $0.flags = 2 }, good2]),
                Case(name: "reserved set", reason: "malformed_header", parts: [id, header { $0.reserved = 1 << 24 }, good2]),
                Case(name: "version 2", reason: "unknown_version", parts: [id, header { $0.version = 2 }, good2]),
                Case(name: "version 0", reason: "unknown_version", parts: [id, header { $0.version = 0 }, good2]),
                Case(name: "channels + 1", reason: "wrong_channels", parts: [id, header(channels: channels + 1), values(2, channels: channels + 1)]),
                Case(name: "channels 0", reason: "wrong_channels", parts: [id, header(channels: 0), []]),
                Case(name: "zero timesteps", reason: "bad_timesteps", parts: [id, header(timesteps: 0), []]),
                Case(
                    name: "too many timesteps", reason: "bad_timesteps",
                    parts: [id, header(timesteps: maxTimesteps + 1), values(maxTimesteps + 1)]),
                Case(name: "payload short", reason: "payload_size", parts: [id, header(), Array(good2.dropLast(4))]),
                Case(name: "payload long", reason: "payload_size", parts: [id, header(), good2 + [0, 0, 0, 0]]),
                Case(name: "payload odd", reason: "payload_size", parts: [id, header(), good2 + [0]]),
                Case(name: "payload empty", reason: "payload_size", parts: [id, header(), []]),
                // 342 × 3 × 4 = 4104 bytes: a consistent frame above --max-message-bytes 4096.
                Case(name: "oversize", reason: "oversize", parts: [id, header(timesteps: 342), values(342)]),
                Case(name: "oversize, size mismatch", reason: "oversize", parts: [id, header(timesteps: 2), values(400)]),
                Case(name: "label without flag", reason: "bad_label", parts: [id, header { $0.label = 1 }, good2]),
                Case(name: "label flag, -1", reason: "bad_label", parts: [id, header { $0.flags = 1; $0.label = -1 }, good2]),
                Case(name: "label = classes", reason: "bad_label", parts: [id, header { $0.flags = 1; $0.label = 4 }, good2]),
                Case(name: "label huge", reason: "bad_label", parts: [id, header { $0.flags = 1; $0.label = .max }, good2]),
            ]
            for (name, bad) in [("NaN", Float.nan), ("+Inf", .infinity), ("-Inf", -.infinity), ("signalling NaN", .signalingNaN)] {
                var payload = (0..<(2 * channels)).map { Float($0) }
                payload[4] = bad
                cases.append(Case(name: "\(name) payload", reason: "non_finite", parts: [id, header(), wirePayload(payload)]))
            }
            return cases
        }

        /// Sends `bad`, then a good frame; once the good frame's label is back, `bad` was handled.
        /// Checks that exactly `reason` moved by one and nothing else changed.
        static func expectDropped(
            _ bad: Case, daemon: DaemonProcess, good: inout TestStream, expected: ExpectedLabels, generator: inout SplitMix64
        ) throws {
            let before = try daemon.drops()
            let framesBefore = try daemon.status()["counters"]?["frames"]?.numberValue
            try daemon.send(bad.parts)
            try daemon.send(good.frame(timesteps: expected.hop, generator: &generator))
            let labelled = try daemon.subscriber.waitFor(stream: good.id, count: expected.count(for: good))
            #expect(labelled, "\(bad.name): no label for the good frame sent after it")
            let after = try daemon.drops()
            var wanted = before
            wanted[bad.reason, default: 0] += 1
            #expect(after == wanted, "\(bad.name): drops moved from \(before) to \(after), expected +1 \(bad.reason)")
            let framesAfter = try daemon.status()["counters"]?["frames"]?.numberValue
            #expect(framesAfter == framesBefore.map { $0 + 1 }, "\(bad.name): frames \(String(describing: framesBefore)) → \(String(describing: framesAfter))")
        }

        @Test func everyBadInputIncrementsExactlyItsOwnCounter() throws {
            let models = try TemporaryDirectory()
            defer { models.remove() }
            let (path, model) = try TestModels.write(to: models, name: "uni", window: 6, hop: 2)
            let arguments = [
                "--model", path, "--max-streams", "2", "--max-timesteps", "\(Self.maxTimesteps)",
                "--max-message-bytes", "\(Self.maxMessageBytes)", "--log-level", "error",
            ]
            try withDaemon(arguments) { daemon in
                let expected = ExpectedLabels(model: model)
                var generator = SplitMix64(seed: 3)
                var good = TestStream(id: "good", channels: Self.channels)
                try daemon.send(good.frame(timesteps: expected.window, generator: &generator))
                #expect(try daemon.subscriber.waitFor(stream: good.id, count: 1))
                #expect(try daemon.drops() == Dictionary(uniqueKeysWithValues: DropReason.names.map { ($0, 0) }))

                for bad in Self.statelessCases {
                    try Self.expectDropped(bad, daemon: daemon, good: &good, expected: expected, generator: &generator)
                }

                // Sequence faults on a second stream ("seq": frames 0, 1, 2 accepted). Sequence 0
                // again would be a producer restart, not a fault (AttackTests).
                var seq = TestStream(id: "seq", channels: Self.channels)
                for _ in 0..<3 { try daemon.send(seq.frame(timesteps: 1, generator: &generator)) }
                let id = Array("seq".utf8)
                let payload = Self.values(1)
                for (name, reason, sequence) in [
                    ("duplicate", "duplicate", UInt64(2)), ("out of order", "out_of_order", 1),
                ] {
                    let parts = [id, Self.header(timesteps: 1, sequence: sequence), payload]
                    try Self.expectDropped(Case(name: name, reason: reason, parts: parts), daemon: daemon, good: &good, expected: expected, generator: &generator)
                }
                // The table holds "good" and "seq": a third stream is refused, again and again.
                for attempt in 0..<2 {
                    let parts = [Array("third".utf8), Self.header(sequence: UInt64(attempt)), Self.values(2)]
                    try Self.expectDropped(
                        Case(name: "stream limit #\(attempt)", reason: "stream_limit", parts: parts), daemon: daemon, good: &good,
                        expected: expected, generator: &generator)
                }

                try daemon.subscriber.settle()
                let problems = try expected.problems(daemon.subscriber.labels(of: good.id), stream: good)
                #expect(problems.isEmpty, "\(problems.prefix(5))")
                #expect(daemon.subscriber.labels(of: "seq").isEmpty)
                // No bad frame made a stream.
                #expect(try daemon.streams().keys.sorted() == ["good", "seq"])
                let status = try daemon.status()
                #expect(status["streams"]?["rejected"]?.numberValue == 2)
                let total = try daemon.drops().values.reduce(0, +)
                #expect(status["counters"]?["dropped"]?.numberValue == Double(total))
                #expect(total == Self.statelessCases.count + 4)
                #expect(daemon.process.isRunning)
            }
        }
    }
}
