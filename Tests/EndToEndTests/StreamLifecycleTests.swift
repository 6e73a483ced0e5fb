import Foundation
import LSTMKit
import Testing

extension EndToEnd {
    /// Gaps, idle eviction, and the reset and close control commands.
    @Suite struct StreamLifecycle {
        @Test func sequenceGapStartsTheStreamOver() throws {
            let models = try TemporaryDirectory()
            defer { models.remove() }
            let (path, model) = try TestModels.write(to: models, name: "uni", window: 6, hop: 2)
            try withDaemon(["--model", path]) { daemon in
                let expected = ExpectedLabels(model: model)
                var generator = SplitMix64(seed: 12)
                var gappy = TestStream(id: "gappy", channels: 3), steady = TestStream(id: "steady", channels: 3)
                for _ in 0..<5 {
                    try daemon.send(gappy.frame(timesteps: 3, generator: &generator))
                    try daemon.send(steady.frame(timesteps: 3, generator: &generator))
                }
                gappy.skip(3)  // seq 5 → 8: the window restarts at the frame after the gap
                for _ in 0..<5 {
                    try daemon.send(gappy.frame(timesteps: 3, generator: &generator))
                    try daemon.send(steady.frame(timesteps: 3, generator: &generator))
                }
                try EndToEnd.Classification.check([gappy, steady], expected: expected, daemon: daemon)
                #expect(gappy.stretches.count == 2)
                let status = try daemon.status()
                #expect(status["counters"]?["gaps"]?.numberValue == 1)
                #expect(status["counters"]?["frames"]?.numberValue.map { $0 >= 20 } == true)
                let streams = try daemon.streams()
                #expect(streams["gappy"]?["gaps"]?.numberValue == 1)
                #expect(streams["gappy"]?["last_sequence"]?.numberValue == 12)
                #expect(streams["gappy"]?["timesteps"]?.numberValue == 15)
                #expect(streams["steady"]?["gaps"]?.numberValue == 0)
                #expect(try daemon.drops().values.allSatisfy { $0 == 0 })
            }
        }

        @Test func idleStreamsAreEvicted() throws {
            let models = try TemporaryDirectory()
            defer { models.remove() }
            let (path, model) = try TestModels.write(to: models, name: "uni", window: 4, hop: 2)
            try withDaemon(["--model", path, "--idle-timeout", "1"]) { daemon in
                var generator = SplitMix64(seed: 13)
                var idle = TestStream(id: "idle", channels: 3), busy = TestStream(id: "busy", channels: 3)
                try daemon.send(idle.frame(timesteps: 4, generator: &generator))
                try daemon.send(busy.frame(timesteps: 4, generator: &generator))
                let lastIdleFrame = Date()
                #expect(try daemon.subscriber.waitFor(["idle": 1, "busy": 1]))
                #expect(try daemon.streams().keys.sorted() == ["busy", "idle"])
                // Keep "busy" alive while "idle" waits out its timeout: each round sends "busy" a
                // frame and waits for its label (the pacing is the daemon's own round trip).
                // Exact eviction times are `StreamTable`'s, tested on a manual clock.
                var evictedAfter: Double?
                var busyLabels = 1
                while Date().timeIntervalSince(lastIdleFrame) < 30 {
                    try daemon.send(busy.frame(timesteps: 2, generator: &generator))
                    busyLabels += 1
                    #expect(try daemon.subscriber.waitFor(stream: "busy", count: busyLabels))
                    let streams = try daemon.streams()
                    if streams["idle"] == nil {
                        evictedAfter = Date().timeIntervalSince(lastIdleFrame)
                        #expect(streams["busy"] != nil, "the busy stream was evicted too")
                        break
                    }
                }
                let after = try #require(evictedAfter, "stream 'idle' still listed after 30 s with --idle-timeout 1")
                // Never before its timeout (a slow machine only makes this later).
                #expect(after >= 0.9, "evicted after \(after) s, before its 1 s timeout")
                let status = try daemon.status()
                #expect(status["streams"]?["evicted"]?.numberValue == 1)
                #expect(status["streams"]?["active"]?.numberValue == 1)
                // The stream comes back as new: its state starts over.
                idle.startOver()
                try daemon.send(idle.frame(timesteps: 4, generator: &generator))
                try daemon.send(idle.frame(timesteps: 2, generator: &generator))
                let expected = ExpectedLabels(model: model)
                #expect(try daemon.subscriber.waitFor(stream: "idle", count: expected.count(for: idle)))
                let problems = try expected.problems(daemon.subscriber.labels(of: "idle"), stream: idle)
                #expect(problems.isEmpty, "\(problems)")
            }
        }

        @Test func resetAndCloseControlCommands() throws {
            let models = try TemporaryDirectory()
            defer { models.remove() }
            let (path, model) = try TestModels.write(to: models, name: "uni", window: 5, hop: 5)
            try withDaemon(["--model", path]) { daemon in
                let expected = ExpectedLabels(model: model)
                var generator = SplitMix64(seed: 14)
                var reset = TestStream(id: "r", channels: 3), closed = TestStream(id: "c", channels: 3)
                for _ in 0..<2 {
                    try daemon.send(reset.frame(timesteps: 7, generator: &generator))
                    try daemon.send(closed.frame(timesteps: 7, generator: &generator))
                }
                #expect(try daemon.subscriber.waitFor(["r": 2, "c": 2]))

                let resetReply = try daemon.request(["command": .string("reset"), "stream": .string("r")])
                #expect(resetReply == .object(["ok": .bool(true), "stream": .string("r")]))
                reset.startOver()
                let closeReply = try daemon.request(["command": .string("close"), "stream": .string("c")])
                #expect(closeReply == .object(["ok": .bool(true), "stream": .string("c")]))
                closed.startOver()
                let streams = try daemon.streams()
                #expect(streams.keys.sorted() == ["r"])
                #expect(streams["r"]?["timesteps"]?.numberValue == 0)
                #expect(streams["r"]?["last_sequence"]?.numberValue == 1)
                #expect(try daemon.status()["streams"]?["active"]?.numberValue == 1)

                // Sequence tracking survives a reset: a replayed sequence number is a duplicate.
                try daemon.send([Array("r".utf8), WireHeader(channels: 3, timesteps: 1, sequence: 1).bytes, wirePayload([Float](repeating: 0, count: 3))])
                // A closed stream is forgotten entirely: any sequence number starts it afresh.
                closed.sequence = 100
                for _ in 0..<2 {
                    try daemon.send(reset.frame(timesteps: 6, generator: &generator))
                    try daemon.send(closed.frame(timesteps: 6, generator: &generator))
                }
                #expect(try daemon.subscriber.waitFor(["r": expected.count(for: reset), "c": expected.count(for: closed)]))
                try daemon.subscriber.settle()
                for stream in [reset, closed] {
                    let problems = try expected.problems(daemon.subscriber.labels(of: stream.id), stream: stream)
                    #expect(problems.isEmpty, "\(stream.id): \(problems)")
                }
                #expect(try daemon.drops()["duplicate"] == 1)
                #expect(try daemon.streams()["c"]?["last_sequence"]?.numberValue == 101)

                // Refusals.
                for (request, fragment) in [
                    (#"{"command":"reset","stream":"nope"}"#, "unknown stream"),
                    (#"{"command":"close","stream":"nope"}"#, "unknown stream"),
                    (#"{"command":"reset"}"#, "stream"),
                    (#"{"command":"close","stream":7}"#, "stream"),
                    (#"{"command":"explode"}"#, "unknown command"),
                    (#"{"stream":"r"}"#, "command"),
                    (#"["status"]"#, "JSON object"),
                    ("status", "not JSON (unexpected character at byte 0)"),
                    ("", "not JSON (unexpected end of text at byte 0)"),
                ] {
                    let reply = try daemon.request(request)
                    #expect(reply["ok"] == .bool(false), "\(request) → \(reply)")
                    #expect(reply["error"]?.stringValue?.contains(fragment) == true, "\(request) → \(reply)")
                }
                #expect(try daemon.streams().count == 2)
            }
        }

        @Test func streamsListIsSortedAndLimited() throws {
            let models = try TemporaryDirectory()
            defer { models.remove() }
            let (path, _) = try TestModels.write(to: models, name: "uni", window: 4, hop: 2)
            try withDaemon(["--model", path]) { daemon in
                var generator = SplitMix64(seed: 15)
                var streams = ["d", "b", "a", "c"].map { TestStream(id: $0, channels: 3) }
                for index in streams.indices { try daemon.send(streams[index].frame(timesteps: 4, generator: &generator)) }
                #expect(try daemon.subscriber.waitFor(["a": 1, "b": 1, "c": 1, "d": 1]))
                let reply = try daemon.request(#"{"command":"streams","limit":2}"#)
                #expect(reply["count"]?.numberValue == 4)
                guard case .array(let list)? = reply["streams"] else {
                    Issue.record("no list: \(reply)")
                    return
                }
                #expect(list.compactMap { $0["id"]?.stringValue } == ["a", "b"])
                let a = list[0]
                #expect(a["frames"]?.numberValue == 1 && a["timesteps"]?.numberValue == 4 && a["labels"]?.numberValue == 1)
                #expect(a["last_label"]?.stringValue?.hasPrefix("c") == true)
                #expect(a["idle_s"]?.numberValue.map { $0 >= 0 && $0 < 10 } == true)
                let none = try daemon.request(#"{"command":"streams","limit":0}"#)
                #expect(none["streams"] == .array([]))
            }
        }
    }
}
