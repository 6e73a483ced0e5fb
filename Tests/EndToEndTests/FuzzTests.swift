import Foundation
import LSTMKit
import Testing

extension EndToEnd {
    /// Random bytes and random part counts at the ingest socket for a bounded time: the daemon
    /// accounts for every message (accepted or dropped for one reason), stays up, and still
    /// classifies a good stream exactly.
    @Suite struct Fuzz {
        /// One random message: random parts, or a valid frame with random damage.
        static func message(_ generator: inout SplitMix64, channels: Int) -> [[UInt8]] {
            func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) } }
            func below(_ bound: Int) -> Int { Int(generator.next() % UInt64(bound)) }
            switch below(4) {
            case 0:
                // Random parts of random sizes.
                let parts = 1 + below(6)
                return (0..<parts).map { _ in bytes([0, 1, 3, 31, 32, 33, 64, 300][below(8)] + below(3)) }
            default:
                // A plausible frame, then damage: flipped bytes anywhere, a changed field, a part
                // added or removed.
                let timesteps = 1 + below(6)
                var header = WireHeader(
                    channels: channels, timesteps: timesteps, sequence: UInt64(below(40)), timestamp: Int64(below(1000)),
                    label: below(3) == 0 ? below(6) - 1 : nil)
                if below(4) == 0 { header.version = UInt8(below(3)) }
                if below(6) == 0 { header.channels = below(8) }
                if below(6) == 0 { header.timesteps = below(8) }
                var values = (0..<(timesteps * channels)).map { _ in generator.normal() }
                if below(10) == 0 { values[below(values.count)] = [Float.nan, .infinity, -.infinity, .greatestFiniteMagnitude][below(4)] }
                let ids = ["fuzz-a", "fuzz-b", "", "fuzz-\(below(50))", "é", "e\u{301}"]
                var parts = [Array(ids[below(ids.count)].utf8), header.bytes, wirePayload(values)]
                for _ in 0..<below(4) {
                    let part = below(3)
                    guard !parts[part].isEmpty else { continue }
                    parts[part][below(parts[part].count)] ^= UInt8(1 << below(8))
                }
                switch below(10) {
                case 0: parts.removeLast()
                case 1: parts.append(bytes(below(8)))
                case 2: parts[2].removeLast(min(parts[2].count, 1 + below(5)))
                default: break
                }
                return parts
            }
        }

        @Test func randomInputNeverBreaksTheDaemon() throws {
            let models = try TemporaryDirectory()
            defer { models.remove() }
            let (path, model) = try TestModels.write(to: models, name: "uni", window: 6, hop: 3)
            try withDaemon(["--model", path, "--log-level", "critical"]) { daemon in
                let start = try daemon.status()["counters"]
                let frames0 = start?["frames"]?.numberValue ?? -1, dropped0 = start?["dropped"]?.numberValue ?? -1
                var generator = SplitMix64(seed: 0xF022)
                var sent = 0
                let deadline = Date().addingTimeInterval(2)
                while Date() < deadline && sent < 50_000 {
                    for _ in 0..<100 { try daemon.send(Self.message(&generator, channels: 3)) }
                    sent += 100
                }
                // A good stream after the noise: exact labels, so everything before it was handled.
                var good = TestStream(id: "after-fuzz", channels: 3)
                for _ in 0..<4 { try daemon.send(good.frame(timesteps: 3, generator: &generator)) }
                let expected = ExpectedLabels(model: model)
                #expect(try daemon.subscriber.waitFor(stream: good.id, count: expected.count(for: good), timeout: 30))
                let problems = try expected.problems(daemon.subscriber.labels(of: good.id), stream: good)
                #expect(problems.isEmpty, "\(problems)")
                #expect(daemon.process.isRunning)
                let status = try daemon.status()
                let frames = (status["counters"]?["frames"]?.numberValue ?? -1) - frames0
                let dropped = (status["counters"]?["dropped"]?.numberValue ?? -1) - dropped0
                // Valid training-sample frames (flag bits 0 and 1) go to the retraining buffer, or
                // are refused without one: they are neither stream frames nor drops.
                let samples = (status["counters"]?["training_samples"]?.numberValue ?? 0)
                    + (status["counters"]?["training_samples_refused"]?.numberValue ?? 0)
                // Every message is accepted as a frame or a sample, or dropped for exactly one reason.
                #expect(
                    Int(frames + dropped + samples) == sent + 4,
                    "accepted \(frames) + samples \(samples) + dropped \(dropped) of \(sent) + 4 messages")
                #expect(dropped > Double(sent) / 2)
                #expect(frames > 4, "the fuzzer should also produce some acceptable frames")
                #expect(daemon.subscriber.malformed.isEmpty)
            }
        }
    }
}
