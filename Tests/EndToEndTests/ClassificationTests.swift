import Foundation
import LSTMKit
import Testing

extension EndToEnd {
    /// Labels published by the daemon equal LSTMKit's offline batch forward of the same windows.
    @Suite struct Classification {
        /// Sends `streams` frame by frame in a random interleaving; frame sizes random in `sizes`.
        static func interleave(
            _ streams: inout [TestStream], framesEach: Int, sizes: ClosedRange<Int>, daemon: DaemonProcess,
            generator: inout SplitMix64
        ) throws {
            var remaining = Array(repeating: framesEach, count: streams.count)
            while let _ = remaining.firstIndex(where: { $0 > 0 }) {
                let open = remaining.indices.filter { remaining[$0] > 0 }
                let index = open[Int(generator.next() % UInt64(open.count))]
                let size = sizes.lowerBound + Int(generator.next() % UInt64(sizes.count))
                try daemon.send(streams[index].frame(timesteps: size, generator: &generator))
                remaining[index] -= 1
            }
        }

        /// Waits for every due label of `streams` and checks them.
        static func check(_ streams: [TestStream], expected: ExpectedLabels, daemon: DaemonProcess, version: String? = nil) throws {
            let arrived = try daemon.subscriber.waitFor(streams.map { ($0.id, expected.count(for: $0)) })
            try daemon.subscriber.settle()
            for stream in streams {
                let labels = daemon.subscriber.labels(of: stream.id)
                let count = expected.count(for: stream)
                #expect(arrived && labels.count == count, "stream \(stream.id.debugDescription): \(labels.count) labels, expected \(count)")
                let problems = try expected.problems(labels, stream: stream, version: version)
                #expect(problems.isEmpty, "stream \(stream.id.debugDescription): \(problems.prefix(5))")
            }
            #expect(daemon.subscriber.malformed.isEmpty, "\(daemon.subscriber.malformed.prefix(3))")
        }

        /// Without `--model` the daemon serves the bundled BasicMotions model; fed real BasicMotions
        /// recordings (random inputs far outside the training range make some windows so
        /// ill-conditioned that float32 paths differ by 1e-4), its labels equal the offline forward.
        @Test func bundledDefaultModelLabelsEqualOfflineForward() throws {
            let recordings = try BasicMotions.recordings()
            try #require(recordings.count == 40)
            try withDaemon { daemon in
                let status = try daemon.status()
                let path = try #require(status["model"]?["path"]?.stringValue)
                let model = try LSTMModel(contentsOf: URL(fileURLWithPath: path))
                #expect(status["model"]?["version"]?.stringValue == model.file.version)
                #expect(daemon.channels == model.channels && daemon.window == model.file.window && daemon.hop == model.file.hop)
                #expect(model.classes.sorted() == ["Badminton", "Running", "Standing", "Walking"])
                let expected = ExpectedLabels(model: model)
                // One stream per class: two recordings back to back, in frames of up to 37 timesteps,
                // the four streams interleaved.
                var streams = model.classes.map { TestStream(id: "basicmotions/\($0)", channels: model.channels) }
                var pending = model.classes.map { name in
                    recordings.filter { $0.label == name }.prefix(2).flatMap(\.values)
                }
                var generator = SplitMix64(seed: 11)
                while let _ = pending.firstIndex(where: { !$0.isEmpty }) {
                    let open = pending.indices.filter { !pending[$0].isEmpty }
                    let index = open[Int(generator.next() % UInt64(open.count))]
                    let size = min(pending[index].count, (1 + Int(generator.next() % 37)) * model.channels)
                    try daemon.send(streams[index].frame(values: Array(pending[index].prefix(size))))
                    pending[index].removeFirst(size)
                }
                try Self.check(streams, expected: expected, daemon: daemon, version: model.file.version)
                for stream in streams { #expect(daemon.subscriber.labels(of: stream.id).allSatisfy { $0.mode == "window" }) }
            }
        }

        @Test func interleavedStreamsAreIndependentAndExact() throws {
            let models = try TemporaryDirectory()
            defer { models.remove() }
            let (path, model) = try TestModels.write(to: models, name: "uni", window: 8, hop: 3)
            try withDaemon(["--model", path]) { daemon in
                let expected = ExpectedLabels(model: model)
                var generator = SplitMix64(seed: 5)
                // Ids that stress UTF-8 and JSON escaping, and the longest allowed id.
                let ids = ["alpha", "ström/流/🙂", String(repeating: "x", count: 255), "quote\"back\\slash\ttab\u{1}"]
                var streams = ids.map { TestStream(id: $0, channels: model.channels) }
                try Self.interleave(&streams, framesEach: 25, sizes: 1...7, daemon: daemon, generator: &generator)
                try Self.check(streams, expected: expected, daemon: daemon)
                // The same values as stream 0, alone: identical labels.
                var twin = TestStream(id: "alpha-alone", channels: model.channels)
                try daemon.send(twin.frame(values: streams[0].stretches[0]))
                try Self.check([twin], expected: expected, daemon: daemon)
                let together = daemon.subscriber.labels(of: "alpha").map { $0.probabilities(classes: model.classes) }
                let alone = daemon.subscriber.labels(of: "alpha-alone").map { $0.probabilities(classes: model.classes) }
                #expect(together == alone)
                let status = try daemon.status()
                #expect(status["streams"]?["active"]?.numberValue == 5)
                #expect(status["drops"].map { drops in DropReason.names.allSatisfy { drops[$0]?.numberValue == 0 } } == true, "\(status)")
            }
        }

        @Test(arguments: [
            (["--hop", "2"], StreamingMode.window, 2),
            (["--mode", "continuous", "--hop", "3"], StreamingMode.continuous, 3),
            (["--mode", "continuous"], StreamingMode.continuous, 4),
        ])
        func modeAndHopFlags(arguments: [String], mode: StreamingMode, hop: Int) throws {
            let models = try TemporaryDirectory()
            defer { models.remove() }
            let (path, model) = try TestModels.write(
                to: models, name: "attn", architecture: Architecture(inputSize: 2, hiddenSize: 9, numLayers: 2, head: .attention, numClasses: 3),
                window: 7, hop: 4, seed: 9)
            try withDaemon(["--model", path] + arguments) { daemon in
                #expect(daemon.hop == hop)
                #expect(daemon.initialStatus["model"]?["mode"]?.stringValue == mode.rawValue)
                let expected = ExpectedLabels(model: model, hop: hop, mode: mode)
                var generator = SplitMix64(seed: 6)
                // Five streams: continuous mode classifies frames of different streams in batches.
                var streams = ["a", "b", "c", "d", "e"].map { TestStream(id: $0, channels: 2) }
                try Self.interleave(&streams, framesEach: 12, sizes: 1...5, daemon: daemon, generator: &generator)
                try Self.check(streams, expected: expected, daemon: daemon)
                #expect(daemon.subscriber.labels(of: "a").allSatisfy { $0.mode == mode.rawValue })
            }
        }

        /// A frame's labels go out when the frame is handled, not when later traffic happens to
        /// push it through: one frame per stream, then silence.
        @Test(arguments: [StreamingMode.window, .continuous], [1, 5])
        func labelsAreNotHeldBackUntilMoreFramesArrive(mode: StreamingMode, streamCount: Int) throws {
            let models = try TemporaryDirectory()
            defer { models.remove() }
            let (path, model) = try TestModels.write(to: models, name: "uni", window: 4, hop: 2)
            try withDaemon(["--model", path, "--mode", mode.rawValue]) { daemon in
                var generator = SplitMix64(seed: 10)
                var streams = (0..<streamCount).map { TestStream(id: "once-\($0)", channels: 3) }
                for index in streams.indices { try daemon.send(streams[index].frame(timesteps: 4, generator: &generator)) }
                let expected = ExpectedLabels(model: model, mode: mode)
                let arrived = try daemon.subscriber.waitFor(streams.map { ($0.id, expected.count(for: $0)) }, timeout: 3)
                let received = streams.map { daemon.subscriber.labels(of: $0.id).count }
                #expect(arrived, "\(mode) mode: labels received per stream \(received), expected \(expected.count(for: streams[0])) each")
                for stream in streams where arrived {
                    #expect(try expected.problems(daemon.subscriber.labels(of: stream.id), stream: stream).isEmpty)
                }
            }
        }

        @Test func bidirectionalModelLabelsEqualOfflineForward() throws {
            let models = try TemporaryDirectory()
            defer { models.remove() }
            let (path, model) = try TestModels.write(
                to: models, name: "bi", architecture: Architecture(inputSize: 3, hiddenSize: 6, numLayers: 2, bidirectional: true, numClasses: 3),
                window: 9, hop: 2, seed: 4)
            try withDaemon(["--model", path]) { daemon in
                var generator = SplitMix64(seed: 8)
                var streams = [TestStream(id: "left", channels: 3), TestStream(id: "right", channels: 3)]
                try Self.interleave(&streams, framesEach: 10, sizes: 1...6, daemon: daemon, generator: &generator)
                try Self.check(streams, expected: ExpectedLabels(model: model), daemon: daemon)
            }
        }

        /// A model with a convolutional front end (format version 4) served by the daemon: each
        /// stream's states keep the front end's last inputs (window mode: one state per open
        /// window from zeros, sharing the stream's own front end once past its reach; continuous
        /// mode: one state, batched with the other streams'), and each label equals the offline
        /// forward.
        @Test(arguments: [StreamingMode.window, .continuous])
        func frontEndModelLabelsEqualOfflineForward(mode: StreamingMode) throws {
            let models = try TemporaryDirectory()
            defer { models.remove() }
            let (path, model) = try TestModels.write(
                to: models, name: "conv",
                architecture: Architecture(
                    inputSize: 3, hiddenSize: 8, head: .attention, numClasses: 3,
                    frontEnd: [.init(filters: 6, kernel: 5), .init(filters: 4, kernel: 3)]),
                window: 9, hop: 2, mode: mode, seed: 5)
            #expect(model.supportsStep && !model.sharesInputProjection)
            try withDaemon(["--model", path]) { daemon in
                var generator = SplitMix64(seed: 13)
                var streams = (0..<5).map { TestStream(id: "conv\($0)", channels: 3) }
                try Self.interleave(&streams, framesEach: 10, sizes: 1...6, daemon: daemon, generator: &generator)
                try Self.check(streams, expected: ExpectedLabels(model: model, mode: mode), daemon: daemon)
            }
        }

        /// An ensemble file served by the daemon: every member is stepped (window mode's staggered
        /// states, continuous mode's one state) and each label equals the ensemble's offline forward.
        @Test(arguments: [StreamingMode.window, .continuous])
        func ensembleModelLabelsEqualOfflineForward(mode: StreamingMode) throws {
            let models = try TemporaryDirectory()
            defer { models.remove() }
            let (path, model) = try TestModels.write(
                to: models, name: "ensemble", architecture: Architecture(inputSize: 3, hiddenSize: 8, numLayers: 2, numClasses: 3),
                window: 7, hop: 2, mode: mode, seed: 9, ensemble: 3)
            #expect(model.ensemble == 3)
            try withDaemon(["--model", path]) { daemon in
                var generator = SplitMix64(seed: 12)
                var streams = (0..<5).map { TestStream(id: "e\($0)", channels: 3) }
                try Self.interleave(&streams, framesEach: 8, sizes: 1...5, daemon: daemon, generator: &generator)
                try Self.check(streams, expected: ExpectedLabels(model: model, mode: mode), daemon: daemon)
            }
        }

        @Test func labelledFramesAreClassifiedAndCounted() throws {
            let models = try TemporaryDirectory()
            defer { models.remove() }
            let (path, model) = try TestModels.write(to: models, name: "uni", window: 6, hop: 3)
            try withDaemon(["--model", path]) { daemon in
                var generator = SplitMix64(seed: 2)
                var stream = TestStream(id: "labelled", channels: 3)
                for index in 0..<6 { try daemon.send(stream.frame(timesteps: 3, generator: &generator, label: index % 2 == 0 ? index % 4 : nil)) }
                try Self.check([stream], expected: ExpectedLabels(model: model), daemon: daemon)
                let counters = try daemon.status()["counters"]
                #expect(counters?["labelled_frames"]?.numberValue == 3)
            }
        }
    }
}

/// The drop counter names, as documented.
enum DropReason {
    static let names = [
        "wrong_parts", "bad_stream_id", "malformed_header", "unknown_version", "wrong_channels", "bad_timesteps",
        "payload_size", "oversize", "non_finite", "bad_label", "duplicate", "out_of_order", "stream_limit", "key_quota",
    ]
}
