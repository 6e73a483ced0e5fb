import ArgumentParser
import Foundation
import LSTMKit
import LSTMTraining
import Wire
import ZeroMQ

/// `lstmctl label`: labelled data for lstmd's retraining buffer, either a file's labelled samples
/// (`--data`) or an operator's correction of a stream's last window (`--stream --class`).
struct Label: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Give lstmd labelled data to retrain on: a file's samples, or a correction of a stream's last window.",
        discussion: """
            lstmctl label --data FILE.ts|FILE.csv sends every labelled sample of the file to the \
            ingest --endpoint as one training-sample frame (flag bit 1): the daemon stores it in \
            its retraining buffer and neither classifies it nor touches any stream's state. Each \
            class name is matched to the serving model's classes, asked over --control first; a \
            class the model does not have, or a channel count other than the model's, is refused \
            (exit 65) before anything is sent. Unlabelled samples are skipped with a note. It then \
            waits, up to --timeout seconds (default 30), until the daemon's counters account for \
            every sample, and prints how many it stored, for example \
            'lstmd stored 40 of 40 training samples (buffer: 1234 records, 1200 durable)'. It exits \
            1 when none was stored. The counters are daemon-wide: samples other producers send \
            meanwhile are counted too.

            lstmctl label --stream ID --class NAME is an operator's correction: the daemon labels \
            the stream's last W timesteps (the model's window) as NAME and stores them, printing \
            for example 'labelled the last window of s1 as Walking (stored, durable)'. A record is \
            durable once the daemon has flushed it to disk (it then survives a crash). A refusal \
            (an unknown stream or class, for instance) prints the daemon's reason and exits 1.
            """)

    @Option(help: "A UEA/UCR .ts file (or the documented CSV layout) whose labelled samples to send.")
    var data: String?

    @Option(help: "With --data: the stream id the frames carry (default: label). Without: the stream whose last window --class labels.")
    var stream: String?

    @Option(name: .customLong("class"), help: "The class of the stream's last window: one of the serving model's class names.")
    var className: String?

    @Option(help: ArgumentHelp("With --data: the daemon's ingest (PULL) endpoint. (default: tcp://127.0.0.1:5555)", valueName: "endpoint"))
    var endpoint: String?

    @Option(help: "The daemon's control (REP) endpoint.")
    var control = "tcp://127.0.0.1:5557"

    @Option(help: ArgumentHelp(
        "Seconds to wait: with --data, for the daemon to take the frames and account for them (default 30); otherwise for the reply (default 5).",
        valueName: "seconds"))
    var timeout: Double?

    @Flag(help: "Print the daemon's reply (a correction) or a summary object (--data) as one line of JSON.")
    var json = false

    @OptionGroup var curve: CurveOptions

    static let defaultIngest = "tcp://127.0.0.1:5555"
    static let defaultStream = "label"

    func validate() throws {
        if data != nil, className != nil {
            throw ValidationError(
                "give either --data FILE (send a file's labelled samples) or --stream ID --class NAME (label a stream's last window), not both")
        }
        if data == nil {
            guard stream != nil || className != nil else {
                throw ValidationError(
                    "give --data FILE to send a file's labelled samples, or --stream ID --class NAME to label a stream's last window")
            }
            guard stream != nil else { throw ValidationError("--class needs --stream: the stream whose last window to label") }
            guard let className else { throw ValidationError("--stream without --data needs --class: the class of the stream's last window") }
            guard !className.isEmpty else { throw ValidationError("--class must not be empty") }
            if endpoint != nil {
                throw ValidationError("--endpoint is the ingest endpoint, used only with --data; a correction goes to --control")
            }
        }
        if let stream { guard (1...255).contains(stream.utf8.count) else { throw ValidationError("--stream must be 1-255 bytes of UTF-8") } }
        if let timeout { guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be in (0, 3600] seconds, got \(timeout)") } }
        guard !control.isEmpty else { throw ValidationError("--control must name the daemon's control endpoint") }
    }

    func run() throws {
        if let data {
            try sendSamples(of: data)
        } else if let stream, let className {
            try correct(stream: stream, className: className)
        }
    }

    /// The correction: one `label` control request.
    private func correct(stream: String, className: String) throws {
        let options = try ControlOptions.requests(to: control, timeout: timeout ?? 5, json: json, curve: curve)
        let reply = try controlRequest("label", ["stream": .string(stream), "class": .string(className)], options: options)
        if json { return }
        let stored = (reply["stored"]?.numberValue ?? 0) >= 1
        let state = stored ? (reply["durable"] == .bool(true) ? "stored, durable" : "stored, not yet durable") : "not stored"
        print(
            "labelled the last window of \(reply["stream"]?.stringValue ?? stream) as \(reply["class"]?.stringValue ?? className) (\(state))")
    }

    /// `--data`: checks the file against the serving model, sends its labelled samples as
    /// training-sample frames, and reports what the daemon stored.
    private func sendSamples(of path: String) throws {
        let dataset = try loadDataset(path)
        let samples = dataset.samples.filter { $0.label != nil }
        guard !samples.isEmpty else { throw InputError("\(path) has no labelled samples: a training sample needs a class") }
        let wait = timeout ?? 30
        let before = try DaemonCounters.read(control: control, timeout: min(wait, 5), curve: curve)
        guard before.channels == dataset.channels else {
            throw InputError(
                "\(path) has \(dataset.channels) channel\(dataset.channels == 1 ? "" : "s"), the daemon's model has "
                    + "\(before.channels.map(String.init) ?? "an unknown number"): nothing sent")
        }
        let used = Set(samples.compactMap(\.label)).sorted().map { dataset.classNames[$0] }
        let unknown = used.filter { !before.classes.contains($0) }
        guard unknown.isEmpty else {
            throw InputError(
                "\(path): class\(unknown.count == 1 ? "" : "es") \(unknown.joined(separator: ", ")) "
                    + "not among the daemon's model classes (\(before.classes.joined(separator: ", "))): nothing sent")
        }
        guard before.stored != nil else {
            throw CommandFailure(
                "lstmd at \(control) does not take training samples (its status has no counters.training_samples): it needs retraining support")
        }
        if samples.count < dataset.samples.count {
            printError("note: skipping \(dataset.samples.count - samples.count) unlabelled samples of \(path)")
        }
        let long = samples.filter { $0.length > 4096 }.count
        if long > 0 {
            printError(
                "note: \(long) sample\(long == 1 ? " is" : "s are") longer than 4096 timesteps, lstmd's default --max-timesteps; "
                    + "unless the daemon allows more it drops them (bad_timesteps)")
        }
        let labels = samples.map { before.classes.firstIndex(of: dataset.classNames[$0.label!])! }
        try send(samples, labels: labels, channels: dataset.channels, timeout: wait)
        try report(before: before, sent: samples.count, wait: wait)
    }

    /// Sends each sample as one frame: stream id, header with the training-sample flag,
    /// float32 payload; sequence numbers 0, 1, 2, ….
    private func send(_ samples: [Dataset.Sample], labels: [Int], channels c: Int, timeout: Double) throws {
        let ingest = endpoint ?? Self.defaultIngest
        let streamID = Array((stream ?? Self.defaultStream).utf8)
        let started = Date()
        var timesteps = 0
        let keys = try curve.keys()
        do {
            let socket = try producerSocket(to: ingest, timeout: timeout, keys: keys)
            for (index, (sample, label)) in zip(samples, labels).enumerated() {
                var payload = [UInt8](repeating: 0, count: sample.length * c * 4)
                payload.withUnsafeMutableBytes { raw in
                    for (offset, value) in sample.values.enumerated() {
                        raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: offset * 4, as: UInt32.self)
                    }
                }
                let header = FrameHeader(
                    channels: c, timesteps: sample.length, sequence: UInt64(index), timestamp: realtimeNanoseconds(), label: label,
                    trainingSample: true)
                guard try socket.send(streamID, more: true) else {
                    throw CommandFailure(
                        "\(ingest) did not take sample \(index) within \(formatSeconds(timeout)) s: is lstmd running with --ingest \(ingest)?")
                }
                try socket.send(header.encoded, more: true)
                try socket.send(payload)
                timesteps += sample.length
            }
            socket.close()
            // Leaving this scope releases the context: zmq_ctx_term waits (up to the linger
            // period) until the queued frames are written to the connection.
        } catch let error as ZMQError {
            throw CommandFailure("\(ingest): \(error)")
        }
        printError(
            "sent \(samples.count) training sample\(samples.count == 1 ? "" : "s") (\(timesteps) timesteps) to \(ingest) "
                + "as stream \(stream ?? Self.defaultStream) in \(String(format: "%.3f", Date().timeIntervalSince(started))) s")
    }

    /// Waits until the daemon's counters account for `sent` samples (stored, refused, or dropped
    /// and steady for three polls) or `wait` seconds pass, then prints what it stored.
    private func report(before: DaemonCounters, sent: Int, wait: Double) throws {
        let deadline = Date().addingTimeInterval(wait)
        var after: DaemonCounters?
        var steady = 0
        while true {
            let remaining = deadline.timeIntervalSinceNow
            if let now = try? DaemonCounters.read(control: control, timeout: max(0.05, min(remaining, 2)), curve: curve) {
                steady = now == after ? steady + 1 : 0
                after = now
                let accounted = now.delta(from: before)
                if accounted.stored + accounted.refused >= sent { break }
                if accounted.stored + accounted.refused + accounted.dropped >= sent, steady >= 3 { break }
            }
            if deadline.timeIntervalSinceNow <= 0 { break }
            usleep(50_000)
        }
        guard var after else {
            throw CommandFailure("sent \(sent) training samples, but \(control) stopped answering: what lstmd stored is not known")
        }
        // The buffer flushes on its own schedule (default every 100 ms): give it a moment so the
        // durable count is meaningful.
        for _ in 0..<10 where after.durableRecords < after.records {
            usleep(100_000)
            guard let now = try? DaemonCounters.read(control: control, timeout: 1, curve: curve) else { break }
            after = now
        }
        let delta = after.delta(from: before)
        let unaccounted = max(0, sent - delta.stored - delta.refused - delta.dropped)
        if json {
            var drops: [String: JSONValue] = [:]
            for (reason, count) in delta.drops { drops[reason] = .number(Double(count)) }
            print(
                JSONValue.object([
                    "sent": .number(Double(sent)), "stored": .number(Double(delta.stored)),
                    "refused": .number(Double(delta.refused)), "drops": .object(drops),
                    "unaccounted": .number(Double(unaccounted)), "buffer": after.buffer ?? .null,
                ]).jsonText)
        }
        var message =
            "lstmd stored \(delta.stored) of \(sent) training samples "
            + "(buffer: \(formatNumber(after.buffer?["records"])) records, \(formatNumber(after.buffer?["durable_records"])) durable)"
        if delta.refused > 0 { message += "; refused \(delta.refused) (lstmd's log says why)" }
        if !delta.drops.isEmpty {
            let text = delta.drops.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            message += "; dropped while sending (daemon-wide): \(text)"
        }
        if unaccounted > 0 { message += "; \(unaccounted) not accounted for within \(formatSeconds(wait)) s" }
        guard delta.stored > 0 else { throw CommandFailure(message) }
        if !json { print(message) }
    }
}

/// What `label --data` reads from the daemon's `status`: the model's classes and channels, the
/// training-sample and drop counters, and the buffer.
private struct DaemonCounters: Equatable {
    var classes: [String]
    var channels: Int?
    /// `counters.training_samples`; nil when the daemon has no retraining support.
    var stored: Int?
    var refused: Int
    var dropped: Int
    var drops: [String: Int]
    var buffer: JSONValue?

    var records: Int { Int(buffer?["records"]?.numberValue ?? 0) }
    var durableRecords: Int { Int(buffer?["durable_records"]?.numberValue ?? 0) }

    /// One `status` request.
    /// - Throws: `CommandFailure` when the daemon does not answer within `timeout` seconds.
    static func read(control: String, timeout: Double, curve: CurveOptions) throws -> DaemonCounters {
        let status = try controlRequest("status", options: ControlOptions.requests(to: control, timeout: timeout, curve: curve))
        var classes: [String] = []
        if case .array(let names)? = status["model"]?["classes"] { classes = names.compactMap(\.stringValue) }
        var drops: [String: Int] = [:]
        if case .object(let members)? = status["drops"] {
            for (reason, value) in members { drops[reason] = Int(value.numberValue ?? 0) }
        }
        let counters = status["counters"]
        return DaemonCounters(
            classes: classes,
            channels: status["model"]?["channels"]?.numberValue.map { Int($0) },
            stored: counters?["training_samples"]?.numberValue.map { Int($0) },
            refused: Int(counters?["training_samples_refused"]?.numberValue ?? 0),
            dropped: Int(counters?["dropped"]?.numberValue ?? 0),
            drops: drops,
            buffer: status["buffer"])
    }

    /// What changed since `before`: samples stored and refused, frames dropped (by reason).
    func delta(from before: DaemonCounters) -> (stored: Int, refused: Int, dropped: Int, drops: [String: Int]) {
        var drops: [String: Int] = [:]
        for (reason, count) in self.drops where count > before.drops[reason] ?? 0 { drops[reason] = count - (before.drops[reason] ?? 0) }
        return ((stored ?? 0) - (before.stored ?? 0), refused - before.refused, dropped - before.dropped, drops)
    }
}

