import Foundation
import LSTMKit
import Testing

/// Retraining as an operator runs it: the real daemon with a state directory, `lstmctl label`,
/// `lstmctl retrain --wait --json`, `lstmctl models`, `lstmctl rollback`, a worker process that
/// is killed, and a daemon killed with SIGKILL while it appends.
@Suite(.serialized) struct RetrainTests {
    let tools = ClientToolTests()
    static let fixtures = "Tests/LSTMTrainingTests/Fixtures"
    static let train = "\(fixtures)/BasicMotions_TRAIN.ts"

    /// Writes a small unidirectional recipe (fast in a debug build) as `NAME.recipe` in
    /// `directory`. - Returns: its URL.
    static func writeRecipe(
        _ name: String, in directory: TemporaryDirectory, hidden: Int = 8, epochs: Int, learningRate: Double, seed: Int
    ) throws -> URL {
        let url = directory.url.appendingPathComponent("\(name).recipe")
        let text = """
            hidden_size = \(hidden)
            layers = 1
            bidirectional = false
            head = last
            epochs = \(epochs)
            learning_rate = \(learningRate)
            threads = 1
            seed = \(seed)
            """
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// A model trained for one epoch at a low rate: it labels BasicMotions near chance.
    func weakModel(in directory: TemporaryDirectory) throws -> String {
        let recipe = try Self.writeRecipe("weak", in: directory, epochs: 1, learningRate: 0.001, seed: 3)
        let path = directory.url.appendingPathComponent("weak.safetensors").path
        let trained = try tools.run(tools.lstmctl, ["train", "--train", Self.train, "--recipe", recipe.path, "--out", path])
        try #require(trained.status == 0, "\(trained.err)")
        return path
    }

    /// Streams each BasicMotions test recording (one window) on its own stream and counts the
    /// labels that name its class.
    func accuracy(_ daemon: DaemonProcess, prefix: String) throws -> Double {
        let recordings = try BasicMotions.recordings()
        for (index, recording) in recordings.enumerated() {
            var stream = TestStream(id: "\(prefix)\(index)", channels: 6)
            try daemon.send(stream.frame(values: recording.values))
        }
        var correct = 0
        for (index, recording) in recordings.enumerated() {
            let id = "\(prefix)\(index)"
            try #require(try daemon.subscriber.waitFor(stream: id, count: 1), "no label for \(id)")
            if daemon.subscriber.labels(of: id).last?.label == recording.label { correct += 1 }
        }
        return Double(correct) / Double(recordings.count)
    }

    func lstmctl(_ daemon: DaemonProcess, _ arguments: [String], timeout: Double = 600) throws -> (status: Int32, out: String, err: String) {
        try tools.run(tools.lstmctl, arguments, timeout: timeout)
    }

    @Test func labelRetrainPromoteThenLabelsImprove() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let weak = try weakModel(in: directory)
        // A candidate that fits the training windows (see `killingTheDaemonDuringAPromotion`):
        // which windows validate depends on their send times.
        let recipe = try Self.writeRecipe("retrain", in: directory, hidden: 16, epochs: 80, learningRate: 0.01, seed: 5)
        let daemon = try DaemonProcess(arguments: [
            "--model", weak, "--state-directory", directory.url.appendingPathComponent("state").path,
            "--retrain-recipe", recipe.path, "--retrain-min-validation-per-class", "0", "--retrain-promote-margin", "0",
            "--retrain-max-recall-drop", "1", "--buffer-fsync", "always",
        ])
        defer { daemon.stop() }
        try daemon.awaitSubscription()
        let before = try accuracy(daemon, prefix: "before-")
        let weakVersion = try #require(daemon.initialStatus["model"]?["version"]?.stringValue)

        let labelled = try lstmctl(daemon, ["label", "--data", Self.train, "--endpoint", daemon.ingestEndpoint, "--control", daemon.controlEndpoint])
        #expect(labelled.status == 0, "\(labelled.err)")
        #expect(labelled.out.contains("stored 40 of 40") || labelled.err.contains("stored 40 of 40"), "\(labelled.out)\(labelled.err)")
        let status = try daemon.status()
        #expect(status["buffer"]?["records"]?.numberValue == 40)
        #expect(status["buffer"]?["durable_records"]?.numberValue == 40)
        #expect(status["counters"]?["training_samples"]?.numberValue == 40)

        let retrained = try lstmctl(daemon, ["retrain", "--wait", "--json", "--endpoint", daemon.controlEndpoint])
        try #require(retrained.status == 0, "\(retrained.err)\n\(daemon.log.suffix(3000))")
        let result = try JSONValue.parse(retrained.out.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(result["promoted"] == .bool(true), "\(result)")
        #expect(result["current"]?["version"]?.stringValue == weakVersion)
        let candidate = try #require(result["candidate"]?["version"]?.stringValue)
        #expect((result["train_windows"]?.numberValue ?? 0) + (result["validation_windows"]?.numberValue ?? 0) == 40)
        for key in ["job", "reason", "class_counts", "duration_s"] { #expect(result[key] != nil, "no \(key) in \(result)") }

        // The swap is announced on the empty topic (once the streams' states are rebuilt in the
        // new model beside serving) and the labels carry the new version.
        let deadline = Date().addingTimeInterval(120)
        while daemon.subscriber.events.isEmpty, Date() < deadline { _ = try daemon.subscriber.poll(timeout: 1) }
        let event = try #require(daemon.subscriber.events.last, "no model event")
        #expect(event["reason"]?.stringValue == "retrain" && event["new_version"]?.stringValue == candidate)
        let after = try accuracy(daemon, prefix: "after-")
        #expect(daemon.subscriber.labels(of: "after-0").last?.modelVersion == candidate)
        #expect(after >= before + 0.3, "test accuracy \(before) before retraining, \(after) after")

        // The store lists both; a rollback serves the weak model again.
        let models = try lstmctl(daemon, ["models", "--json", "--endpoint", daemon.controlEndpoint])
        #expect(models.status == 0 && models.out.contains(candidate) && models.out.contains(weakVersion), "\(models.out)")
        let rolledBack = try lstmctl(daemon, ["rollback", weakVersion, "--endpoint", daemon.controlEndpoint])
        #expect(rolledBack.status == 0, "\(rolledBack.err)")
        #expect(try daemon.status()["model"]?["version"]?.stringValue == weakVersion)
    }

    /// A job whose candidate does not clear the gate is rejected with its reason, and one whose
    /// process dies is counted as failed; the model serving never changes and labels go on.
    @Test func rejectedAndKilledJobsLeaveTheModelServing() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let weak = try weakModel(in: directory)
        let recipe = try Self.writeRecipe("retrain", in: directory, epochs: 2000, learningRate: 0.01, seed: 5)
        let daemon = try DaemonProcess(arguments: [
            "--model", weak, "--state-directory", directory.url.appendingPathComponent("state").path,
            "--retrain-recipe", recipe.path, "--retrain-promote-margin", "2",
        ])
        defer { daemon.stop() }
        try daemon.awaitSubscription()
        let version = try daemon.status()["model"]?["version"]?.stringValue
        let labelled = try lstmctl(daemon, ["label", "--data", Self.train, "--endpoint", daemon.ingestEndpoint, "--control", daemon.controlEndpoint])
        #expect(labelled.status == 0, "\(labelled.err)")

        // A job that would train for long: kill its process.
        let started = try daemon.request(["command": .string("retrain")])
        let job = try #require(started["job"]?.stringValue)
        let worker = try #require(try Self.waitForWorker(of: daemon.process.processIdentifier), "no retrain-worker process")
        kill(worker, SIGKILL)
        let failed = try Self.waitForJob(daemon, job)
        #expect(failed["state"]?.stringValue == "failed", "\(failed)")
        #expect(failed["result"]?["error"]?.stringValue?.contains("signal 9") == true, "\(failed)")
        #expect(try daemon.status()["retrain"]?["failed"]?.numberValue == 1)
        #expect(try daemon.status()["model"]?["version"]?.stringValue == version)
        #expect(try accuracy(daemon, prefix: "alive-") >= 0, "labels stopped after the job died")
        #expect(daemon.log.contains("retraining job failed"))
    }

    /// kill -9 of the daemon during a job: the orphaned worker stops by itself, and after a
    /// restart on the same state directory a valid model serves and the store is consistent.
    @Test func killingTheDaemonDuringAJobLeavesAConsistentStore() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let weak = try weakModel(in: directory)
        let recipe = try Self.writeRecipe("retrain", in: directory, epochs: 2000, learningRate: 0.01, seed: 5)
        let state = directory.url.appendingPathComponent("state").path
        let version: String
        do {
            let daemon = try DaemonProcess(arguments: ["--model", weak, "--state-directory", state, "--retrain-recipe", recipe.path])
            version = try #require(daemon.initialStatus["model"]?["version"]?.stringValue)
            let labelled = try lstmctl(
                daemon, ["label", "--data", Self.train, "--endpoint", daemon.ingestEndpoint, "--control", daemon.controlEndpoint])
            #expect(labelled.status == 0, "\(labelled.err)")
            _ = try daemon.request(["command": .string("retrain")])
            let worker = try #require(try Self.waitForWorker(of: daemon.process.processIdentifier), "no retrain-worker process")
            kill(daemon.process.processIdentifier, SIGKILL)
            daemon.process.waitUntilExit()
            // The worker notices at its next training step (bounded wait).
            let deadline = Date().addingTimeInterval(60)
            while Self.isRunning(worker), Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            #expect(!Self.isRunning(worker), "the orphaned worker \(worker) still runs")
        }
        let restarted = try DaemonProcess(arguments: ["--model", weak, "--state-directory", state])
        defer { restarted.stop() }
        #expect(restarted.initialStatus["model"]?["version"]?.stringValue == version)
        let models = try restarted.request(["command": .string("models")])
        #expect(models["current"]?.stringValue == version, "\(models)")
        #expect(try restarted.status()["buffer"]?["records"]?.numberValue == 40)
    }

    /// kill -9 in the middle of a promotion, once the candidate is filed in the store (`stored`)
    /// and once the `current` pointer names it but before the swap (`promoted`): after a restart
    /// on the same state directory the store is consistent, the model `current` names serves
    /// (the weak one, then the candidate), and no labelled record is lost.
    @Test(arguments: ["stored", "promoted"]) func killingTheDaemonDuringAPromotion(stage: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let weak = try weakModel(in: directory)
        // The candidate must beat the weak model whatever order the labelled windows reached the
        // buffer in and whichever windows validate (both depend on send times): with 25 epochs
        // of H=8 one CI run in many scored macro-F1 0.225 against the weak model's 0.267 on its
        // 7 validation windows and was rightly rejected.
        let recipe = try Self.writeRecipe("retrain", in: directory, hidden: 16, epochs: 80, learningRate: 0.01, seed: 5)
        let state = directory.url.appendingPathComponent("state").path
        let weakVersion: String
        do {
            let daemon = try DaemonProcess(
                arguments: [
                    "--model", weak, "--state-directory", state, "--retrain-recipe", recipe.path, "--buffer-fsync", "always",
                    "--retrain-min-validation-per-class", "0", "--retrain-promote-margin", "0", "--retrain-max-recall-drop", "1",
                ],
                environment: ["LSTMD_DEBUG_PAUSE_PROMOTION": stage])
            weakVersion = try #require(daemon.initialStatus["model"]?["version"]?.stringValue)
            let labelled = try lstmctl(
                daemon, ["label", "--data", Self.train, "--endpoint", daemon.ingestEndpoint, "--control", daemon.controlEndpoint])
            #expect(labelled.status == 0, "\(labelled.err)")
            _ = try daemon.request(["command": .string("retrain")])
            // Waits for the pause, or for the job to end without reaching it (a failed job or a
            // rejected candidate: then the test fails at once, with the daemon's log).
            _ = try daemon.waitForLog(timeout: 600) { log in
                (log.contains("debug: promotion paused") && log.contains(stage)) || log.contains("retraining job failed")
                    || log.contains("rejected its candidate")
            }
            let paused = daemon.log.contains("debug: promotion paused") && daemon.log.contains(stage)
            try #require(paused, "the promotion never reached '\(stage)'\n\(daemon.log.suffix(3000))")
            kill(daemon.process.processIdentifier, SIGKILL)
            daemon.process.waitUntilExit()
        }
        let restarted = try DaemonProcess(arguments: ["--model", weak, "--state-directory", state])
        defer { restarted.stop() }
        let models = try restarted.request(["command": .string("models")])
        let current = try #require(models["current"]?.stringValue, "\(models)")
        guard case .array(let entries) = models["models"] else {
            Issue.record("no model list: \(models)")
            return
        }
        let versions = entries.compactMap { $0["version"]?.stringValue }
        #expect(versions.count == 2 && versions.contains(weakVersion), "\(models)")
        let candidate = try #require(versions.first { $0 != weakVersion })
        #expect(current == (stage == "stored" ? weakVersion : candidate), "\(models)")
        #expect(restarted.initialStatus["model"]?["version"]?.stringValue == current)
        #expect(try restarted.status()["buffer"]?["records"]?.numberValue == 40)
        try restarted.awaitSubscription()
        #expect(try accuracy(restarted, prefix: "after-") >= 0)
        #expect(restarted.subscriber.labels(of: "after-0").last?.modelVersion == current)
    }

    /// kill -9 while appending: every record reported durable before the kill is there after a
    /// restart on the same state directory.
    @Test func durableRecordsSurviveKill9() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let state = directory.url.appendingPathComponent("state").path
        var durable = 0.0
        do {
            let daemon = try DaemonProcess(arguments: ["--state-directory", state, "--buffer-fsync", "0.05"])
            try daemon.awaitSubscription()
            let labelled = try lstmctl(
                daemon, ["label", "--data", Self.train, "--endpoint", daemon.ingestEndpoint, "--control", daemon.controlEndpoint])
            #expect(labelled.status == 0, "\(labelled.err)")
            // Keep appending while the daemon is killed.
            let recordings = try BasicMotions.recordings()
            var stream = TestStream(id: "k", channels: 6)
            for recording in recordings.prefix(20) { try daemon.send(stream.frame(values: recording.values, label: 0)) }
            durable = try daemon.status()["buffer"]?["durable_records"]?.numberValue ?? 0
            kill(daemon.process.processIdentifier, SIGKILL)
            daemon.process.waitUntilExit()
        }
        #expect(durable >= 40)
        let restarted = try DaemonProcess(arguments: ["--state-directory", state])
        defer { restarted.stop() }
        let records = try restarted.status()["buffer"]?["records"]?.numberValue ?? -1
        #expect(records >= durable, "\(records) records after the restart, \(durable) were durable before the kill")
    }

    /// Labelled frames become labelled windows (W = 100, stride = the hop, 10); corrections and
    /// bad labels are refused with their reason and counted, and nothing else changes.
    @Test func labelledFramesCutWindowsAndBadLabelsAreRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let daemon = try DaemonProcess(arguments: [
            "--state-directory", directory.url.appendingPathComponent("state").path, "--buffer-fsync", "always",
        ])
        defer { daemon.stop() }
        try daemon.awaitSubscription()
        let recordings = try BasicMotions.recordings()
        var stream = TestStream(id: "walker", channels: 6)
        // 150 labelled timesteps of class 2, then 50 of class 3: windows end at 100, 110, …, 150
        // in the first run (6); the second run is shorter than W (none).
        let values = recordings[0].values + Array(recordings[1].values.prefix(50 * 6))
        try daemon.send(stream.frame(values: Array(values.prefix(150 * 6)), label: 2))
        try daemon.send(stream.frame(values: Array(values.suffix(50 * 6)), label: 3))
        #expect(try daemon.subscriber.waitFor(stream: "walker", count: 1))
        var windows = 0.0
        for _ in 0..<100 where windows < 6 {
            windows = try daemon.status()["buffer"]?["windows"]?.numberValue ?? 0
        }
        #expect(windows == 6)
        #expect(try daemon.status()["buffer"]?["classes"]?["Walking"]?.numberValue == 6)

        let corrected = try lstmctl(daemon, ["label", "--stream", "walker", "--class", "Badminton", "--control", daemon.controlEndpoint])
        #expect(corrected.status == 0, "\(corrected.err)")
        let unknownClass = try daemon.request(["command": .string("label"), "stream": .string("walker"), "class": .string("Swimming")])
        #expect(unknownClass["error"]?.stringValue?.contains("unknown class 'Swimming'") == true, "\(unknownClass)")
        let unknownStream = try daemon.request(["command": .string("label"), "stream": .string("nobody"), "class": .string("Walking")])
        #expect(unknownStream["error"]?.stringValue?.contains("unknown stream") == true, "\(unknownStream)")
        let status = try daemon.status()
        #expect(status["buffer"]?["records"]?.numberValue == 7)
        #expect(status["buffer"]?["corrections"]?.numberValue == 1)
        #expect(status["buffer"]?["refused"]?.numberValue == 1)
    }

    /// A job on shuffled labels makes a worse model: the gate rejects it with its reason and the
    /// current (well-trained) model keeps serving. The shuffled file is `retrain_base_data`, which
    /// goes to the training side only (the buffer holds the correct labels and provides the
    /// validation units): the job trains on the buffer's training units plus every base sample.
    @Test func shuffledLabelsAreRejectedAndBaseDataTrainsOnly() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // The serving model fits every training sample (hidden 16, 80 epochs: training accuracy
        // 1.0 for seeds 1–5 measured here; 8 hidden units reached only 0.925, and the verdict then
        // hung on which units validated), so whichever units validate (they depend on the
        // samples' send times) it scores 1.0 on them and no candidate can clear the margin; a
        // gate that promoted anyway would fail this test.
        let goodRecipe = try Self.writeRecipe("good", in: directory, hidden: 16, epochs: 80, learningRate: 0.01, seed: 5)
        let recipe = try Self.writeRecipe("retrain", in: directory, epochs: 25, learningRate: 0.01, seed: 5)
        let good = directory.url.appendingPathComponent("good.safetensors").path
        let trained = try tools.run(tools.lstmctl, ["train", "--train", Self.train, "--recipe", goodRecipe.path, "--out", good], timeout: 600)
        try #require(trained.status == 0, "\(trained.err)")
        // The training file with its labels permuted (i → 7i + 3 mod 40): about 3 in 4 are wrong.
        let text = try String(contentsOfFile: Self.train, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let first = try #require(lines.firstIndex { $0.lowercased().hasPrefix("@data") }) + 1
        let rows = Array(first..<lines.count).filter { !lines[$0].isEmpty }
        let labels = rows.map { lines[$0].split(separator: ":").last.map(String.init) ?? "" }
        for (i, row) in rows.enumerated() {
            let body = lines[row][..<lines[row].lastIndex(of: ":")!]
            lines[row] = body + ":" + labels[(7 * i + 3) % rows.count]
        }
        let shuffled = directory.url.appendingPathComponent("shuffled.ts")
        try lines.joined(separator: "\n").write(to: shuffled, atomically: true, encoding: .utf8)

        let daemon = try DaemonProcess(arguments: [
            "--model", good, "--state-directory", directory.url.appendingPathComponent("state").path,
            "--retrain-recipe", recipe.path, "--retrain-min-validation-per-class", "0", "--retrain-base-data", shuffled.path,
        ])
        defer { daemon.stop() }
        try daemon.awaitSubscription()
        let version = try #require(daemon.initialStatus["model"]?["version"]?.stringValue)
        let before = try accuracy(daemon, prefix: "before-")
        let labelled = try lstmctl(daemon, ["label", "--data", Self.train, "--endpoint", daemon.ingestEndpoint, "--control", daemon.controlEndpoint])
        #expect(labelled.status == 0, "\(labelled.err)")

        let retrained = try lstmctl(daemon, ["retrain", "--wait", "--json", "--endpoint", daemon.controlEndpoint])
        let result = try JSONValue.parse(retrained.out.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(retrained.status == 0, "a job that ran exits 0 whatever its verdict: \(retrained.err)")
        #expect(result["promoted"] == .bool(false), "\(result)")
        let (candidate, current) = (result["candidate"]?["macro_f1"]?.numberValue ?? 1, result["current"]?["macro_f1"]?.numberValue ?? 0)
        // Which units validate depends on the samples' send times (their identity), so the scores
        // vary between runs; the verdict must not: the candidate misses the margin.
        #expect(current == 1, "the serving model fits its training samples: macro-F1 \(current) on the validation units")
        #expect(candidate < current + 0.01, "candidate macro-F1 \(candidate), current \(current)")
        #expect(result["reason"]?.stringValue?.isEmpty == false, "\(result)")
        // Base data trains only: 40 buffer records split between the sides, plus 40 base samples.
        let (train, validation) = (result["train_windows"]?.numberValue ?? 0, result["validation_windows"]?.numberValue ?? 0)
        #expect(train + validation == 80 && validation >= 1 && validation < 40, "\(train) train, \(validation) validation")
        #expect(try daemon.status()["model"]?["version"]?.stringValue == version)
        #expect(try accuracy(daemon, prefix: "after-") == before)
        print("shuffled labels: current macro-F1 \(current), candidate \(candidate); test accuracy \(before)")
    }

    /// A corrupt current model file in the store: after a restart the previous version serves.
    @Test func aCorruptCurrentModelFallsBackToThePreviousVersion() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let state = directory.url.appendingPathComponent("state")
        let weak = try weakModel(in: directory)
        let defaultVersion: String
        do {
            let daemon = try DaemonProcess(arguments: ["--state-directory", state.path])
            defaultVersion = try #require(daemon.initialStatus["model"]?["version"]?.stringValue)
            daemon.stop()
        }
        // The weak model becomes current (configured), the default one previous.
        let weakVersion: String
        do {
            let daemon = try DaemonProcess(arguments: ["--state-directory", state.path, "--model", weak])
            weakVersion = try #require(daemon.initialStatus["model"]?["version"]?.stringValue)
            let models = try daemon.request(["command": .string("models")])
            #expect(models["current"]?.stringValue == weakVersion, "\(models)")
            // Back to the default as configured model: the store's current (weak) no longer applies…
            daemon.stop()
        }
        // …so instead roll the store back and forth by hand: serve weak from the store, corrupt it.
        let stored = state.appendingPathComponent("models/\(weakVersion).safetensors")
        try Data("not a model".utf8).write(to: stored)
        let daemon = try DaemonProcess(arguments: ["--state-directory", state.path, "--model", weak])
        defer { daemon.stop() }
        // The configured file is unchanged, so the store's current would serve; it is corrupt, and
        // the previous good version serves instead, with the reason in the log.
        let serving = daemon.initialStatus["model"]?["version"]?.stringValue
        #expect(serving == defaultVersion, "serving \(String(describing: serving)); log:\n\(daemon.log.suffix(2000))")
        #expect(daemon.log.contains("unusable"), "\(daemon.log.suffix(2000))")
    }

    /// Whether `pid` runs (a zombie waiting for its reaper does not).
    static func isRunning(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }

    /// The pid of a running `lstmd retrain-worker` process (bounded wait).
    static func waitForWorker(of parent: pid_t) throws -> pid_t? {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                guard let pid = pid_t(entry),
                    let command = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8),
                    command.contains("retrain-worker"),
                    // Only this daemon's child: other lstmd instances on the machine have workers too.
                    let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                    let afterName = stat.lastIndex(of: ")"),
                    stat[stat.index(after: afterName)...].split(separator: " ").dropFirst().first.flatMap({ pid_t($0) }) == parent
                else { continue }
                return pid
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return nil
    }

    /// The `job` reply once the job ended (bounded wait).
    static func waitForJob(_ daemon: DaemonProcess, _ job: String) throws -> JSONValue {
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let reply = try daemon.request(["command": .string("job"), "job": .string(job)])
            if let state = reply["state"]?.stringValue, state == "done" || state == "failed" { return reply }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw HarnessError("job \(job) did not end")
    }
}
