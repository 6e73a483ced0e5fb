import Foundation
import LSTMKit
import Testing

extension EndToEnd {
    /// `reload` (control command and SIGHUP): a good model is swapped in between frames, a bad
    /// one is refused and the current model keeps serving.
    @Suite struct Reload {
        @Test func reloadSwapsInANewModelAndRefusesACorruptOne() throws {
            let models = try TemporaryDirectory()
            defer { models.remove() }
            let (firstPath, first) = try TestModels.write(to: models, name: "first", window: 6, hop: 3, version: "e2e-v1", seed: 1)
            let (secondPath, second) = try TestModels.write(
                to: models, name: "second", architecture: Architecture(inputSize: 3, hiddenSize: 11, head: .attention, numClasses: 5),
                window: 4, hop: 2, version: "e2e-v2", seed: 2)
            let corruptPath = models.url.appendingPathComponent("corrupt.safetensors").path
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: secondPath)))
            bytes.removeLast(bytes.count / 3)  // truncated: tensors run past the end
            try Data(bytes).write(to: URL(fileURLWithPath: corruptPath))
            let garbagePath = models.url.appendingPathComponent("garbage.safetensors").path
            try Data((0..<512).map { UInt8(truncatingIfNeeded: $0 &* 7919) }).write(to: URL(fileURLWithPath: garbagePath))

            try withDaemon(["--model", firstPath, "--model-directory", models.path]) { daemon in
                var generator = SplitMix64(seed: 21)
                var stream = TestStream(id: "s", channels: 3)
                for _ in 0..<3 { try daemon.send(stream.frame(timesteps: 4, generator: &generator)) }
                let before = ExpectedLabels(model: first)
                #expect(try daemon.subscriber.waitFor(stream: "s", count: before.count(for: stream)))
                let firstStretch = stream.currentStretch

                // A good model of other classes: refused unless forced (labels' consumers read
                // class names); forced: ok, its version, states start over (sequence tracking stays).
                let unforced = try daemon.request(["command": .string("reload"), "model": .string(secondPath)])
                #expect(unforced["ok"] == .bool(false), "\(unforced)")
                #expect(unforced["error"]?.stringValue?.contains("force") == true, "\(unforced)")
                let reply = try daemon.request(["command": .string("reload"), "model": .string(secondPath), "force": .bool(true)])
                #expect(reply["ok"] == .bool(true), "\(reply)")
                #expect(daemon.log.contains("(forced)"), "\(daemon.log)")
                #expect(reply["model_version"]?.stringValue == "e2e-v2")
                stream.startOver()
                let secondStretch = stream.currentStretch
                for _ in 0..<3 { try daemon.send(stream.frame(timesteps: 3, generator: &generator)) }
                let after = ExpectedLabels(model: second)
                let total = before.count(for: stream, stretches: [firstStretch]) + after.count(for: stream, stretches: [secondStretch])
                #expect(try daemon.subscriber.waitFor(stream: "s", count: total))
                let labels = daemon.subscriber.labels(of: "s")
                let beforeProblems = try before.problems(labels, stream: stream, stretches: [firstStretch], version: "e2e-v1")
                #expect(beforeProblems.isEmpty, "\(beforeProblems)")
                let problems = try after.problems(labels, stream: stream, stretches: [secondStretch], version: "e2e-v2")
                #expect(problems.isEmpty, "\(problems)")
                var status = try daemon.status()
                #expect(status["model"]?["version"]?.stringValue == "e2e-v2")
                #expect(status["model"]?["window"]?.numberValue == 4)
                #expect(status["model"]?["classes"] == .array(second.classes.map { .string($0) }))
                #expect(status["counters"]?["reloads"]?.numberValue == 1)
                #expect(try daemon.drops().values.allSatisfy { $0 == 0 })

                // Bad models: refused with a reason; the second model keeps serving.
                for bad in [corruptPath, garbagePath, models.url.appendingPathComponent("missing.safetensors").path, models.path] {
                    let refused = try daemon.request(["command": .string("reload"), "model": .string(bad)])
                    #expect(refused["ok"] == .bool(false), "\(bad): \(refused)")
                    #expect(refused["error"]?.stringValue?.isEmpty == false, "\(bad): \(refused)")
                }
                for _ in 0..<2 { try daemon.send(stream.frame(timesteps: 2, generator: &generator)) }
                let more = total + 2  // four more timesteps at hop 2
                #expect(try daemon.subscriber.waitFor(stream: "s", count: more))
                let latest = daemon.subscriber.labels(of: "s")
                #expect(try after.problems(latest, stream: stream, stretches: [secondStretch], version: "e2e-v2").isEmpty)
                status = try daemon.status()
                #expect(status["model"]?["version"]?.stringValue == "e2e-v2")
                #expect(status["model"]?["path"]?.stringValue == secondPath)
                #expect(status["counters"]?["reloads"]?.numberValue == 1)
                #expect(daemon.process.isRunning)
            }
        }

        /// Continuous mode across a swap (`swap_continuity = replay`), in the real daemon: the new
        /// model's state is its forward over the stream's last `W` timesteps, then it steps on, so
        /// the first label after the swap is the new model's offline forward over timesteps
        /// `N−W ..< N+1`, and the stream's timestep count goes on.
        @Test func continuousModeReplaysTheLastWindowIntoTheNewModel() throws {
            let (firstDirectory, secondDirectory) = (try TemporaryDirectory(), try TemporaryDirectory())
            defer {
                firstDirectory.remove()
                secondDirectory.remove()
            }
            // The same name gives the same class names: a plain reload, no force, no reset.
            let (firstPath, first) = try TestModels.write(
                to: firstDirectory, name: "m", window: 6, hop: 1, mode: .continuous, version: "c-v1", seed: 3)
            let (secondPath, second) = try TestModels.write(
                to: secondDirectory, name: "m", window: 6, hop: 1, mode: .continuous, version: "c-v2", seed: 4)
            try withDaemon(["--model", firstPath, "--mode", "continuous", "--model-directory", secondDirectory.path]) { daemon in
                var generator = SplitMix64(seed: 31)
                let values = (0..<(11 * 3)).map { _ in generator.uniform(-2, 2) }
                var stream = TestStream(id: "c", channels: 3)
                try daemon.send(stream.frame(values: Array(values[0..<30])))
                #expect(try daemon.subscriber.waitFor(stream: "c", count: 10))
                let before = try #require(daemon.subscriber.labels(of: "c").last)
                let expectedBefore = try first.forward(Array(values[0..<30]), batchSize: 1, timesteps: 10, threads: 1).probabilities
                for (index, name) in first.classes.enumerated() {
                    #expect(abs((before.probabilities[name] ?? -1) - expectedBefore[index]) <= 1e-5, "before: \(name)")
                }
                let reply = try daemon.request(["command": .string("reload"), "model": .string(secondPath)])
                try #require(reply["ok"] == .bool(true), "\(reply)")
                try daemon.send(stream.frame(values: Array(values[30..<33])))
                #expect(try daemon.subscriber.waitFor(stream: "c", count: 11))
                let after = try #require(daemon.subscriber.labels(of: "c").last)
                #expect(after.modelVersion == "c-v2")
                #expect(after.timesteps == 11)
                let expected = try second.forward(Array(values[(4 * 3)..<33]), batchSize: 1, timesteps: 7, threads: 1).probabilities
                for (index, name) in second.classes.enumerated() {
                    #expect(abs((after.probabilities[name] ?? -1) - expected[index]) <= 1e-5, "after: \(name)")
                }
            }
        }

        /// A `model` that is not a string must be refused, not taken as "reload the current file"
        /// (which silently resets every stream).
        @Test
        func reloadRefusesANonStringModel() throws {
            let models = try TemporaryDirectory()
            defer { models.remove() }
            let (path, _) = try TestModels.write(to: models, name: "model", window: 4, hop: 2)
            try withDaemon(["--model", path], subscribe: false) { daemon in
                for request in [#"{"command":"reload","model":42}"#, #"{"command":"reload","model":null}"#, #"{"command":"reload","model":["a"]}"#] {
                    let reply = try daemon.request(request)
                    #expect(reply["ok"] == .bool(false), "\(request) → \(reply)")
                }
                #expect(try daemon.status()["counters"]?["reloads"]?.numberValue == 0)
            }
        }

        @Test func sighupReloadsTheModelFromItsPath() throws {
            let models = try TemporaryDirectory()
            defer { models.remove() }
            let (path, _) = try TestModels.write(to: models, name: "model", window: 4, hop: 2, version: "before-hup", seed: 1)
            try withDaemon(["--model", path]) { daemon in
                // Replace the file in place (atomically), then SIGHUP.
                let (_, replacement) = try TestModels.write(to: models, name: "model", window: 4, hop: 2, version: "after-hup", seed: 2)
                kill(daemon.process.processIdentifier, SIGHUP)
                let status = try daemon.waitForStatus { $0["model"]?["version"]?.stringValue == "after-hup" }
                #expect(status != nil, "model version still \(String(describing: try? daemon.status()["model"]?["version"]))")
                #expect(status?["counters"]?["reloads"]?.numberValue == 1)
                var generator = SplitMix64(seed: 3)
                var stream = TestStream(id: "after", channels: 3)
                for _ in 0..<3 { try daemon.send(stream.frame(timesteps: 2, generator: &generator)) }
                let expected = ExpectedLabels(model: replacement)
                #expect(try daemon.subscriber.waitFor(stream: "after", count: expected.count(for: stream)))
                #expect(try expected.problems(daemon.subscriber.labels(of: "after"), stream: stream, version: "after-hup").isEmpty)
            }
        }

        /// SIGHUP re-reads the configuration file: a changed streaming setting takes effect with
        /// the model it names; a file with a bad value is refused and everything keeps serving.
        @Test func sighupReloadsTheConfigurationFile() throws {
            let models = try TemporaryDirectory()
            defer { models.remove() }
            let (path, _) = try TestModels.write(to: models, name: "model", window: 4, hop: 2, version: "conf-v1", seed: 1)
            let (otherPath, _) = try TestModels.write(to: models, name: "other", window: 4, hop: 2, version: "conf-v2", seed: 2)
            let config = models.url.appendingPathComponent("lstmd.conf")
            try "model = \(path)\nhop = 2\nmax_streams = 50\n".write(to: config, atomically: true, encoding: .utf8)
            try withDaemon(["--config", config.path]) { daemon in
                #expect(try daemon.status()["model"]?["hop"]?.numberValue == 2)
                try "model = \(otherPath)\nhop = 3\nmax_streams = 60\n".write(to: config, atomically: true, encoding: .utf8)
                kill(daemon.process.processIdentifier, SIGHUP)
                let status = try daemon.waitForStatus { $0["model"]?["version"]?.stringValue == "conf-v2" }
                #expect(status?["model"]?["hop"]?.numberValue == 3)
                #expect(status?["streams"]?["max"]?.numberValue == 60)
                // A bad value: refused, the running configuration and model stay.
                try "model = \(path)\nhop = 0\n".write(to: config, atomically: true, encoding: .utf8)
                kill(daemon.process.processIdentifier, SIGHUP)
                // Wait for the refusal itself (not a fixed time, which would pass if SIGHUP had
                // not been handled yet).
                #expect(try daemon.waitForLog { $0.contains("configuration refused") }, "\(daemon.log)")
                let after = try daemon.status()
                #expect(after["model"]?["version"]?.stringValue == "conf-v2")
                #expect(after["model"]?["hop"]?.numberValue == 3)
                #expect(after["counters"]?["reloads"]?.numberValue == 1)
            }
        }
    }
}
