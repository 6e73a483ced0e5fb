import Dispatch
import Foundation
import LSTMKit
import Synchronization
import Testing
import ZeroMQ

/// `lstmctl label`, `retrain`, `models` and `rollback` as a user runs them, without a daemon:
/// usage mistakes, bad files, endpoints nobody answers, and the control protocol of the
/// retraining issue spoken by a scripted stand-in (`FakeDaemon`) that also records the frames it
/// is sent.
@Suite(.serialized) struct RetrainCommandTests {
    let tools = ClientToolTests()
    static let data = "Tests/LSTMTrainingTests/Fixtures/BasicMotions_TEST.ts"
    /// The stand-in model's classes: not the file's order, so the class index must be mapped by name.
    static let modelClasses = ["Walking", "Badminton", "Standing", "Running"]

    /// `lstmctl`: `LSTMCTL_BINARY`, else next to the test bundle like `lstmd`.
    var lstmctl: URL {
        get throws {
            if let explicit = ProcessInfo.processInfo.environment["LSTMCTL_BINARY"] { return URL(fileURLWithPath: explicit) }
            let candidates = LSTMDBinary.candidates.map { $0.deletingLastPathComponent().appendingPathComponent("lstmctl") }
            guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
                throw HarnessError("lstmctl was not found (searched \(candidates.map(\.path))); run `swift build` first")
            }
            return found
        }
    }

    func lstmctl(_ arguments: [String], timeout: Double = 60) throws -> (status: Int32, out: String, err: String) {
        try tools.run(try lstmctl, arguments, timeout: timeout)
    }

    /// An IPC endpoint nobody binds.
    var nobody: String { "ipc:///tmp/none-\(UUID().uuidString.prefix(8))" }

    // MARK: Usage

    @Test(arguments: [
        ([String](), "give --data FILE to send a file's labelled samples, or --stream ID --class NAME"),
        (["--data", "x.ts", "--class", "Walking"], "not both"),
        (["--class", "Walking"], "--class needs --stream"),
        (["--stream", "s1"], "--stream without --data needs --class"),
        (["--stream", "s1", "--class", "Walking", "--endpoint", "tcp://127.0.0.1:5557"], "--endpoint is the ingest endpoint"),
        (["--data", "x.ts", "--timeout", "0"], "--timeout must be in (0, 3600]"),
        (["--stream", "", "--class", "Walking"], "--stream must be 1-255 bytes"),
    ])
    func labelRefusesBadFlagCombinations(arguments: [String], message: String) throws {
        let result = try lstmctl(["label"] + arguments)
        #expect(result.status == 64, "\(result.err)")
        #expect(result.err.contains(message), "\(result.err)")
    }

    @Test func retrainAndRollbackRefuseBadArguments() throws {
        let zero = try lstmctl(["retrain", "--timeout", "0"])
        #expect(zero.status == 64 && zero.err.contains("--timeout must be in (0, 3600]"), "\(zero.err)")
        let long = try lstmctl(["retrain", "--wait", "--timeout", "1000000"])
        #expect(long.status == 64 && long.err.contains("--timeout must be in (0, 604800]"), "\(long.err)")
        let missing = try lstmctl(["rollback"])
        #expect(missing.status == 64 && missing.err.contains("Missing expected argument '<version>'"), "\(missing.err)")
        let blank = try lstmctl(["rollback", " "])
        #expect(blank.status == 64 && blank.err.contains("VERSION must name a stored model version"), "\(blank.err)")
    }

    @Test func helpExplainsEachCommand() throws {
        let expectations = [
            "label": ["training-sample frame", "--stream ID --class NAME", "(default: tcp://127.0.0.1:5555)"],
            "retrain": ["--wait", "macro-F1", "--job ID --wait waits again"],
            "models": ["VERSION, STATE, CREATED, TRIGGER, ACCURACY, MACRO_F1, REASON", "rollback"],
            "rollback": ["now serving VERSION (path)", "<version>"],
        ]
        for (command, phrases) in expectations {
            let help = try lstmctl([command, "--help"])
            #expect(help.status == 0, "\(command): \(help.err)")
            // Help text wraps to the terminal's width: compare with runs of white space folded.
            let text = help.out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            for phrase in phrases { #expect(text.contains(phrase), "\(command) --help lacks '\(phrase)':\n\(help.out)") }
        }
        let root = try lstmctl(["--help"])
        for command in ["label", "retrain", "models", "rollback"] { #expect(root.out.contains("\n  \(command) "), "\(root.out)") }
    }

    // MARK: Bad input files (exit 65, nothing contacted)

    @Test func labelDataRefusesMissingUnreadableAndUnlabelledFiles() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let missing = try lstmctl(["label", "--data", directory.url.appendingPathComponent("gone.ts").path, "--control", nobody])
        #expect(missing.status == 65, "\(missing.err)")
        #expect(missing.err.contains("gone.ts: cannot read file"), "\(missing.err)")

        let bad = directory.url.appendingPathComponent("bad.ts")
        try "@problemName x\n@univariate false\n@dimensions 2\n@equalLength true\n@seriesLength 2\n@classLabel true a b\n@data\n1,2:3,4:a\n1,2:b\n"
            .write(to: bad, atomically: true, encoding: .utf8)
        let unreadable = try lstmctl(["label", "--data", bad.path, "--control", nobody])
        #expect(unreadable.status == 65, "\(unreadable.err)")
        #expect(unreadable.err.contains("bad.ts:9"), "\(unreadable.err)")

        let unlabelled = directory.url.appendingPathComponent("unlabelled.ts")
        try "@problemName x\n@univariate true\n@equalLength true\n@seriesLength 2\n@classLabel false\n@data\n1,2\n3,4\n"
            .write(to: unlabelled, atomically: true, encoding: .utf8)
        let none = try lstmctl(["label", "--data", unlabelled.path, "--control", nobody])
        #expect(none.status == 65, "\(none.err)")
        #expect(none.err.contains("has no labelled samples"), "\(none.err)")
    }

    // MARK: Nobody answers (exit 1 within the timeout)

    @Test func commandsFailWithinTheirTimeoutWhenNobodyAnswers() throws {
        let commands: [[String]] = [
            ["label", "--data", Self.data, "--control", nobody, "--timeout", "1"],
            ["label", "--stream", "s1", "--class", "Walking", "--control", nobody, "--timeout", "1"],
            ["retrain", "--endpoint", nobody, "--timeout", "1"],
            ["retrain", "--wait", "--endpoint", nobody, "--timeout", "1"],
            ["retrain", "--job", "7", "--wait", "--endpoint", nobody, "--timeout", "1"],
            ["models", "--endpoint", nobody, "--timeout", "1"],
            ["rollback", "v1", "--endpoint", nobody, "--timeout", "1"],
        ]
        for arguments in commands {
            let started = Date()
            let result = try lstmctl(arguments, timeout: 30)
            let elapsed = Date().timeIntervalSince(started)
            #expect(result.status == 1, "\(arguments): \(result.err)")
            #expect(result.err.contains("no reply from ipc:///tmp/none-"), "\(arguments): \(result.err)")
            #expect(elapsed < 10, "\(arguments) took \(elapsed) s")
        }
    }

    // MARK: The protocol, against a scripted stand-in

    @Test func labelDataSendsEachSampleAsOneTrainingSampleFrameWithTheModelsClassIndex() throws {
        let daemon = try FakeDaemon { request, seen in
            request["command"]?.stringValue == "status" ? FakeDaemon.status(stored: seen.trainingSamples) : FakeDaemon.unknown(request)
        }
        defer { daemon.stop() }
        let result = try lstmctl([
            "label", "--data", Self.data, "--endpoint", daemon.ingest, "--control", daemon.control, "--stream", "upload", "--timeout", "20",
        ])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out == "lstmd stored 40 of 40 training samples (buffer: 140 records, 140 durable)\n", "\(result.out)")
        #expect(result.err.contains("sent 40 training samples (4000 timesteps)"), "\(result.err)")
        let frames = daemon.seen.frames
        let fileClasses = try Self.fileClasses(Self.data)
        #expect(frames.count == 40)
        for (index, frame) in frames.enumerated() {
            #expect(frame.stream == "upload")
            #expect(frame.header.count == 32 && frame.header[0] == 1 && frame.flags == 3, "frame \(index): \(frame.header)")
            #expect(frame.channels == 6 && frame.timesteps == 100 && frame.payloadBytes == 100 * 6 * 4)
            #expect(frame.sequence == UInt64(index))
            #expect(frame.label == Int32(Self.modelClasses.firstIndex(of: fileClasses[index])!), "frame \(index)")
        }
    }

    @Test func labelDataRefusesAClassOrChannelCountTheModelLacksBeforeSending() throws {
        let threeClasses = try FakeDaemon { _, seen in FakeDaemon.status(classes: ["Standing", "Running", "Walking"], stored: seen.trainingSamples) }
        defer { threeClasses.stop() }
        let classes = try lstmctl(["label", "--data", Self.data, "--endpoint", threeClasses.ingest, "--control", threeClasses.control])
        #expect(classes.status == 65, "\(classes.err)")
        #expect(
            classes.err.contains("class Badminton not among the daemon's model classes (Standing, Running, Walking): nothing sent"),
            "\(classes.err)")
        #expect(threeClasses.seen.frames.isEmpty)

        let threeChannels = try FakeDaemon { _, seen in FakeDaemon.status(channels: 3, stored: seen.trainingSamples) }
        defer { threeChannels.stop() }
        let channels = try lstmctl(["label", "--data", Self.data, "--endpoint", threeChannels.ingest, "--control", threeChannels.control])
        #expect(channels.status == 65, "\(channels.err)")
        #expect(channels.err.contains("has 6 channels, the daemon's model has 3: nothing sent"), "\(channels.err)")
        #expect(threeChannels.seen.frames.isEmpty)
    }

    @Test func labelDataFailsWhenNothingIsStoredOrTheDaemonCannotStore() throws {
        let refusing = try FakeDaemon { _, seen in FakeDaemon.status(stored: 0, refused: seen.trainingSamples) }
        defer { refusing.stop() }
        let refused = try lstmctl(["label", "--data", Self.data, "--endpoint", refusing.ingest, "--control", refusing.control, "--timeout", "20"])
        #expect(refused.status == 1, "\(refused.err)")
        #expect(refused.err.contains("Error: lstmd stored 0 of 40 training samples"), "\(refused.err)")
        #expect(refused.err.contains("refused 40"), "\(refused.err)")

        let old = try FakeDaemon { _, _ in FakeDaemon.status(stored: nil) }
        defer { old.stop() }
        let unsupported = try lstmctl(["label", "--data", Self.data, "--endpoint", old.ingest, "--control", old.control])
        #expect(unsupported.status == 1, "\(unsupported.err)")
        #expect(unsupported.err.contains("does not take training samples"), "\(unsupported.err)")
        #expect(old.seen.frames.isEmpty)
    }

    @Test func labelCorrectionPrintsTheReplyOrTheDaemonsReason() throws {
        let daemon = try FakeDaemon { request, _ in
            guard request["stream"]?.stringValue == "s1" else { return FakeDaemon.failure("unknown stream 's9'") }
            return .object([
                "ok": .bool(true), "stream": .string("s1"), "class": request["class"] ?? .null, "stored": .number(1),
                "durable": .bool(true), "records": .number(5), "durable_records": .number(5),
            ])
        }
        defer { daemon.stop() }
        let stored = try lstmctl(["label", "--stream", "s1", "--class", "Walking", "--control", daemon.control])
        #expect(stored.status == 0, "\(stored.err)")
        #expect(stored.out == "labelled the last window of s1 as Walking (stored, durable)\n")
        #expect(daemon.seen.lastRequest == .object(["command": .string("label"), "stream": .string("s1"), "class": .string("Walking")]))
        let unknown = try lstmctl(["label", "--stream", "s9", "--class", "Walking", "--control", daemon.control])
        #expect(unknown.status == 1)
        #expect(unknown.err == "Error: lstmd: unknown stream 's9'\n", "\(unknown.err)")
    }

    static let result: JSONValue = .object([
        "job": .string("7"), "promoted": .bool(true), "reason": .string("macro-F1 0.9100 >= 0.8000 + 0.01"),
        "candidate": .object(["version": .string("v2"), "accuracy": .number(0.925), "macro_f1": .number(0.91)]),
        "current": .object(["version": .string("v1"), "accuracy": .number(0.8), "macro_f1": .number(0.8)]),
        "train_windows": .number(320), "validation_windows": .number(80),
        "class_counts": .object(["Walking": .number(100), "Running": .number(100)]), "duration_s": .number(12.34),
    ])

    /// A job that is queued, runs for two polls, then ends with `end` (`result` or `error`).
    static func job(_ end: [String: JSONValue]) -> FakeDaemon.Handler {
        { request, seen in
            switch request["command"]?.stringValue {
            case "retrain": return .object(["ok": .bool(true), "job": .string("7"), "state": .string("queued")])
            case "job":
                guard request["job"] == .string("7") else { return FakeDaemon.failure("unknown job") }
                let polls = seen.requests["job", default: 0]
                if polls <= 2 { return .object(["ok": .bool(true), "job": .string("7"), "state": .string("running")]) }
                return .object(end.merging(["ok": .bool(true), "job": .string("7")]) { $1 })
            default: return FakeDaemon.unknown(request)
            }
        }
    }

    @Test func retrainWaitPrintsTheResultAndExitsByTheJobsOutcome() throws {
        let done = try FakeDaemon(Self.job(["state": .string("done"), "result": Self.result]))
        defer { done.stop() }
        let json = try lstmctl(["retrain", "--wait", "--json", "--endpoint", done.control, "--timeout", "20"])
        #expect(json.status == 0, "\(json.err)")
        #expect(json.out.split(separator: "\n").count == 1)
        #expect(try JSONValue.parse(json.out) == Self.result)

        let text = try lstmctl(["retrain", "--job", "7", "--wait", "--endpoint", done.control, "--timeout", "20"])
        #expect(text.status == 0, "\(text.err)")
        #expect(text.out.hasPrefix("job 7 promoted: now serving v2 (macro-F1 0.9100 >= 0.8000 + 0.01)\n"), "\(text.out)")
        #expect(text.out.contains("candidate  v2       0.9250    0.9100"), "\(text.out)")
        #expect(text.out.contains("current    v1       0.8000    0.8000"), "\(text.out)")
        #expect(text.out.contains("windows    320 training, 80 validation"), "\(text.out)")
        #expect(text.out.contains("classes    Running 100, Walking 100"), "\(text.out)")
        #expect(text.out.contains("duration   12.3 s"), "\(text.out)")

        let failed = try FakeDaemon(Self.job(["state": .string("failed"), "error": .string("worker killed by SIGKILL")]))
        defer { failed.stop() }
        let failure = try lstmctl(["retrain", "--wait", "--endpoint", failed.control, "--timeout", "20"])
        #expect(failure.status == 1)
        #expect(failure.err.contains("Error: retrain job 7 failed: worker killed by SIGKILL; the serving model is unchanged"), "\(failure.err)")

        let queued = try lstmctl(["retrain", "--endpoint", failed.control])
        #expect(queued.status == 0 && queued.out == "retrain job 7 queued\n", "\(queued.out)\(queued.err)")
    }

    @Test func retrainWaitGivesUpAtTheTimeoutNamingTheJob() throws {
        let stuck = try FakeDaemon { request, _ in
            .object(["ok": .bool(true), "job": .string("8"), "state": .string(request["command"]?.stringValue == "retrain" ? "queued" : "running")])
        }
        defer { stuck.stop() }
        let result = try lstmctl(["retrain", "--wait", "--endpoint", stuck.control, "--timeout", "1"])
        #expect(result.status == 1)
        #expect(result.err.contains("retrain job 8 did not end within 1 s (state: running)"), "\(result.err)")
        #expect(result.err.contains("lstmctl retrain --job 8 --wait"), "\(result.err)")
    }

    @Test func modelsPrintsATableOrTheArrayAndRollbackTheNewModel() throws {
        let models: JSONValue = .array([
            .object([
                "version": .string("v1"), "created": .string("2025-01-01T00:00:00Z"), "trigger": .string("start"), "state": .string("previous"),
                "verdict": .string("initial"), "reason": .string("configured model"), "accuracy": .null, "macro_f1": .null,
            ]),
            .object([
                "version": .string("v2"), "created": .string("2025-01-02T00:00:00Z"), "trigger": .string("manual"), "state": .string("current"),
                "verdict": .string("promoted"), "reason": .string("macro-F1 +0.11"), "accuracy": .number(0.925), "macro_f1": .number(0.91),
            ]),
        ])
        let daemon = try FakeDaemon { request, _ in
            switch request["command"]?.stringValue {
            case "models": return .object(["ok": .bool(true), "current": .string("v2"), "models": models])
            case "rollback":
                guard request["version"] == .string("v1") else { return FakeDaemon.failure("no stored version 'v9'") }
                return .object(["ok": .bool(true), "model_version": .string("v1"), "model": .string("/state/models/v1.safetensors")])
            default: return FakeDaemon.unknown(request)
            }
        }
        defer { daemon.stop() }
        let table = try lstmctl(["models", "--endpoint", daemon.control])
        #expect(table.status == 0, "\(table.err)")
        #expect(
            table.out == """
                VERSION  STATE     CREATED               TRIGGER  ACCURACY  MACRO_F1  REASON
                v1       previous  2025-01-01T00:00:00Z  start    -         -         initial: configured model
                v2       current   2025-01-02T00:00:00Z  manual   0.9250    0.9100    promoted: macro-F1 +0.11
                2 models, serving v2

                """, "\(table.out)")
        let json = try lstmctl(["models", "--json", "--endpoint", daemon.control])
        #expect(try JSONValue.parse(json.out) == models)

        let rollback = try lstmctl(["rollback", "v1", "--endpoint", daemon.control])
        #expect(rollback.status == 0, "\(rollback.err)")
        #expect(rollback.out == "now serving v1 (/state/models/v1.safetensors)\n")
        let unknown = try lstmctl(["rollback", "v9", "--endpoint", daemon.control])
        #expect(unknown.status == 1 && unknown.err == "Error: lstmd: no stored version 'v9'\n", "\(unknown.err)")
    }

    /// Each sample's class name in a `.ts` file: the last `:`-separated field of each data line.
    static func fileClasses(_ path: String) throws -> [String] {
        let text = try String(contentsOf: ClientToolTests.repository.appendingPathComponent(path), encoding: .utf8)
        let lines = text.split(whereSeparator: \.isNewline)
        guard let start = lines.firstIndex(where: { $0.lowercased().hasPrefix("@data") }) else { return [] }
        return lines[(start + 1)...].filter { !$0.isEmpty }.map { String($0.split(separator: ":").last!).trimmingCharacters(in: .whitespaces) }
    }
}

/// A scripted stand-in for lstmd on two IPC endpoints: answers control requests with `handler`
/// and records every frame pushed to its ingest endpoint. Its sockets live on its own thread.
final class FakeDaemon: Sendable {
    /// A frame as received: stream id, header bytes, payload size.
    struct Frame: Sendable {
        var stream: String
        var header: [UInt8]
        var payloadBytes: Int

        var flags: UInt8 { header[1] }
        var channels: Int { Int(header[2]) | Int(header[3]) << 8 }
        var timesteps: Int { (0..<4).reduce(0) { $0 | Int(header[4 + $1]) << (8 * $1) } }
        var sequence: UInt64 { (0..<8).reduce(0) { $0 | UInt64(header[8 + $1]) << (8 * $1) } }
        var label: Int32 { Int32(bitPattern: (0..<4).reduce(0) { $0 | UInt32(header[24 + $1]) << (8 * $1) }) }
    }

    /// What the stand-in has seen so far.
    struct Seen: Sendable {
        var frames: [Frame] = []
        /// Requests per command, counting the one being answered.
        var requests: [String: Int] = [:]
        var lastRequest: JSONValue = .null
        var stop = false
        var failure: String?
        /// Frames with the training-sample flag.
        var trainingSamples: Int { frames.filter { $0.flags & 2 != 0 }.count }
    }

    typealias Handler = @Sendable (_ request: JSONValue, _ seen: Seen) -> JSONValue

    let directory: TemporaryDirectory
    let control: String
    let ingest: String
    private let state = Mutex(Seen())
    private let handler: Handler
    private let finished = DispatchSemaphore(value: 0)

    init(_ handler: @escaping Handler) throws {
        directory = try TemporaryDirectory()
        control = "ipc://\(directory.path)/control"
        ingest = "ipc://\(directory.path)/ingest"
        self.handler = handler
        let ready = DispatchSemaphore(value: 0)
        Thread { [self] in serve(ready) }.start()
        ready.wait()
        if let failure = seen.failure { throw HarnessError("the stand-in daemon could not start: \(failure)") }
    }

    var seen: Seen { state.withLock { $0 } }

    /// Stops the thread and removes the directory.
    func stop() {
        state.withLock { $0.stop = true }
        finished.wait()
        directory.remove()
    }

    private func serve(_ ready: DispatchSemaphore) {
        defer { finished.signal() }
        var started = false
        do {
            let context = try ZMQContext()
            let rep = try ZMQSocket(.rep, context: context)
            let pull = try ZMQSocket(.pull, context: context)
            _ = try rep.bind(control)
            _ = try pull.bind(ingest)
            started = true
            ready.signal()
            while !state.withLock({ $0.stop }) {
                var idle = true
                if let message = try pull.receiveMultipart(maxParts: 3, dontWait: true) {
                    idle = false
                    if message.parts.count == 3 {
                        let frame = Frame(
                            stream: String(decoding: message.parts[0], as: UTF8.self), header: message.parts[1],
                            payloadBytes: message.parts[2].count)
                        state.withLock { $0.frames.append(frame) }
                    }
                }
                if let message = try rep.receiveMultipart(maxParts: 1, dontWait: true) {
                    idle = false
                    let request = (try? JSONValue.parse(String(decoding: message.parts.first ?? [], as: UTF8.self))) ?? .null
                    let seen = state.withLock { seen in
                        seen.requests[request["command"]?.stringValue ?? "", default: 0] += 1
                        seen.lastRequest = request
                        return seen
                    }
                    _ = try rep.send(Array(handler(request, seen).jsonText.utf8))
                }
                if idle { usleep(2000) }
            }
        } catch {
            state.withLock { $0.failure = "\(error)" }
            if !started { ready.signal() }
        }
    }

    /// A `status` reply of a daemon with retraining support (`stored: nil`: without it).
    static func status(classes: [String] = RetrainCommandTests.modelClasses, channels: Int = 6, stored: Int?, refused: Int = 0) -> JSONValue {
        var counters: [String: JSONValue] = ["frames": .number(0), "dropped": .number(0)]
        var reply: [String: JSONValue] = [
            "ok": .bool(true),
            "model": .object(["classes": .array(classes.map { .string($0) }), "channels": .number(Double(channels))]),
            "drops": .object([:]),
        ]
        if let stored {
            counters["training_samples"] = .number(Double(stored))
            counters["training_samples_refused"] = .number(Double(refused))
            reply["buffer"] = .object(["records": .number(Double(100 + stored)), "durable_records": .number(Double(100 + stored))])
        }
        reply["counters"] = .object(counters)
        return .object(reply)
    }

    static func failure(_ message: String) -> JSONValue { .object(["ok": .bool(false), "error": .string(message)]) }

    static func unknown(_ request: JSONValue) -> JSONValue { failure("unknown command '\(request["command"]?.stringValue ?? "")'") }
}
