@testable import Daemon
import Dispatch
import Foundation
import LSTMKit
import Logging
import Testing
import ZeroMQ

/// The daemon built in-process by `buildDaemon` and reached over `inproc://` through a shared
/// ZeroMQ context: frames in, labels out, control, reload and a graceful stop that drains.
@Suite(.serialized) struct InProcessDaemonTests {
    /// A running daemon with a PUSH, a SUB and a REQ socket connected to it.
    final class Harness {
        let context: ZMQContext
        let daemon: Daemon
        let push: ZMQSocket
        let sub: ZMQSocket
        let req: ZMQSocket
        let model: LSTMModel
        /// Signalled when `runUntilStopped()` returns.
        let finished = DispatchSemaphore(value: 0)
        var sequence: [String: UInt64] = [:]

        init(
            mode: StreamingMode = .continuous, hop: Int = 1, primingGate: (@Sendable () -> Void)? = nil,
            configure: (inout Configuration, inout DaemonBuildOptions) -> Void = { _, _ in }
        ) throws {
            context = try ZMQContext()
            let name = UUID().uuidString
            var configuration = Configuration()
            configuration.ingestEndpoints = ["inproc://ingest-\(name)"]
            configuration.publishEndpoints = ["inproc://publish-\(name)"]
            configuration.controlEndpoints = ["inproc://control-\(name)"]
            configuration.mode = mode
            configuration.hop = hop
            configuration.stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("lstmd-\(name)").path
            // `reload` with a model path loads only from here.
            configuration.modelDirectoryList = [FileManager.default.temporaryDirectory.path]
            var options = DaemonBuildOptions()
            options.context = context
            options.primingGate = primingGate
            configure(&configuration, &options)
            var logger = Logger(label: "test")
            logger.logLevel = .error
            daemon = try buildDaemon(configuration: configuration, logger: logger, options: options)
            model = try LSTMModel(contentsOf: try #require(DefaultModel.url))
            push = try ZMQSocket(.push, context: context)
            try push.connect(configuration.ingestEndpoints[0])
            sub = try ZMQSocket(.sub, context: context)
            try sub.set(.receiveTimeout, to: 5000)
            try sub.subscribe([UInt8]())
            try sub.connect(configuration.publishEndpoints[0])
            req = try ZMQSocket(.req, context: context)
            try req.set(.receiveTimeout, to: 5000)
            try req.connect(configuration.controlEndpoints[0])
            // On a thread of its own: the test's tasks may hold every thread of the global pool.
            let daemon = daemon, finished = finished
            Thread {
                do { try daemon.runUntilStopped() } catch { Issue.record("run failed: \(error)") }
                finished.signal()
            }.start()
        }

        func send(_ stream: String, _ values: [Float], timesteps: Int) throws {
            let next = sequence[stream, default: 0]
            sequence[stream] = next + 1
            let header = FrameHeader(channels: model.channels, timesteps: timesteps, sequence: next, timestamp: 1)
            let payload = values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
            try push.send(parts: [Array(stream.utf8), header.encoded, payload])
        }

        /// The next label message of `stream` (topic, JSON), skipping other streams' labels,
        /// waiting at most the socket's timeout for each.
        func label(_ stream: String) throws -> (String, JSONValue) {
            while true {
                let message = try #require(try sub.receiveMultipart(maxParts: 2))
                let topic = String(decoding: message.parts[0], as: UTF8.self)
                if topic == stream { return (topic, try JSONValue.parse(String(decoding: message.parts[1], as: UTF8.self))) }
            }
        }

        func control(_ request: String) throws -> JSONValue {
            try req.send(Array(request.utf8))
            let reply = try #require(try req.receiveMultipart(maxParts: 1))
            return try JSONValue.parse(String(decoding: reply.parts[0], as: UTF8.self))
        }

        /// Sends one-timestep frames on a warm-up stream until a label comes back: the SUB
        /// socket's subscription has reached the publisher (ZeroMQ's slow joiner).
        func waitForSubscription() throws {
            let zeros = [Float](repeating: 0, count: model.channels)
            for _ in 0..<200 {
                try send("warm-up", zeros, timesteps: 1)
                try sub.set(.receiveTimeout, to: 50)
                if let message = try sub.receiveMultipart(maxParts: 2), !message.parts.isEmpty {
                    try sub.set(.receiveTimeout, to: 5000)
                    while try sub.receiveMultipart(maxParts: 2, dontWait: true) != nil {}
                    return
                }
            }
            Issue.record("no label came back from the warm-up stream")
        }

        /// A model of the served one's shape, classes and scaler with weights drawn from `seed`,
        /// written to a temporary file (the caller removes it) and read back.
        func writeSibling(seed: UInt64) throws -> (path: URL, model: LSTMModel) {
            var file = ModelFile.randomlyInitialized(
                architecture: model.file.architecture, classes: model.classes, window: model.file.window, hop: model.file.hop,
                scaler: model.file.scaler, seed: seed)
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("lstmd-sibling-\(UUID().uuidString).safetensors")
            try file.write(to: path)
            return (path, try LSTMModel(contentsOf: path))
        }

        /// Stops the daemon and waits (bounded) until `run` returned.
        func stopDaemon() {
            daemon.triggerGracefulShutdown()
            #expect(finished.wait(timeout: .now() + 30) == .success, "the daemon did not stop")
        }

        func stop() {
            stopDaemon()
            push.close()
            sub.close()
            req.close()
            context.terminate()
        }
    }

    @Test func continuousLabelsEqualTheOfflineForward() throws {
        let harness = try Harness()
        try harness.waitForSubscription()
        let c = harness.model.channels
        var generator = SplitMix64(seed: 5)
        let values = (0..<(12 * c)).map { _ in generator.uniform(-2, 2) }
        // Three frames of 5, 4 and 3 timesteps: a label per timestep (hop 1).
        var offset = 0
        for count in [5, 4, 3] {
            try harness.send("s1", Array(values[(offset * c)..<((offset + count) * c)]), timesteps: count)
            offset += count
        }
        for t in 1...12 {
            let (topic, label) = try harness.label("s1")
            #expect(topic == "s1")
            #expect(label["timesteps"]?.numberValue == Double(t))
            let expected = try harness.model.forward(Array(values[0..<(t * c)]), batchSize: 1, timesteps: t, threads: 1).probabilities
            for (index, name) in harness.model.classes.enumerated() {
                let got = try #require(label["probabilities"]?[name]?.numberValue)
                #expect(abs(Float(got) - expected[index]) <= 1e-5, "timestep \(t) class \(name)")
            }
        }
        let streams = try harness.control(#"{"command":"streams","stream":"s1"}"#)
        #expect(Self.first(streams["streams"])?["frames"]?.numberValue == 3)
        #expect(Self.first(streams["streams"])?["timesteps"]?.numberValue == 12)
        harness.stop()
    }

    @Test func aReloadKeepsEveryStreamRecord() throws {
        let harness = try Harness()
        try harness.waitForSubscription()
        let zeros = [Float](repeating: 0.1, count: harness.model.channels)
        for _ in 0..<3 { try harness.send("kept", zeros, timesteps: 1) }
        for _ in 0..<3 { _ = try harness.label("kept") }
        let reloaded = try harness.control(#"{"command":"reload"}"#)
        #expect(reloaded["ok"] == .bool(true), "\(reloaded)")
        // Sequence tracking survives the swap: the next frame (sequence 3) is accepted, a repeat is not.
        try harness.send("kept", zeros, timesteps: 1)
        let (_, label) = try harness.label("kept")
        #expect(label["seq"]?.numberValue == 3)
        #expect(label["timesteps"]?.numberValue == 4, "the new model takes the stream over where it was (replay)")
        harness.sequence["kept"] = 3
        try harness.send("kept", zeros, timesteps: 1)
        let status = try harness.control(#"{"command":"status"}"#)
        #expect(status["drops"]?["duplicate"]?.numberValue == 1)
        #expect(status["counters"]?["reloads"]?.numberValue == 1)
        let streams = try harness.control(#"{"command":"streams","stream":"kept"}"#)
        #expect(Self.first(streams["streams"])?["frames"]?.numberValue == 4)
        harness.stop()
    }

    /// A graceful stop classifies every frame already received before the loop returns.
    @Test func gracefulShutdownDrainsQueuedFrames() throws {
        let harness = try Harness()
        try harness.waitForSubscription()
        let frames = 300
        let zeros = [Float](repeating: 0.2, count: harness.model.channels)
        for _ in 0..<frames { try harness.send("drain", zeros, timesteps: 1) }
        // inproc delivers at send time: all of them are queued in the daemon's PULL socket now.
        harness.stopDaemon()
        var labels = 0
        try harness.sub.set(.receiveTimeout, to: 1000)
        while let message = try harness.sub.receiveMultipart(maxParts: 2), !message.parts.isEmpty {
            if String(decoding: message.parts[0], as: UTF8.self) == "drain" { labels += 1 }
            if labels == frames { break }
        }
        #expect(labels == frames)
        harness.push.close()
        harness.sub.close()
        harness.req.close()
        harness.context.terminate()
    }

    /// After a swap, each stream's state is rebuilt from its last W timesteps
    /// (`swap_continuity = replay`): the next label is exactly the new model's offline forward of
    /// its window, with no W-timestep gap in the labels.
    @Test func aSwapReplaysEachStreamsWindowIntoTheNewModel() throws {
        let harness = try Harness(mode: .window, hop: 10)
        try harness.waitForSubscription()
        let c = harness.model.channels, window = harness.model.file.window
        let (path, new) = try harness.writeSibling(seed: 77)
        defer { try? FileManager.default.removeItem(at: path) }
        var generator = SplitMix64(seed: 9)
        let values = (0..<((window + 60) * c)).map { _ in generator.uniform(-2, 2) }
        // W + 50 timesteps under the old model: labels at W, W+10, …, W+50.
        try harness.send("r", Array(values[0..<((window + 50) * c)]), timesteps: window + 50)
        for _ in 0..<6 { _ = try harness.label("r") }
        let reloaded = try harness.control(#"{"command":"reload","model":"\#(path.path)"}"#)
        try #require(reloaded["ok"] == .bool(true), "\(reloaded)")
        // 10 more timesteps: the label at W+60 is the new model's forward of timesteps 60..<W+60.
        try harness.send("r", Array(values[((window + 50) * c)...]), timesteps: 10)
        let (_, label) = try harness.label("r")
        #expect(label["model_version"]?.stringValue == new.file.version)
        #expect(label["timesteps"]?.numberValue == Double(window + 60))
        let expected = try new.forward(Array(values[(60 * c)...]), batchSize: 1, timesteps: window, threads: 1).probabilities
        try Self.expectProbabilities(label, equal: expected, classes: new.classes)
        harness.stop()
    }

    /// The new model's stream states are rebuilt beside serving: frames arriving meanwhile are
    /// labelled by the old model, the primed states catch up on them, and the first label after
    /// the swap is still exactly the new model's forward of its window. A stream that appeared
    /// during the priming is replayed from its history instead.
    @Test func framesArrivingWhileASwapIsPrimedAreCaughtUp() throws {
        let entered = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let harness = try Harness(mode: .window, hop: 10, primingGate: { entered.signal(); release.wait() })
        try harness.waitForSubscription()
        let old = harness.model
        let c = old.channels, window = old.file.window
        let (path, new) = try harness.writeSibling(seed: 78)
        defer { try? FileManager.default.removeItem(at: path) }
        var generator = SplitMix64(seed: 10)
        let values = (0..<((window + 70) * c)).map { _ in generator.uniform(-2, 2) }
        let late = (0..<((window + 10) * c)).map { _ in generator.uniform(-2, 2) }
        func slice(_ source: [Float], _ range: Range<Int>) -> [Float] { Array(source[(range.lowerBound * c)..<(range.upperBound * c)]) }
        try harness.send("r", slice(values, 0..<(window + 50)), timesteps: window + 50)
        for _ in 0..<6 { _ = try harness.label("r") }

        try harness.req.send(Array(#"{"command":"reload","model":"\#(path.path)"}"#.utf8))
        try #require(entered.wait(timeout: .now() + 30) == .success, "priming did not start")
        // While the new model is primed, the old one labels: r at W+60, and a new stream at W.
        try harness.send("r", slice(values, (window + 50)..<(window + 60)), timesteps: 10)
        let (_, during) = try harness.label("r")
        #expect(during["model_version"]?.stringValue == old.file.version)
        #expect(during["timesteps"]?.numberValue == Double(window + 60))
        try harness.send("late", slice(late, 0..<window), timesteps: window)
        let (_, lateDuring) = try harness.label("late")
        #expect(lateDuring["model_version"]?.stringValue == old.file.version)
        release.signal()
        let reply = try #require(try harness.req.receiveMultipart(maxParts: 1))
        let reloaded = try JSONValue.parse(String(decoding: reply.parts[0], as: UTF8.self))
        try #require(reloaded["ok"] == .bool(true), "\(reloaded)")

        try harness.send("r", slice(values, (window + 60)..<(window + 70)), timesteps: 10)
        try harness.send("late", slice(late, window..<(window + 10)), timesteps: 10)
        for (stream, source, end) in [("r", values, window + 70), ("late", late, window + 10)] {
            let (_, label) = try harness.label(stream)
            #expect(label["model_version"]?.stringValue == new.file.version, "\(stream)")
            #expect(label["timesteps"]?.numberValue == Double(end), "\(stream)")
            let expected = try new.forward(slice(source, (end - window)..<end), batchSize: 1, timesteps: window, threads: 1).probabilities
            try Self.expectProbabilities(label, equal: expected, classes: new.classes, stream)
        }
        harness.stop()
    }

    /// The interval trigger runs on the daemon's clock: with the clock frozen no job starts; one
    /// minute later (on the injected clock, not the wall) the job starts (and fails here: the
    /// worker is /bin/false), and the model keeps serving.
    @Test func theRetrainIntervalFollowsTheInjectedClock() throws {
        let clock = ManualServingClock()
        let harness = try Harness(configure: { configuration, options in
            configuration.retrainInterval = 60
            configuration.retrainMinNew = 1
            options.clock = clock
            options.workerExecutable = "/bin/false"
        })
        let model = harness.model
        let values = [Float](repeating: 0.5, count: model.file.window * model.channels)
        let header = FrameHeader(channels: model.channels, timesteps: model.file.window, sequence: 0, timestamp: 1, label: 0, trainingSample: true)
        let payload = values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
        try harness.push.send(parts: [Array("samples".utf8), header.encoded, payload])
        func retrain() throws -> JSONValue? { try harness.control(#"{"command":"status"}"#)["retrain"] }
        var stored = false
        for _ in 0..<2000 where !stored { stored = try harness.control(#"{"command":"status"}"#)["buffer"]?["records"]?.numberValue == 1 }
        try #require(stored, "the training sample was not stored")
        #expect(try retrain()?["new_since_last_job"]?.numberValue == 1)
        #expect(try retrain()?["jobs"]?.numberValue == 0)
        clock.advance(by: 61_000_000_000)
        // The retraining thread looks at the schedule at least every 0.5 s (wall time).
        let deadline = Date().addingTimeInterval(20)
        var failed = false
        while !failed, Date() < deadline { failed = try retrain()?["failed"]?.numberValue == 1 }
        let after = try retrain()
        #expect(failed, "no job started one injected minute later: \(String(describing: after))")
        #expect(try harness.control(#"{"command":"status"}"#)["model"]?["version"]?.stringValue == model.file.version)
        harness.stop()
    }

    /// Each class's probability in `label` is `expected`'s within 1e-5.
    static func expectProbabilities(_ label: JSONValue, equal expected: [Float], classes: [String], _ context: String = "") throws {
        for (index, name) in classes.enumerated() {
            let got = try #require(label["probabilities"]?[name]?.numberValue, "\(context) class \(name)")
            #expect(abs(Float(got) - expected[index]) <= 1e-5, "\(context) class \(name)")
        }
    }

    static func first(_ list: JSONValue?) -> JSONValue? {
        if case .array(let elements) = list { return elements.first }
        return nil
    }
}
