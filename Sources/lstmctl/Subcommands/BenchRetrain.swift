import ArgumentParser
import Foundation
import LSTMKit
import LSTMTraining
import Synchronization
import Wire
import ZeroMQ

/// `lstmctl bench retrain`: classification latency of a running lstmd while its labelled buffer
/// fills and while a retraining job runs, against the same load with nothing else going on; the
/// buffer's append throughput; the job's training speed against the same trainer in-process.
struct BenchRetrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retrain",
        abstract: "Latency while lstmd appends labelled data and retrains, append throughput, and the job's training speed.",
        discussion: """
            One run, every phase bounded in time, progress on standard error: \
            (1) baseline: trains the served model in this process with the retraining recipe \
            (one thread; --model instead: fine-tunes it) on --samples synthetic windows of W \
            timesteps (bench train's data) — the single-thread training speed of bench train on \
            the job's shape; (2) starts the lstmd next to this binary on ipc endpoints in a \
            temporary directory with --state-directory, that recipe as --retrain-recipe and a \
            lenient gate; (3) offers a fixed load, --streams streams at --rate frames/s of \
            --frame timesteps, for the rest of the run and measures frame-to-label latency \
            (label receive time minus frame timestamp, CLOCK_REALTIME) in each phase: idle; \
            the same frames labelled (flag bit 0: the daemon cuts windows into its buffer); \
            while --samples training samples (flag bit 1) flood in as fast as lstmd takes them, \
            timed until status.buffer.durable_records counts them all; and while a retraining \
            job (control retrain) runs, from the request until its state is done. The job's \
            epochs are chosen so it trains for about --job-seconds unless --epochs is given.
            """)

    @Option(help: "Serve and retrain this model (default: train one in-process, H=--hidden L=--layers C=6, 4 classes, window 100, hop 10).")
    var model: String?

    @Option(help: "Hidden size H of the trained model.") var hidden = 64
    @Option(help: "LSTM layers L of the trained model.") var layers = 2
    @Option(help: "Streams of the offered load.") var streams = 100
    @Option(help: "Frames/s offered (all streams together), for the whole run.") var rate = 500.0
    @Option(help: "Timesteps per frame.") var frame = 10
    @Option(help: "Seconds of each latency phase (idle, labelled frames).") var seconds = 5.0
    @Option(help: "Training samples (each W timesteps) sent to the buffer; 80% of them train the baseline.") var samples = 4096
    @Option(help: "Epochs of the retraining job (default: enough for about --job-seconds of training).") var epochs: Int?
    @Option(help: "Training seconds the job's default epochs aim at.") var jobSeconds = 30.0
    @Option(help: "Epochs of the in-process baseline.") var baselineEpochs = 3
    @Option(help: "Seconds the job may take before the bench gives up (also lstmd's --retrain-timeout).") var jobTimeout = 600.0
    @Option(help: "Seconds the buffer may take to make the training samples durable.") var fillTimeout = 120.0
    @Option(help: "Path to lstmd (default: next to this binary).") var lstmd: String?

    func validate() throws {
        guard streams >= 1, rate > 0, frame >= 1, seconds > 0, samples >= 10, jobSeconds > 0, baselineEpochs >= 1 else {
            throw ValidationError("--streams, --rate, --frame, --seconds, --job-seconds, --baseline-epochs must be positive, --samples ≥ 10")
        }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1") }
    }

    func run() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lstmd-bench-retrain-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let given = try model.map { try ModelFile(contentsOf: URL(fileURLWithPath: $0)) }
        let window = given?.window ?? 100, channels = given?.architecture.inputSize ?? 6
        let classes = given?.classes ?? (0..<4).map { "class\($0)" }
        var data = BenchTrain.synthetic(samples: samples, timesteps: window, channels: channels, classes: classes.count, seed: 0)
        data = Dataset(samples: data.samples, channels: channels, classNames: classes)

        // 1. The baseline: the job's trainer and recipe in this process, one thread, no load.
        let recipeURL = directory.appendingPathComponent("retrain.recipe")
        let baselineRecipe = recipeText(epochs: baselineEpochs, window: window, hop: given?.hop ?? window / 10)
        var configuration = try recipeConfiguration(baselineRecipe, model: given)
        configuration.threads = 1
        let baselineData = Dataset(
            samples: Array(data.samples.prefix(samples * 4 / 5)), channels: channels, classNames: classes)
        printError("[1/6] baseline: training \(baselineData.samples.count) windows × \(baselineEpochs) epochs in-process, 1 thread…")
        let started = Date()
        let trained = try Trainer(configuration: configuration).train(baselineData, warmStart: given) { event in
            if case .epoch(let record, _) = event { printError(String(format: "  epoch %d: %.2f s", record.epoch, record.seconds)) }
        }
        let baselineSeconds = Date().timeIntervalSince(started)
        let baselineRate = Double(trained.plan.balancedSamples * trained.history.epochs.count) / baselineSeconds
        let epochSeconds = trained.history.epochs.map(\.seconds)
        let timed = epochSeconds.count >= 3 ? Array(epochSeconds.dropFirst()).sorted() : epochSeconds.sorted()
        let benchTrainRate = Double(trained.plan.balancedSamples) / timed[timed.count / 2]
        var served = given ?? trained.model
        let modelURL = directory.appendingPathComponent("served.safetensors")
        try served.write(to: modelURL)
        try recipeText(epochs: 1, window: window, hop: served.hop).write(to: recipeURL, atomically: true, encoding: .utf8)

        // 2. The daemon.
        let endpoints = ["ingest", "labels", "control"].map { "ipc://\(directory.path)/\($0).sock" }
        let binary = lstmd ?? executableDirectory().appendingPathComponent("lstmd").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--model", modelURL.path, "--ingest", endpoints[0], "--publish", endpoints[1], "--control", endpoints[2],
            "--state-directory", directory.appendingPathComponent("state").path, "--retrain-recipe", recipeURL.path,
            "--retrain-promote-margin", "0", "--retrain-max-recall-drop", "1", "--retrain-min-validation-per-class", "0",
            "--retrain-timeout", String(jobTimeout), "--retrain-threads", "1", "--retrain-interval", "0",
            "--max-streams", String(max(streams + 10, 1000)), "--idle-timeout", "3600", "--log-level", "error",
        ]
        printError("[2/6] starting \(binary) (\(served.mode.rawValue) mode, W=\(window), hop \(served.hop))…")
        try process.run()
        defer {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
        let control = endpoints[2]
        func status() throws -> JSONValue { try controlRequest("status", options: .requests(to: control, timeout: 5)) }
        try waitFor("lstmd to answer status", timeout: 15, interval: 0.1) {
            guard process.isRunning else { throw CommandFailure("lstmd exited with status \(process.terminationStatus)") }
            return (try? status()) != nil
        }

        // 3. The load, for the rest of the run; latency phases are cut by frame timestamp.
        let collector = LabelLatencyCollector(endpoint: endpoints[1])
        usleep(300_000)  // SUB join
        let load = PacedLabelledLoad(
            endpoint: endpoints[0], streams: streams, timesteps: frame, rate: rate, signals: data, window: window)
        defer { load.stop() }
        let warmUp = Double(window) / Double(frame) * Double(streams) / rate + 1
        printError(String(format: "[3/6] load: %d streams × %.0f frames/s × T=%d; warm-up %.1f s, idle %.1f s, labelled %.1f s…",
                          streams, rate, frame, warmUp, seconds, seconds))
        usleep(UInt32(warmUp * 1e6))
        let start = try status()
        let idle = phase(seconds: seconds)
        let bufferBefore = try status()["buffer"]
        load.labelled.store(true, ordering: .relaxed)
        let labelledPhase = phase(seconds: seconds)
        load.labelled.store(false, ordering: .relaxed)
        usleep(1_000_000)  // the phase's last frames reach the buffer; no window is cut after it
        let bufferAfter = try status()["buffer"]
        let windowsCut = number(bufferAfter?["windows"]) - number(bufferBefore?["windows"])

        // 4. The flood of training samples, timed until the buffer says they are durable.
        var base = number(bufferAfter?["durable_records"])
        try waitFor("the labelled windows to become durable", timeout: 10, interval: 0.05) {
            let buffer = try status()["buffer"]
            base = number(buffer?["durable_records"])
            return base >= number(buffer?["records"])
        }
        printError("[4/6] appends: \(samples) training samples of \(window) timesteps, as fast as lstmd takes them…")
        let floodStart = realtimeNanoseconds()
        let clock = ContinuousClock(), began = clock.now
        let sendSeconds = try sendTrainingSamples(data, endpoint: endpoints[0])
        var durable = base
        try waitFor("\(samples) training samples to become durable", timeout: fillTimeout, interval: 0.02) {
            durable = number(try status()["buffer"]?["durable_records"])
            return durable >= base + Double(samples)
        }
        let fillSeconds = (clock.now - began).seconds
        let flood = (floodStart, realtimeNanoseconds())
        let records = number(try status()["buffer"]?["records"])

        // 5. The job, with epochs for about --job-seconds of training.
        let expected = max(1, records * 0.8)
        let jobEpochs = epochs ?? max(1, min(1000, Int((jobSeconds * baselineRate / expected).rounded())))
        try recipeText(epochs: jobEpochs, window: window, hop: served.hop).write(to: recipeURL, atomically: true, encoding: .utf8)
        printError("[5/6] retrain: \(Int(records)) records in the buffer, \(jobEpochs) epochs (about \(formatSeconds(jobSeconds)) s of training)…")
        let jobStart = realtimeNanoseconds()
        let reply = try controlRequest("retrain", options: .requests(to: control, timeout: 5))
        guard let job = reply["job"] else { throw CommandFailure("lstmd's retrain reply names no job: \(reply.jsonText)") }
        var outcome = reply
        try waitFor("retrain job \(formatNumber(job)) to end", timeout: jobTimeout, interval: 0.25) {
            outcome = try controlRequest("job", ["job": job], options: .requests(to: control, timeout: 5))
            let state = outcome["state"]?.stringValue ?? "-"
            return state != "queued" && state != "running"
        }
        let during = (jobStart, realtimeNanoseconds())
        let end = try status()
        load.stop()
        usleep(300_000)
        let labels = collector.stopWithStamps()
        guard outcome["state"]?.stringValue == "done", let result = outcome["result"] else {
            throw CommandFailure("retrain job \(formatNumber(job)) failed: \(outcome["result"]?["error"]?.stringValue ?? outcome.jsonText)")
        }

        // 6. The report.
        printError("[6/6] done")
        served = try ModelFile(contentsOf: modelURL)
        let cpu = ", \(CPU.current.modelName)"
        print("lstmctl bench retrain: model H=\(served.architecture.hiddenSize) L=\(served.architecture.numLayers) C=\(channels) "
              + "K=\(classes.count) \(served.mode.rawValue) W=\(window) hop \(served.hop); ipc sockets; "
              + "\(ProcessInfo.processInfo.activeProcessorCount) cores\(cpu) shared by daemon, job and load generator")
        printComputePaths()
        print(String(format: "offered load: %d streams, %.0f frames/s × T=%d (%.0f timesteps/s) for the whole run", streams, rate, frame, rate * Double(frame)))
        print("phase                 seconds  labels  p50 µs    p99 µs  p99.9 µs  p99/idle")
        let idleStats = Self.latency(labels, idle)
        // The job ends where its worker's duration says; what follows until the bench saw it
        // done is the promotion: the store, the model load and the swap, whose replay of every
        // stream's window through the new model shows as a burst of late labels.
        let jobEnd = min(during.1, during.0 + Int64(number(result["duration_s"]) * 1e9))
        let training = (during.0, jobEnd)
        let promotion = (jobEnd, during.1)
        for (name, span) in [
            ("idle", idle), ("labelled frames", labelledPhase), ("training-sample flood", flood), ("retrain job", training),
            ("promotion and swap", promotion),
        ] {
            let stats = Self.latency(labels, span)
            print(name.padding(toLength: 21, withPad: " ", startingAt: 0) + String(
                format: " %7.1f %7d %7.1f %9.1f %9.1f %9.2f", Double(span.1 - span.0) / 1e9,
                stats.count, stats.p50, stats.p99, stats.p999, stats.p99 / idleStats.p99))
        }
        let dropped = number(end["counters"]?["dropped"]) - number(start["counters"]?["dropped"])
        print(String(format: "frames dropped by lstmd during the phases: %.0f", dropped))
        let labelledSeconds = Double(labelledPhase.1 - labelledPhase.0) / 1e9
        print(String(format: "labelled frames: %.0f labelled timesteps/s streamed and classified; %.0f windows/s cut into the buffer (%.0f timesteps/s)",
                     rate * Double(frame), windowsCut / labelledSeconds, windowsCut * Double(window) / labelledSeconds))
        print(String(format: "appends: %d training samples × %d timesteps in %.3f s to durable (sent in %.3f s): %.0f labelled timesteps/s, %.0f records/s (target ≥ 100000 timesteps/s)",
                     samples, window, fillSeconds, sendSeconds, Double(samples * window) / fillSeconds, Double(samples) / fillSeconds))
        let jobRate = number(result["windows_per_second"])
        print("job \(formatNumber(job)): \(result["promoted"] == .bool(true) ? "promoted" : "rejected") (\(result["reason"]?.stringValue ?? "-")), "
              + "\(formatNumber(result["train_windows"])) training windows × \(formatNumber(result["epochs"])) epochs, "
              + String(format: "train %.1f s, job %.1f s, %.0f windows/s (1 thread, SCHED_IDLE, under the load)",
                       number(result["train_seconds"]), number(result["duration_s"]), jobRate))
        print(String(format: "in-process trainer, same recipe, 1 thread, no load: %d windows × %d epochs in %.1f s: %.0f windows/s (bench train's median epoch: %.0f windows/s)",
                     trained.plan.balancedSamples, trained.history.epochs.count, baselineSeconds, baselineRate, benchTrainRate))
        print(String(format: "p99 during the job / idle p99: %.2f (target ≤ 1.5); job speed / in-process speed: %.2f (target ≥ 0.80)",
                     Self.latency(labels, training).p99 / idleStats.p99, jobRate / baselineRate))
    }

    /// Lets the load run for `seconds`; returns the realtime span (ns) the phase covers.
    private func phase(seconds: Double) -> (Int64, Int64) {
        let from = realtimeNanoseconds()
        usleep(UInt32(seconds * 1e6))
        return (from, realtimeNanoseconds())
    }

    /// The retraining recipe: bench train's workload (Adam 1e-3, clip 1, batch 64, no dropout,
    /// no augmentation, constant rate), class weights, every epoch run.
    private func recipeText(epochs: Int, window: Int, hop: Int) -> String {
        """
        hidden_size = \(hidden)
        layers = \(layers)
        bidirectional = false
        head = last
        dense = none
        input_dropout = 0
        layer_dropout = 0
        head_dropout = 0
        jitter = 0
        scaling = 0
        time_warp = 0
        slice = 0
        optimizer = adam
        learning_rate = 0.001
        clip_norm = 1
        schedule = constant
        balancing = class-weights
        epochs = \(epochs)
        batch_size = 64
        patience = 0
        keep = last
        seed = 1
        window = \(window)
        hop = \(hop)

        """
    }

    /// The recipe as the job reads it, with the served model's architecture (as the job keeps it).
    private func recipeConfiguration(_ text: String, model: ModelFile?) throws -> TrainingConfiguration {
        var configuration = TrainingConfiguration()
        try configuration.apply(recipe: text, path: "retrain.recipe")
        if let architecture = model?.architecture {
            configuration.hiddenSize = architecture.hiddenSize
            configuration.layers = architecture.numLayers
            configuration.bidirectional = architecture.bidirectional
            configuration.head = architecture.head
            configuration.dense = architecture.dense
        }
        configuration.validationFraction = 0
        return configuration
    }

    /// Sends every sample as one training-sample frame; returns the seconds ZeroMQ took them in.
    private func sendTrainingSamples(_ data: Dataset, endpoint: String) throws -> Double {
        let payloads = data.samples.map { sample -> [UInt8] in
            var bytes = [UInt8](repeating: 0, count: sample.values.count * 4)
            bytes.withUnsafeMutableBytes { raw in
                for (offset, value) in sample.values.enumerated() {
                    raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: offset * 4, as: UInt32.self)
                }
            }
            return bytes
        }
        let context = try ZMQContext()
        let socket = try ZMQSocket(.push, context: context)
        try socket.set(.sendHighWaterMark, to: 10_000)
        try socket.set(.sendTimeout, to: 30_000)
        try socket.set(.linger, to: 30_000)
        try socket.connect(endpoint)
        let id = Array("bench-samples".utf8)
        let began = ContinuousClock.now
        for (index, sample) in data.samples.enumerated() {
            let header = FrameHeader(
                channels: data.channels, timesteps: sample.length, sequence: UInt64(index), timestamp: realtimeNanoseconds(),
                label: sample.label, trainingSample: true)
            guard try socket.send(id, more: true) else { throw CommandFailure("lstmd took no training sample for 30 s") }
            try socket.send(header.encoded, more: true)
            try socket.send(payloads[index])
        }
        socket.close()
        return (ContinuousClock.now - began).seconds
    }

    /// Polls `done` every `interval` seconds until it is true.
    /// - Throws: `CommandFailure` after `timeout` seconds.
    private func waitFor(_ what: String, timeout: Double, interval: Double, _ done: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while try !done() {
            guard Date() < deadline else { throw CommandFailure("gave up waiting \(formatSeconds(timeout)) s for \(what)") }
            usleep(UInt32(interval * 1e6))
        }
    }

    private func number(_ value: JSONValue?) -> Double { value?.numberValue ?? 0 }

    /// Percentiles (µs) of the labels whose frame timestamp lies in `span`.
    static func latency(
        _ labels: [(stamp: Int64, micros: Double)], _ span: (Int64, Int64)
    ) -> (count: Int, p50: Double, p99: Double, p999: Double) {
        let sorted = labels.filter { $0.stamp >= span.0 && $0.stamp < span.1 }.map(\.micros).sorted()
        guard !sorted.isEmpty else { return (0, .nan, .nan, .nan) }
        func at(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))] }
        return (sorted.count, at(0.5), at(0.99), at(0.999))
    }
}

/// Frames paced at a fixed rate, round-robin over N streams, from a thread of its own until
/// `stop()`. Stream `s` carries class `s mod K`'s synthetic window, `T` timesteps per frame, and
/// its class index as a label while `labelled` is set.
final class PacedLabelledLoad: Sendable {
    /// Whether frames carry their stream's class (flag bit 0).
    let labelled = Atomic<Bool>(false)
    private let stopFlag = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    init(endpoint: String, streams: Int, timesteps: Int, rate: Double, signals: Dataset, window: Int) {
        let channels = signals.channels, classes = signals.classNames.count
        // One window per class, from the first sample of that class.
        let windows: [[Float]] = (0..<classes).map { k in signals.samples.first { $0.label == k }?.values ?? [] }
        let thread = Thread { [self] in
            let context = try! ZMQContext()
            let socket = try! ZMQSocket(.push, context: context)
            try! socket.set(.sendHighWaterMark, to: 10_000)
            try! socket.set(.sendTimeout, to: 1000)
            try! socket.set(.linger, to: 0)
            try! socket.connect(endpoint)
            let ids = (0..<streams).map { Array("bench-\($0)".utf8) }
            var sequences = [UInt64](repeating: 0, count: streams)
            var payload = [UInt8](repeating: 0, count: timesteps * channels * 4)
            let clock = ContinuousClock(), start = clock.now
            var index = 0
            while !stopFlag.load(ordering: .relaxed) {
                let due = start + .nanoseconds(Int64(Double(index) / rate * 1e9))
                let wait = due - clock.now
                if wait > .microseconds(50) { usleep(UInt32(min(wait.seconds, 0.1) * 1e6)) }
                if wait > .milliseconds(100) { continue }
                let stream = index % streams, k = stream % classes
                let values = windows[k]
                payload.withUnsafeMutableBytes { raw in
                    for t in 0..<timesteps {
                        let source = ((Int(sequences[stream]) * timesteps + t) % window) * channels
                        for c in 0..<channels {
                            raw.storeBytes(of: values[source + c].bitPattern.littleEndian, toByteOffset: (t * channels + c) * 4, as: UInt32.self)
                        }
                    }
                }
                let header = FrameHeader(
                    channels: channels, timesteps: timesteps, sequence: sequences[stream], timestamp: realtimeNanoseconds(),
                    label: labelled.load(ordering: .relaxed) ? k : nil)
                sequences[stream] += 1
                index += 1
                guard (try? socket.send(ids[stream], more: true)) == true else { continue }
                _ = try? socket.send(header.encoded, more: true)
                _ = try? socket.send(payload)
            }
            socket.close()
            done.signal()
        }
        thread.start()
    }

    /// Stops the sender and waits for its thread (idempotent).
    func stop() {
        guard !stopFlag.exchange(true, ordering: .relaxed) else { return }
        done.wait()
    }
}
