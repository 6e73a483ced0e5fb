import Foundation
import LSTMKit
import Testing

extension EndToEnd {
    /// Peer input that once crashed or confused the daemon.
    @Suite struct Robustness {
        /// Stream ids are bytes: two different UTF-8 encodings of "café" (precomposed é and
        /// e + combining acute) are two streams, each with its own sequence and state, and labels
        /// go out under each one's own topic.
        @Test
        func canonicallyEquivalentIdsAreDistinctStreams() throws {
            let models = try TemporaryDirectory()
            defer { models.remove() }
            let (path, model) = try TestModels.write(to: models, name: "uni", window: 4, hop: 2)
            try withDaemon(["--model", path]) { daemon in
                let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
                #expect(Array(composed.utf8) != Array(decomposed.utf8))
                var generator = SplitMix64(seed: 41)
                var streams = [TestStream(id: composed, channels: 3), TestStream(id: decomposed, channels: 3)]
                for _ in 0..<3 {
                    for index in streams.indices { try daemon.send(streams[index].frame(timesteps: 2, generator: &generator)) }
                }
                let expected = ExpectedLabels(model: model)
                _ = try daemon.subscriber.waitFor([composed: 2, decomposed: 2], timeout: 3)
                try daemon.subscriber.settle()
                let drops = try daemon.drops().filter { $0.value > 0 }
                #expect(drops.isEmpty, "\(drops)")
                #expect(try daemon.status()["streams"]?["active"]?.numberValue == 2)
                // Topics byte for byte.
                let topics = Set(daemon.subscriber.all.map { Array($0.topic.utf8) }.filter { $0 != Array("__probe__".utf8) })
                #expect(topics == [Array(composed.utf8), Array(decomposed.utf8)])
                for stream in streams {
                    let labels = daemon.subscriber.all.filter { Array($0.topic.utf8) == Array(stream.id.utf8) }
                    #expect(try expected.problems(labels, stream: stream).isEmpty)
                }
            }
        }

        /// `streams` with a huge `limit` must answer, not trap in `Int(Double)`.
        @Test
        func streamsWithAHugeLimitAnswers() throws {
            try withDaemon(subscribe: false) { daemon in
                for request in [#"{"command":"streams","limit":1e300}"#, #"{"command":"streams","limit":-1e300}"#] {
                    let reply = try daemon.request(request)
                    #expect(reply["ok"] != nil, "\(request) → \(reply)")
                }
                #expect(daemon.process.isRunning)
            }
        }

        @Test func oddControlRequestsAreAnsweredAndHarmless() throws {
            try withDaemon(subscribe: false) { daemon in
                let requests = [
                    String(repeating: "[", count: 100_000),
                    String(repeating: "{\"a\":", count: 20_000),
                    #"{"command":"status","command":"streams"}"#,
                    #"{"command":"streams","limit":"ten"}"#,
                    #"{"command":"streams","limit":-3}"#,
                    #"{"command":"streams","limit":2.7}"#,
                    #"{"command":null}"#,
                    #"{"command":"status"} trailing"#,
                    String(decoding: [0xFF, 0xFE, 0x7B, 0x7D], as: UTF8.self),
                    "{\"command\":\"reset\",\"stream\":\"\(String(repeating: "x", count: 100_000))\"}",
                ]
                for request in requests {
                    let reply = try daemon.request(request)
                    #expect(reply["ok"] != nil, "\(request.prefix(40)) → \(reply)")
                }
                let reply = try daemon.request(#"{"command":"status"}"#)
                #expect(reply["ok"] == .bool(true))
                #expect(daemon.process.isRunning)
            }
        }
    }
}
