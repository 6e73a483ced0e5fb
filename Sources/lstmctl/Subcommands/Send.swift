import ArgumentParser
import Foundation
import LSTMKit
import LSTMTraining
import Wire
import ZeroMQ

/// `lstmctl send --endpoint E --stream ID --data FILE.ts`: streams a dataset to lstmd as frames.
struct Send: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream the samples of a .ts (or .csv) file to lstmd as frames.",
        discussion: """
            Every sample's timesteps go out in order, one sample after another, on one stream, in \
            frames of --frame timesteps (a sample's last frame may be shorter). Sequence numbers \
            grow by 1 per frame from --start-seq, by default from one after the stream's last \
            sequence, asked over --control (0 for a new stream), so sending twice continues the \
            stream instead of being dropped as out of order. Timestamps are CLOCK_REALTIME ns at \
            send. With --labelled each frame carries its sample's class index: the position of its \
            class in --classes, or in the file's own class order. Every frame is delivered before \
            the command exits; it fails (exit 1) when the daemon does not take them within \
            --timeout seconds. Then, over --control, it waits until the daemon has handled every \
            frame and reports how many it accepted and why it dropped the others (from the \
            daemon's counters, so drops of other producers meanwhile are included); it fails when \
            none was accepted, and refuses a file whose channel count differs from the model's \
            before sending. A summary goes to standard error.
            """)

    @Option(help: "The daemon's ingest (PULL) endpoint.")
    var endpoint = "tcp://127.0.0.1:5555"

    @Option(help: "The stream id (1-255 bytes of UTF-8).")
    var stream: String

    @Option(help: "A UEA/UCR .ts file (or the documented CSV layout).")
    var data: String

    @Option(parsing: .unconditional, help: "Timesteps per frame.")
    var frame = 10

    @Option(parsing: .unconditional, help: "Frames per second (default: as fast as the daemon takes them).")
    var rate: Double?

    @Option(help: "Sequence number of the first frame (default: one after the stream's last, asked over --control; 0 for a new stream).")
    var startSeq: UInt64?

    @Option(help: "The daemon's control endpoint, to continue the stream's sequence and report what the daemon did with the frames ('' skips both).")
    var control = "tcp://127.0.0.1:5557"

    @Flag(help: "Send each frame with its sample's class index (the labelled flag).")
    var labelled = false

    @Option(help: "Comma-separated class names, in the model's order, for --labelled (default: the file's order).")
    var classes: String?

    @Option(parsing: .unconditional, help: "Send only the first N samples.")
    var samples: Int?

    @Option(name: .customLong("repeat"), parsing: .unconditional, help: "Send the samples N times (sequence numbers keep growing).")
    var repeatCount = 1

    @Option(parsing: .unconditional, help: "Seconds to wait for the daemon to take a frame, and to flush the last ones.")
    var timeout = 10.0

    @OptionGroup var curve: CurveOptions

    func validate() throws {
        guard (1...255).contains(stream.utf8.count) else { throw ValidationError("--stream must be 1-255 bytes of UTF-8") }
        guard frame >= 1 else { throw ValidationError("--frame must be at least 1, got \(frame)") }
        if let rate { guard rate > 0, rate.isFinite else { throw ValidationError("--rate must be positive, got \(rate)") } }
        if let samples { guard samples >= 1 else { throw ValidationError("--samples must be at least 1, got \(samples)") } }
        guard repeatCount >= 1 else { throw ValidationError("--repeat must be at least 1, got \(repeatCount)") }
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be in (0, 3600] seconds, got \(timeout)") }
        if classes != nil, !labelled { throw ValidationError("--classes only makes sense with --labelled") }
    }

    func run() throws {
        let dataset = try loadDataset(data)
        let chosen = Array(dataset.samples.prefix(samples ?? Int.max))
        guard !chosen.isEmpty else { throw CommandFailure("\(data) has no samples") }
        guard dataset.channels <= Int(UInt16.max) else { throw CommandFailure("\(data) has \(dataset.channels) channels, the protocol allows 65535") }
        let labels = try labelled ? classIndices(chosen, dataset: dataset) : [Int?](repeating: nil, count: chosen.count)
        let daemon = control.isEmpty ? nil : DaemonView(endpoint: control, stream: stream, curve: curve)
        let before = daemon?.snapshot()
        if daemon != nil, before == nil {
            printError(
                "note: no answer on --control \(control): sequence numbers start at \(startSeq ?? 0) and what the daemon "
                    + "does with the frames is not reported (give --control E, or '' to silence this)")
        }
        if let channels = before?.modelChannels, channels != dataset.channels {
            throw CommandFailure(
                "\(data) has \(dataset.channels) channel\(dataset.channels == 1 ? "" : "s"), the daemon's model has \(channels): "
                    + "every frame would be dropped (wrong_channels)")
        }
        let firstSequence = startSeq ?? before?.lastSequence.map { $0 &+ 1 } ?? 0

        let c = dataset.channels
        let streamID = Array(stream.utf8)
        let milliseconds = max(1, Int(timeout * 1000))
        var payload = [UInt8](repeating: 0, count: frame * c * 4)
        var sequence = firstSequence
        var frames = 0, timesteps = 0
        let started = monotonicNanoseconds()
        let sendingEnded: UInt64
        let keys = try curve.keys()
        do {
            let socket = try producerSocket(to: endpoint, timeout: timeout, keys: keys)
            for _ in 0..<repeatCount {
                for (sample, label) in zip(chosen, labels) {
                    var start = 0
                    while start < sample.length {
                        let count = min(frame, sample.length - start)
                        if let rate { sleep(until: started + UInt64((Double(frames) * 1e9 / rate).rounded())) }
                        sample.values.withUnsafeBufferPointer { values in
                            payload.withUnsafeMutableBytes { raw in
                                for index in 0..<(count * c) {
                                    raw.storeBytes(
                                        of: values[start * c + index].bitPattern.littleEndian, toByteOffset: index * 4, as: UInt32.self)
                                }
                            }
                        }
                        let header = FrameHeader(
                            channels: c, timesteps: count, sequence: sequence, timestamp: realtimeNanoseconds(), label: label)
                        guard try socket.send(streamID, more: true) else {
                            throw CommandFailure(
                                "\(endpoint) did not take frame \(frames) within \(formatSeconds(timeout)) s: is lstmd running with --ingest \(endpoint)?")
                        }
                        try socket.send(header.encoded, more: true)
                        try socket.send(payload[0..<(count * c * 4)])
                        sequence &+= 1
                        frames += 1
                        timesteps += count
                        start += count
                    }
                }
            }
            sendingEnded = monotonicNanoseconds()
            socket.close()
            // Leaving this scope releases the context: zmq_ctx_term waits (up to the linger
            // period) until the queued frames are written to the connection.
        } catch let error as ZMQError {
            throw CommandFailure("\(endpoint): \(error)")
        }
        let flushed = monotonicNanoseconds()
        if flushed - sendingEnded >= UInt64(milliseconds) * 1_000_000 * 95 / 100 {
            throw CommandFailure("\(endpoint) did not take the last frames within \(formatSeconds(timeout)) s; some may be lost")
        }
        let seconds = Double(flushed - started) / 1e9
        let sampleCount = chosen.count * repeatCount
        printError(
            "sent \(frames) frame\(frames == 1 ? "" : "s") (\(timesteps) timestep\(timesteps == 1 ? "" : "s"), \(sampleCount) sample\(sampleCount == 1 ? "" : "s")) to stream \(stream) "
                + "in \(String(format: "%.3f", seconds)) s (\(String(format: "%.1f", Double(frames) / max(seconds, 1e-9))) frames/s), "
                + "sequence \(firstSequence)...\(sequence &- 1)")
        guard let daemon, let before else { return }
        try report(daemon: daemon, before: before, frames: frames, lastSent: sequence &- 1)
    }

    /// Waits (up to --timeout) until the daemon's counters account for every frame sent, then
    /// says how many it accepted and why it dropped the rest; fails when it accepted none.
    ///
    /// Done when the stream's last accepted sequence is the last one sent (every frame taken),
    /// or when the counters account for every frame and have stopped moving for three polls
    /// (another producer's drops must not end the wait early), or at --timeout.
    private func report(daemon: DaemonView, before: DaemonView.Snapshot, frames: Int, lastSent: UInt64) throws {
        let deadline = monotonicNanoseconds() + UInt64(timeout * 1e9)
        var after = before
        var steady = 0
        while true {
            guard let now = daemon.snapshot() else {
                printError("note: --control \(control) stopped answering; the daemon's handling of the frames is not known")
                return
            }
            steady = now == after ? steady + 1 : 0
            after = now
            if after.lastSequence == lastSent, after.streamFrames - before.streamFrames >= frames { break }
            let handled = (after.streamFrames - before.streamFrames) + (after.totalDrops - before.totalDrops)
            if handled >= frames && steady >= 3 || monotonicNanoseconds() > deadline { break }
            usleep(20_000)
        }
        let accepted = after.streamFrames - before.streamFrames
        var drops: [(String, Int)] = []
        for (reason, count) in after.drops {
            let delta = count - (before.drops[reason] ?? 0)
            if delta > 0 { drops.append((reason, delta)) }
        }
        drops.sort { $0.1 > $1.1 }
        let dropText = drops.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
        if accepted >= frames {
            printError(frames == 1 ? "lstmd accepted the frame" : "lstmd accepted all \(frames) frames")
            return
        }
        var message = "lstmd accepted \(accepted) of \(frames) frames"
        if !drops.isEmpty { message += "; dropped while sending (daemon-wide): \(dropText)" }
        if drops.contains(where: { $0.0 == "out_of_order" || $0.0 == "duplicate" }) {
            message += ". Sequence numbers must grow per stream: drop --start-seq, or use another --stream"
        }
        if accepted == 0 { throw CommandFailure(message) }
        printError("warning: " + message)
    }

    /// The class index each sample's frames carry.
    private func classIndices(_ chosen: [Dataset.Sample], dataset: Dataset) throws -> [Int?] {
        let order = classes.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? dataset.classNames
        guard !order.isEmpty else { throw CommandFailure("--labelled: \(data) declares no classes; give --classes") }
        return try chosen.enumerated().map { index, sample in
            guard let label = sample.label else { throw CommandFailure("--labelled: sample \(index) of \(data) has no label") }
            let name = dataset.classNames[label]
            guard let position = order.firstIndex(of: name) else {
                throw CommandFailure("--labelled: class '\(name)' of sample \(index) is not in --classes \(order.joined(separator: ","))")
            }
            return position
        }
    }
}

/// CLOCK_MONOTONIC, ns: for pacing and durations.
private func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}


/// Sleeps until CLOCK_MONOTONIC reaches `deadline` ns (absolute, so pacing never drifts).
private func sleep(until deadline: UInt64) {
    var target = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, nil) == EINTR {}
}

/// The daemon as `send` sees it over the control socket: one stream's record and the drop
/// counters.
private struct DaemonView {
    struct Snapshot: Equatable {
        var lastSequence: UInt64?
        var streamFrames: Int
        var totalDrops: Int
        var drops: [String: Int]
        var modelChannels: Int?
    }

    let endpoint: String
    let stream: String
    let curve: CurveOptions

    /// The current record, or nil when the daemon does not answer.
    func snapshot() -> Snapshot? {
        guard let options = try? ControlOptions.parse(["--endpoint", endpoint, "--timeout", "1"] + curve.arguments),
            let status = try? controlRequest("status", options: options),
            let streams = try? controlRequest("streams", ["stream": .string(stream)], options: options)
        else { return nil }
        var record: JSONValue?
        if case .array(let list) = streams["streams"] ?? .null {
            record = list.first { $0["id"]?.stringValue == stream }
        }
        var drops: [String: Int] = [:]
        if case .object(let members) = status["drops"] ?? .null {
            for (reason, value) in members { drops[reason] = Int(value.numberValue ?? 0) }
        }
        return Snapshot(
            lastSequence: record?["last_sequence"]?.numberValue.map { UInt64($0) },
            streamFrames: Int(record?["frames"]?.numberValue ?? 0),
            totalDrops: Int(status["counters"]?["dropped"]?.numberValue ?? 0),
            drops: drops,
            modelChannels: status["model"]?["channels"]?.numberValue.map { Int($0) })
    }
}
