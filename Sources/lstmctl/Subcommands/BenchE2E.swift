import ArgumentParser
import Foundation
import LSTMKit
import LSTMTraining
import Synchronization
import Wire
import ZeroMQ

/// The process id of the daemon a bench case is running (0 between cases), for the signal
/// handler of `BenchE2E.stopDaemonOnSignals()`.
private let runningDaemon = Atomic<Int32>(0)

/// `lstmctl bench e2e`: starts `lstmd`, drives N streams from this process over tcp loopback,
/// and reports sustained throughput, frame-to-label latency at half that load, and memory per
/// stream.
struct BenchE2E: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "e2e",
        abstract: "End-to-end throughput, latency and memory of a running lstmd.",
        discussion: """
            Starts the lstmd binary next to this one (or --lstmd) on 127.0.0.1 ports with a \
            random H×L model (C channels, window 100), then for each streams × frame-size case: \
            pushes frames as fast as the daemon takes them (PUSH back-pressure) for --seconds and \
            reads the daemon's counters (sustained timesteps/s, labels/s); then offers half that \
            frame rate, paced, and measures frame-to-label latency (label receive time minus the \
            frame's timestamp, CLOCK_REALTIME on both sides); then reads lstmd's resident memory \
            per stream. With --compare-python the same load runs against \
            deploy/tools/reference_daemon.py (pyzmq + PyTorch, batching pending frames). With \
            --curve each case runs again over CURVE (rows 'curve': throwaway keys, every endpoint a \
            CURVE server, every client authenticated), to compare with the plain rows.
            """)

    @Option(help: "Stream counts.")
    var streams = "1,100,10000"

    @Option(help: "Timesteps per frame.")
    var frame = "1,10"

    @Option(
        help: """
            Modes: continuous, window (hop = W/10), per-sample (window mode with a per-sample-normalised \
            copy of the model: each label recomputes its whole window from the raw ring).
            """)
    var modes = "continuous,window,per-sample"

    @Option(help: "Hidden size H.")
    var hidden = 64

    @Option(help: "LSTM layers L.")
    var layers = 2

    @Option(help: "Channels C.")
    var channels = 6

    @Option(
        name: .customLong("front-end"),
        help: "Convolutional front end of the model: FILTERSxKERNEL,... or none (a tuned model has 64x5,64x5).")
    var frontEnd = "none"

    @Option(
        help: """
            Seconds per measuring phase. Each case (daemon × mode × streams × T) runs a throughput \
            and a latency phase, plus a latency phase of the relay (transport floor) unless \
            --no-relay, and a few seconds of start-up and warm-up (more with 10,000 streams): the \
            whole run takes about cases × (3 × seconds + 3 to 30 s). Progress goes to standard error.
            """)
    var seconds = 3.0

    @Option(help: "Path to lstmd (default: next to this binary).")
    var lstmd: String?

    @Option(help: "First of three consecutive tcp ports on 127.0.0.1 (default: 20000 + 3 × (process id mod 10000)).")
    var port: Int?

    @Option(help: "Frames/s offered in the latency phase (default: half the sustained rate).")
    var latencyRate: Double?

    @Flag(help: "Also run deploy/tools/reference_daemon.py (needs python3, torch, pyzmq).")
    var comparePython = false

    @Flag(help: "Also run each case over CURVE (throwaway keys in a temporary directory).")
    var curve = false

    @Flag(
        inversion: .prefixedNo,
        help: "After each lstmd case, measure the transport floor: a relay that only forwards each frame's timestamp (same sockets, load and rate).")
    var relay = true

    func run() throws {
        Self.stopDaemonOnSignals()
        let streamCounts = try integerList(streams), frameSizes = try integerList(frame)
        let modeList = modes.split(separator: ",").map(String.init)
        if let unknown = modeList.first(where: { !["continuous", "window", "per-sample"].contains($0) }) {
            throw ValidationError("--modes: unknown mode '\(unknown)' (continuous, window or per-sample)")
        }
        let frontEnd = try frontEndOption(self.frontEnd)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lstmd-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let modelURL = directory.appendingPathComponent("bench.safetensors")
        var model = ModelFile.randomlyInitialized(
            architecture: Architecture(
                inputSize: channels, hiddenSize: hidden, numLayers: layers, numClasses: 4, frontEnd: frontEnd),
            window: 100, hop: 10, seed: 5)
        try model.write(to: modelURL)
        // The same weights with per-sample normalisation: a label needs its whole window, so the
        // daemon keeps a raw ring per stream and runs the window's forward per label.
        let perSampleURL = directory.appendingPathComponent("bench-per-sample.safetensors")
        var perSample = model
        perSample.preprocessing = Preprocessing(normalization: .perSample)
        try perSample.write(to: perSampleURL)
        let binary = lstmd ?? executableDirectory().appendingPathComponent("lstmd").path

        print("lstmctl bench e2e: model H=\(hidden) L=\(layers) C=\(channels) window 100; tcp loopback; \(ProcessInfo.processInfo.activeProcessorCount) cores shared by daemon and load generator")
        if !frontEnd.isEmpty {
            print("front end: \(frontEndDescription(frontEnd)) + batch norm (folded) + ReLU before the LSTMs; FLOPs include it")
        }
        printComputePaths()
        // The compute ceiling: the daemon's continuous-mode engine alone, in this process, one
        // thread, no sockets, no JSON; one label per frame as the daemon publishes.
        let engine = try LSTMModel(model)
        let flops = Int(lstmFlopsPerTimestep(model.architecture))
        let sgemmRate = BLAS.measuredRate(seconds: 0.6)
        print(String(format: "one-core sgemm rate of this binary's GEMM on this machine: %.1f GFLOP/s (sustained, best of square products of 128, 256, 512)", sgemmRate))
        // One stream has one multiply-add per weight per timestep: the core's cache bandwidth,
        // not its FMA units, bounds those rows (`bench step`'s read floor: the time to only read
        // the step's packed weights once).
        let readFloor = streamingReadNanoseconds(bytes: engine.stepWeightBytes, seconds: 0.3)
        let weightStream = Double(flops) / readFloor
        print(String(
            format: "one-stream bound on this machine: only reading the step's %.0f KiB of weights takes %.0f ns, so one stream cannot pass %.1f GFLOP/s (%.0f%% of the sgemm rate)",
            Double(engine.stepWeightBytes) / 1024, readFloor, weightStream, 100 * weightStream / sgemmRate))
        print("engine ceiling (the daemon's continuous-mode engine in-process, 1 core, no sockets; \(flops / 1000) kFLOP per timestep):")
        fflush(nil)
        for streamCount in streamCounts {
            for size in frameSizes {
                let rate = Self.engineTimestepsPerSecond(engine, streams: min(streamCount, 1024), timesteps: size)
                let gflops = rate * Double(flops) / 1e9
                print(String(
                    format: "  %6d streams, T=%2d: %10.0f ts/s per core (%.1f GFLOP/s, %.0f%% of the sgemm rate)", streamCount, size,
                    rate, gflops, 100 * gflops / sgemmRate))
                fflush(nil)  // a pipe sees each line as it is measured
            }
        }
        print("daemon  mode        streams  T  sustained ts/s  labels/s  offered fr/s  lat p50 µs   p99 µs  p99.9 µs  lost  bytes/stream")
        fflush(nil)
        var targets: [(String, [String])] = [("lstmd", [])]
        var curveKeys: CurveClientKeys?
        if curve {
            let (keys, curveDirectory) = try Self.throwawayCurveSetup(in: directory)
            curveKeys = keys
            targets.append(("curve", ["--curve-directory", curveDirectory]))
        }
        if comparePython { targets.append(("python", [])) }
        let port = self.port ?? 20_000 + Int(getpid() % 10_000) * 3
        let caseCount = targets.reduce(0) { total, target in
            total + modeList.filter { target.0 != "python" || $0 == "continuous" }.count * streamCounts.count * frameSizes.count
        }
        var caseNumber = 0
        for (daemonName, extraArguments) in targets {
            let keys = daemonName == "curve" ? curveKeys : nil
            for mode in modeList {
                if daemonName == "python" && mode != "continuous" { continue }
                for streamCount in streamCounts {
                    for size in frameSizes {
                        let endpoints = (0..<3).map { "tcp://127.0.0.1:\(port + $0)" }
                        caseNumber += 1
                        printError(
                            "[\(caseNumber)/\(caseCount)] \(daemonName) \(mode), \(streamCount) streams, T=\(size): throughput and latency phases "
                                + "(\(formatSeconds(seconds)) s each)\(relay && daemonName == "lstmd" ? ", then the relay" : "")…")
                        let process: Process
                        if daemonName != "python" {
                            process = try startDaemon(
                                binary, [
                                    "--model", mode == "per-sample" ? perSampleURL.path : modelURL.path,
                                    "--mode", mode == "per-sample" ? "window" : mode, "--hop", "10",
                                    "--ingest", endpoints[0], "--publish", endpoints[1], "--control", endpoints[2],
                                    "--max-streams", String(max(streamCount, 10_000)), "--idle-timeout", "600",
                                    "--log-level", "error",
                                ] + extraArguments)
                        } else {
                            process = try startPythonReference(modelURL.path, endpoints)
                        }
                        runningDaemon.store(process.processIdentifier, ordering: .relaxed)
                        defer {
                            runningDaemon.store(0, ordering: .relaxed)
                            if process.isRunning { process.terminate() }
                            process.waitUntilExit()
                        }
                        let result: CaseResult
                        do {
                            result = try runCase(
                                endpoints: endpoints, streams: streamCount, timesteps: size, pid: process.processIdentifier, curve: keys)
                        } catch let failure as CommandFailure {
                            // Bounded either way: report the case and go on with the others.
                            print(String(format: "%-7@ %-10@ %7d %2d  failed: %@", daemonName as NSString, mode as NSString, streamCount, size, failure.message as NSString))
                            fflush(nil)
                            continue
                        }
                        print(String(
                            format: "%-7@ %-10@ %7d %2d %15.0f %9.0f %13.0f %10.1f %8.1f %9.1f %5d %13.0f",
                            daemonName as NSString, mode as NSString, streamCount, size, result.timestepsPerSecond, result.labelsPerSecond,
                            result.offeredFramesPerSecond, result.latency.p50, result.latency.p99, result.latency.p999,
                            result.lost, result.bytesPerStream))
                        fflush(nil)
                        if relay && daemonName == "lstmd" {
                            runningDaemon.store(0, ordering: .relaxed)
                            process.terminate()
                            process.waitUntilExit()
                            let floor = try relayLatency(
                                endpoints: endpoints, streams: streamCount, timesteps: size, rate: result.offeredFramesPerSecond)
                            print(String(
                                format: "%-7@ %-10@ %7d %2d %@ %13.0f %10.1f %8.1f %9.1f",
                                "relay" as NSString, "transport" as NSString, streamCount, size,
                                "              -         -" as NSString,
                                result.offeredFramesPerSecond, floor.p50, floor.p99, floor.p999))
                            fflush(nil)
                        }
                    }
                }
            }
        }
    }

    /// Timesteps per second of the continuous-mode engine advancing `streams` states by
    /// `timesteps` each per batch, one label per state per batch, for about a second: the
    /// daemon's path (`BatchStepper` for batches of at least 4 streams, single steps below).
    static func engineTimestepsPerSecond(_ model: LSTMModel, streams: Int, timesteps: Int) -> Double {
        let stepper = BatchStepper(model: model)
        let states = (0..<streams).map { _ in model.makeState() }
        var generator = SplitMix64(seed: 3)
        let input = (0..<(timesteps * model.channels)).map { _ in generator.normal() }
        var emitted = 0
        var probabilities = [Float](repeating: 0, count: model.classCount)
        return input.withUnsafeBufferPointer { x in
            let requests = states.map { BatchStepper.Request(state: $0, input: x.baseAddress!, timesteps: timesteps) }
            var batches = 0
            var elapsed = 0.0
            while elapsed < 1 || batches < 3 {
                elapsed += measure {
                    if streams >= 4 {
                        stepper.run(requests, shouldLabel: { _, t in t == timesteps - 1 }, emit: { _, _, _ in emitted += 1 })
                    } else {
                        for state in states {
                            for t in 0..<timesteps { model.step(state, input: x.baseAddress! + t * model.channels) }
                            probabilities.withUnsafeMutableBufferPointer { model.classify(state, probabilities: $0.baseAddress!) }
                        }
                    }
                }
                batches += 1
            }
            return Double(batches * streams * timesteps) / elapsed
        }
    }

    struct CaseResult {
        var timestepsPerSecond: Double
        var labelsPerSecond: Double
        var offeredFramesPerSecond: Double
        var latency: (p50: Double, p99: Double, p999: Double)
        var lost: Int
        var bytesPerStream: Double
    }

    /// Makes SIGINT, SIGTERM and SIGHUP (Ctrl-C, `timeout`, a closed terminal) stop the daemon
    /// under test before this process ends by the same signal, so an interrupted bench leaves no
    /// daemon behind holding its ports.
    static func stopDaemonOnSignals() {
        // Initialised here, not lazily inside the handler (not async-signal-safe).
        runningDaemon.store(0, ordering: .relaxed)
        var wanted = sigset_t()
        sigemptyset(&wanted)
        for number in [SIGINT, SIGTERM, SIGHUP] {
            let previous = signal(number) { received in
                let pid = runningDaemon.load(ordering: .relaxed)
                if pid > 0 { kill(pid, SIGTERM) }
                signal(received, SIG_DFL)
                raise(received)
            }
            // A signal ignored by whoever started us (`nohup`, `&` in a script) stays ignored.
            if unsafeBitCast(previous, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) {
                signal(number, SIG_IGN)
                continue
            }
            sigaddset(&wanted, number)
        }
        // A parent may have started us with them blocked (a child inherits the mask of the thread
        // that spawned it: Foundation's `Process` from a libdispatch worker, say); unblocked on
        // the main thread, as lstmd does, a signal sent to the process reaches the handler.
        pthread_sigmask(SIG_UNBLOCK, &wanted, nil)
    }

    private func startDaemon(_ path: String, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        try process.run()
        return process
    }

    private func startPythonReference(_ model: String, _ endpoints: [String]) throws -> Process {
        let process = try pythonTool(
            "reference_daemon.py",
            ["--model", model, "--ingest", endpoints[0], "--publish", endpoints[1], "--control", endpoints[2], "--threads", "1"])
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// A server and a client key pair in `directory/curve`, the client's key in every allowlist.
    /// - Returns: the client's keys and the directory for `curve_directory`.
    static func throwawayCurveSetup(in directory: URL) throws -> (CurveClientKeys, String) {
        let curveDirectory = directory.appendingPathComponent("curve")
        try FileManager.default.createDirectory(at: curveDirectory, withIntermediateDirectories: true)
        let server = try ZMQCurveCertificate.generate(), client = try ZMQCurveCertificate.generate()
        try server.text(includingSecret: true).write(
            to: curveDirectory.appendingPathComponent("server.key_secret"), atomically: true, encoding: .utf8)
        for role in ["producers", "subscribers", "operators"] {
            try "\(client.publicKey) bench\n".write(to: curveDirectory.appendingPathComponent(role), atomically: true, encoding: .utf8)
        }
        return (CurveClientKeys(serverKey: server.publicKey, publicKey: client.publicKey, secretKey: client.secretKey!), curveDirectory.path)
    }

    private func runCase(endpoints: [String], streams: Int, timesteps: Int, pid: Int32, curve: CurveClientKeys?) throws -> CaseResult {
        let context = try ZMQContext()
        let clock = ContinuousClock()
        // Every phase ends by a deadline, whatever the daemon does (a busy single-threaded
        // reference daemon may answer status late or not at all): each waits at most this long.
        let phaseLimit = Duration.seconds(max(10, 3 * seconds))
        /// The daemon's status, or nil when it does not answer by `deadline` (a fresh REQ socket
        /// per request, so a reply that never came leaves nothing behind).
        func status(by deadline: ContinuousClock.Instant) throws -> JSONValue? {
            let remaining = deadline - clock.now
            guard remaining > .zero else { return nil }
            let control = try ZMQSocket(.req, context: context)
            defer { control.close() }
            try control.set(.receiveTimeout, to: max(1, min(10_000, Int(remaining.seconds * 1000))))
            try control.set(.linger, to: 0)
            try curve.apply(to: control)
            try control.connect(endpoints[2])
            try control.send(Array(#"{"command":"status"}"#.utf8))
            guard let reply = try control.receiveMultipart(), let first = reply.parts.first else { return nil }
            return try JSONValue.parse(String(decoding: first, as: UTF8.self))
        }
        func status() throws -> JSONValue {
            guard let reply = try status(by: clock.now + phaseLimit) else {
                throw CommandFailure("the daemon did not answer status within \(phaseLimit)")
            }
            return reply
        }
        /// Polls until the daemon handled (processed or dropped) `target` frames, for at most
        /// `phaseLimit`; the last counters seen, and whether it got there.
        func waitUntilHandled(_ target: Int, limit: Duration? = nil) throws -> (counters: JSONValue?, drained: Bool) {
            let limit = limit ?? phaseLimit
            let deadline = clock.now + limit
            var counters: JSONValue?
            while clock.now < deadline {
                guard let reply = try status(by: deadline) else { break }
                counters = reply["counters"]
                let handled = Int((counters?["frames"]?.numberValue ?? 0) + (counters?["dropped"]?.numberValue ?? 0))
                if handled >= target { return (counters, true) }
                usleep(100_000)
            }
            printError("  the daemon had not handled every frame sent after \(limit); measuring what it did")
            return (counters, false)
        }
        // Wait until the daemon answers (the Python reference imports torch first: on a busy
        // 2-core machine that alone took over 10 s).
        var ready = false
        let startLimit = Duration.seconds(60)
        let startDeadline = clock.now + startLimit
        while !ready, clock.now < startDeadline {
            guard kill(pid, 0) == 0 else { break }
            ready = (try? status(by: clock.now + .seconds(1))) != nil
            if !ready { usleep(100_000) }
        }
        // Our daemon, not another process on the same ports.
        guard ready, kill(pid, 0) == 0 else {
            throw CommandFailure("the daemon (pid \(pid)) did not answer status within \(startLimit) of its start")
        }
        let rssBefore = residentBytes(pid)

        let load = LoadGenerator(endpoint: endpoints[0], streams: streams, timesteps: timesteps, channels: channels, curve: curve)
        // Phase 0: one frame per stream so every stream exists, then measure memory.
        try load.send(frames: streams, rate: 0)
        _ = try waitUntilHandled(load.sent)
        let rssAfter = residentBytes(pid)
        let bytesPerStream = Double(max(0, rssAfter - rssBefore)) / Double(streams)

        // Phase 1: sustained throughput (back-pressure paces the sender).
        let start = try status()["counters"]
        let began = clock.now
        try load.sendFor(seconds: seconds)
        let end = try status()["counters"]
        let elapsed = (clock.now - began).seconds
        let timestepRate = ((end?["timesteps"]?.numberValue ?? 0) - (start?["timesteps"]?.numberValue ?? 0)) / elapsed
        let labelRate = ((end?["labels"]?.numberValue ?? 0) - (start?["labels"]?.numberValue ?? 0)) / elapsed
        // Let the queues (ours and the daemon's) drain: every frame sent so far processed. A slow
        // path (a per-sample model recomputes each window) can have queued more than `phaseLimit`
        // of work: wait for the backlog at the measured rate, twice over, at most 2 minutes.
        let handledRate = max(1, timestepRate / Double(timesteps))
        let handledSoFar = Int((end?["frames"]?.numberValue ?? 0) + (end?["dropped"]?.numberValue ?? 0))
        let backlogSeconds = Double(max(0, load.sent - handledSoFar)) / handledRate
        let drainLimit = Duration.seconds(min(120, max(phaseLimit.seconds, 2 * backlogSeconds)))
        let drainedBefore = try waitUntilHandled(load.sent, limit: drainLimit).drained

        // Phase 2: latency at half the sustained frame rate.
        let offered = latencyRate ?? max(1, timestepRate / Double(timesteps) / 2)
        let subscriber = LabelLatencyCollector(endpoint: endpoints[1], curve: curve)
        usleep(300_000)  // SUB join
        let before = try status()["counters"]
        let sentBefore = load.sent
        try load.send(frames: Int(offered * seconds), rate: offered, until: clock.now + phaseLimit)
        let sentFrames = load.sent - sentBefore
        // Wait (bounded) until the daemon has handled everything, so "lost" means lost, not late.
        let (after, drainedAfter) = try waitUntilHandled(load.sent)
        usleep(300_000)
        let latencies = subscriber.stop()
        let processed = Int((after?["frames"]?.numberValue ?? 0) - (before?["frames"]?.numberValue ?? 0))
        let labelsPublished = Int((after?["labels"]?.numberValue ?? 0) - (before?["labels"]?.numberValue ?? 0))
        // A backlog left from a phase that did not drain makes the count meaningless: -1 = unknown.
        let lost = drainedBefore && drainedAfter ? (sentFrames - processed) + max(0, labelsPublished - latencies.count) : -1
        return CaseResult(
            timestepsPerSecond: timestepRate, labelsPerSecond: labelRate, offeredFramesPerSecond: offered,
            latency: percentiles(latencies), lost: lost, bytesPerStream: bytesPerStream)
    }

    func percentiles(_ values: [Double]) -> (Double, Double, Double) {
        guard !values.isEmpty else { return (.nan, .nan, .nan) }
        let sorted = values.sorted()
        func at(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))] }
        return (at(0.5), at(0.99), at(0.999))
    }

    private func residentBytes(_ pid: Int32) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kilobytes * 1024
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

/// Pushes frames round-robin over N streams with per-stream sequence numbers.
final class LoadGenerator {
    let context: ZMQContext
    let socket: ZMQSocket
    let streams: Int
    let timesteps: Int
    let ids: [[UInt8]]
    var sequences: [UInt64]
    let payload: [UInt8]
    let channels: Int
    var next = 0
    /// Frames handed to ZeroMQ so far.
    var sent = 0

    init(endpoint: String, streams: Int, timesteps: Int, channels: Int, curve: CurveClientKeys? = nil) {
        context = try! ZMQContext()
        socket = try! ZMQSocket(.push, context: context)
        try! socket.set(.sendHighWaterMark, to: 10_000)
        // A daemon that stops reading must fail the benchmark, not hang it.
        try! socket.set(.sendTimeout, to: 30_000)
        try! socket.set(.linger, to: 5000)
        try! curve.apply(to: socket)
        try! socket.connect(endpoint)
        self.streams = streams
        self.timesteps = timesteps
        self.channels = channels
        ids = (0..<streams).map { Array("bench-\($0)".utf8) }
        sequences = Array(repeating: 0, count: streams)
        var generator = SplitMix64(seed: 9)
        var bytes: [UInt8] = []
        for _ in 0..<(timesteps * channels) {
            withUnsafeBytes(of: generator.normal().bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        }
        payload = bytes
    }

    func sendOne() throws {
        let stream = next
        next = (next + 1) % streams
        var header = FrameHeader(channels: channels, timesteps: timesteps, sequence: sequences[stream], timestamp: realtimeNanoseconds())
        header.flags = 0
        sequences[stream] += 1
        guard try socket.send(ids[stream], more: true) else {
            throw CommandFailure("the daemon took no frame for 30 s")
        }
        try socket.send(header.encoded, more: true)
        try socket.send(payload)
        sent += 1
    }

    /// Sends `frames` frames at `rate` per second (0: as fast as taken), stopping early at `deadline`.
    func send(frames: Int, rate: Double, until deadline: ContinuousClock.Instant? = nil) throws {
        let clock = ContinuousClock()
        let start = clock.now
        for index in 0..<frames {
            if let deadline, clock.now >= deadline { return }
            if rate > 0 {
                // Sleep until due (no spinning: the daemon needs the cores).
                let due = start + .nanoseconds(Int64(Double(index) / rate * 1e9))
                let wait = due - clock.now
                if wait > .microseconds(50) { usleep(UInt32(wait.seconds * 1e6)) }
            }
            try sendOne()
        }
    }

    func sendFor(seconds: Double) throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .nanoseconds(Int64(seconds * 1e9))
        while clock.now < deadline {
            for _ in 0..<16 { try sendOne() }
        }
    }
}


/// Subscribes to all labels on a thread and records each label's frame timestamp (`timestamp_ns`)
/// and its receive time − frame timestamp, in µs.
final class LabelLatencyCollector: Sendable {
    private let labels = Mutex<[(stamp: Int64, micros: Double)]>([])
    private let stopFlag = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    init(endpoint: String, curve: CurveClientKeys? = nil) {
        let thread = Thread { [self] in
            let context = try! ZMQContext()
            let socket = try! ZMQSocket(.sub, context: context)
            try! socket.set(.receiveHighWaterMark, to: 1_000_000)
            try! socket.set(.receiveTimeout, to: 100)
            try! socket.subscribe([UInt8]())
            try! curve.apply(to: socket)
            try! socket.connect(endpoint)
            var local: [(stamp: Int64, micros: Double)] = []
            var message = ZMQMessage()
            let key = Array("\"timestamp_ns\":".utf8)
            while !stopFlag.load(ordering: .acquiring) {
                guard (try? socket.receive(into: &message)) == true else { continue }
                guard message.hasMore, (try? socket.receive(into: &message)) == true else { continue }
                let now = realtimeNanoseconds()
                let stamp: Int64? = message.withUnsafeBytes { raw in
                    let bytes = raw.bindMemory(to: UInt8.self)
                    guard bytes.count > key.count else { return nil }
                    for start in 0..<(bytes.count - key.count) where bytes[start] == key[0] {
                        if zip(key.indices, key).allSatisfy({ bytes[start + $0] == $1 }) {
                            var value: Int64 = 0
                            var index = start + key.count
                            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                                value = value * 10 + Int64(bytes[index] - 48)
                                index += 1
                            }
                            return value
                        }
                    }
                    return nil
                }
                if let stamp { local.append((stamp, Double(now - stamp) / 1000)) }
            }
            labels.withLock { $0 = local }
            socket.close()
            done.signal()
        }
        thread.start()
    }

    /// Stops collecting; returns every label's latency, µs.
    func stop() -> [Double] { stopWithStamps().map(\.micros) }

    /// Stops collecting; returns every label seen (frame timestamp, latency µs).
    func stopWithStamps() -> [(stamp: Int64, micros: Double)] {
        stopFlag.store(true, ordering: .releasing)
        done.wait()
        return labels.withLock { $0 }
    }
}
