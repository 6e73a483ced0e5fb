import ArgumentParser
import Foundation
import Synchronization
import Wire
import ZeroMQ

/// The transport floor for `bench e2e`: a relay that does nothing but forward each frame's
/// timestamp as a label (PULL → PUB, same tcp loopback sockets, same load generator and
/// subscriber, same offered rate). Its frame-to-label latency is what any daemon on this machine
/// pays before classifying anything.
final class TransportRelay: Sendable {
    private let stopFlag = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private let ready = DispatchSemaphore(value: 0)

    init(ingest: String, publish: String) {
        let thread = Thread { [self] in
            let context = try! ZMQContext()
            let pull = try! ZMQSocket(.pull, context: context)
            let pub = try! ZMQSocket(.pub, context: context)
            try! pull.set(.receiveTimeout, to: 100)
            try! pull.set(.receiveHighWaterMark, to: 10_000)
            try! pub.set(.sendHighWaterMark, to: 100_000)
            try! pull.set(.linger, to: 0)
            try! pub.set(.linger, to: 0)
            try! pull.bind(ingest)
            try! pub.bind(publish)
            ready.signal()
            while !stopFlag.load(ordering: .acquiring) {
                guard let message = try? pull.receiveMultipart(maxParts: 3), message.parts.count == 3 else { continue }
                let timestamp = message.parts[1].withUnsafeBytes { raw -> Int64 in
                    guard case .success(let header) = FrameHeader.parse(raw) else { return 0 }
                    return header.timestamp
                }
                let label = Array("{\"timestamp_ns\":\(timestamp)}".utf8)
                _ = try? message.parts[0].withUnsafeBytes { try pub.send($0, more: true) }
                _ = try? label.withUnsafeBytes { try pub.send($0) }
            }
            pull.close()
            pub.close()
            done.signal()
        }
        thread.start()
        ready.wait()
    }

    func stop() {
        stopFlag.store(true, ordering: .releasing)
        done.wait()
    }
}

extension BenchE2E {
    /// Frame-to-label latency through `TransportRelay` at `rate` frames/s.
    func relayLatency(
        endpoints: [String], streams: Int, timesteps: Int, rate: Double
    ) throws -> (p50: Double, p99: Double, p999: Double) {
        let relay = TransportRelay(ingest: endpoints[0], publish: endpoints[1])
        defer { relay.stop() }
        let load = LoadGenerator(endpoint: endpoints[0], streams: streams, timesteps: timesteps, channels: channels)
        let subscriber = LabelLatencyCollector(endpoint: endpoints[1])
        usleep(300_000)  // connect and SUB join
        try load.send(frames: Int(rate * seconds), rate: rate)
        usleep(300_000)
        return percentiles(subscriber.stop())
    }
}
