import ArgumentParser
import Daemon
import Foundation
import LSTMTraining
import ZeroMQ

/// `lstmctl send --endpoint E --stream ID --data FILE.ts`: streams a dataset to lstmd as frames.
struct Send: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream the samples of a .ts (or .csv) file to lstmd as frames.",
        discussion: """
            Every sample's timesteps go out in order, one sample after another, on one stream, in \
            frames of --frame timesteps (a sample's last frame may be shorter). Sequence numbers \
            start at --start-seq and grow by 1 per frame; timestamps are CLOCK_REALTIME ns at send. \
            With --labelled each frame carries its sample's class index: the position of its class \
            in --classes, or in the file's own class order. Every frame is delivered before the \
            command exits; it fails (exit 1) when the daemon does not take them within --timeout \
            seconds. A summary goes to standard error.
            """)

    @Option(help: "The daemon's ingest (PULL) endpoint.")
    var endpoint = "tcp://127.0.0.1:5555"

    @Option(help: "The stream id (1-255 bytes of UTF-8).")
    var stream: String

    @Option(help: "A UEA/UCR .ts file (or the documented CSV layout).")
    var data: String

    @Option(help: "Timesteps per frame.")
    var frame = 10

    @Option(help: "Frames per second (default: as fast as the daemon takes them).")
    var rate: Double?

    @Option(help: "Sequence number of the first frame.")
    var startSeq: UInt64 = 0

    @Flag(help: "Send each frame with its sample's class index (the labelled flag).")
    var labelled = false

    @Option(help: "Comma-separated class names, in the model's order, for --labelled (default: the file's order).")
    var classes: String?

    @Option(help: "Send only the first N samples.")
    var samples: Int?

    @Option(name: .customLong("repeat"), help: "Send the samples N times (sequence numbers keep growing).")
    var repeatCount = 1

    @Option(help: "Seconds to wait for the daemon to take a frame, and to flush the last ones.")
    var timeout = 10.0

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

        let c = dataset.channels
        let streamID = Array(stream.utf8)
        let milliseconds = max(1, Int(timeout * 1000))
        var payload = [UInt8](repeating: 0, count: frame * c * 4)
        var sequence = startSeq
        var frames = 0, timesteps = 0
        let started = monotonicNanoseconds()
        let sendingEnded: UInt64
        do {
            let context = try ZMQContext()
            let socket = try ZMQSocket(.push, context: context)
            // Queue frames only on a completed connection, so a missing daemon shows as a send
            // timeout instead of frames piling up in a pipe to nowhere.
            try socket.set(.immediate, to: true)
            try socket.set(.sendTimeout, to: milliseconds)
            // Sockets default to linger 0: without this, closing would discard queued frames.
            try socket.set(.linger, to: milliseconds)
            try socket.connect(endpoint)
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
            "sent \(frames) frames (\(timesteps) timesteps, \(sampleCount) sample\(sampleCount == 1 ? "" : "s")) to stream \(stream) "
                + "in \(String(format: "%.3f", seconds)) s (\(String(format: "%.1f", Double(frames) / max(seconds, 1e-9))) frames/s), "
                + "sequence \(startSeq)...\(sequence &- 1)")
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

/// CLOCK_REALTIME, ns since the epoch: the frame timestamp.
private func realtimeNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// Sleeps until CLOCK_MONOTONIC reaches `deadline` ns (absolute, so pacing never drifts).
private func sleep(until deadline: UInt64) {
    var target = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, nil) == EINTR {}
}
