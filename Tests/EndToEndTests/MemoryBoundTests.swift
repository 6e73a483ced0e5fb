import Foundation
import LSTMKit
import Testing
import ZeroMQ

/// Attack 3: valid maximum-size frames (T = 4096) drove RSS to 5.0 GB in 9 s, because the ingest
/// HWM counted 100,000 messages whatever their size. The queue is now bounded in bytes.
@Suite struct MemoryBoundTests {
    /// The daemon's peak resident set (VmHWM), bytes.
    static func peakRSS(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
        let kilobytes = try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
        return kilobytes * 1024
    }

    /// The serving loop stalls (the debug hook), so nothing leaves the queue; one producer floods
    /// maximum frames until its queue is full for a second or 200 MB went out. The daemon's peak
    /// RSS grows by less than its 16 MiB budget plus 48 MiB of slack; with the old
    /// 100,000-message HWM it queued all 200 MB (measured: 187 MiB of growth).
    @Test(arguments: [false, true]) func aFloodOfMaximumFramesStaysWithinTheIngestBudget(oldHWM: Bool) throws {
        let budget = 16 << 20
        let daemon = try DaemonProcess(
            arguments: ["--ingest-memory-limit", "\(budget)", "--stop-drain-timeout", "0"] + (oldHWM ? ["--receive-hwm", "100000"] : []),
            environment: ["LSTMD_DEBUG_STALL_AFTER_MS": "2000"])
        defer { daemon.stop() }
        try #require(try daemon.waitForLog { $0.contains("stalls until stopped") })
        let channels = daemon.channels
        let before = try Self.peakRSS(daemon.process.processIdentifier)
        let producer = try ZMQSocket(.push, context: daemon.context)
        defer { producer.close() }
        try producer.set(.sendHighWaterMark, to: 4)
        try producer.set(.linger, to: 0)
        try producer.connect(daemon.ingestEndpoint)
        var generator = SplitMix64(seed: 3)
        var stream = TestStream(id: "flood", channels: channels)
        let frame = stream.frame(timesteps: 4096, generator: &generator)
        var sent = 0
        var blockedSince: Date?
        let deadline = Date().addingTimeInterval(30)
        while sent < 2000, Date() < deadline {
            var parts = frame
            parts[1] = WireHeader(channels: channels, timesteps: 4096, sequence: UInt64(sent), timestamp: 0, label: nil).bytes
            if try producer.send(parts: parts, dontWait: true) {
                sent += 1
                blockedSince = nil
            } else {
                if let since = blockedSince, Date().timeIntervalSince(since) > 1 { break }
                if blockedSince == nil { blockedSince = Date() }
                usleep(1000)
            }
        }
        let growth = try Self.peakRSS(daemon.process.processIdentifier) - before
        let frameBytes = 4096 * channels * 4
        print("flood\(oldHWM ? " (receive_hwm 100000)" : ""): \(sent) frames of \(frameBytes) bytes sent; daemon peak RSS grew \(growth >> 20) MiB (budget \(budget >> 20) MiB)")
        if oldHWM {
            // The override is honoured: the queue takes the whole flood (the attack's setting).
            #expect(sent == 2000 && growth > 150 << 20, "\(sent) frames, \(growth >> 20) MiB")
        } else {
            #expect(sent < 2000, "the producer was never held back: \(sent) frames went out")
            #expect(growth < budget + 48 << 20, "peak RSS grew \(growth >> 20) MiB")
        }
    }
}
