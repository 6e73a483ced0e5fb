import Foundation
import LSTMKit
import ZeroMQ

/// A SUB socket on the daemon's label endpoint that keeps every label received, by stream.
final class LabelSubscriber {
    let socket: ZMQSocket
    private(set) var all: [Label] = []
    /// By topic bytes: Swift `String` equality is canonical equivalence, stream ids are bytes.
    private var byStream: [[UInt8]: [Label]] = [:]
    /// Messages that were not labels as documented.
    private(set) var malformed: [String] = []
    /// Model events (`{"event":"model",…}`, published under the empty topic), in arrival order.
    private(set) var events: [JSONValue] = []

    init(context: ZMQContext) throws {
        socket = try ZMQSocket(.sub, context: context)
        try socket.set(.receiveHighWaterMark, to: 0)
        try socket.subscribe([UInt8]())
    }

    func connect(_ endpoint: String) throws { try socket.connect(endpoint) }

    /// Labels of `stream` received so far.
    func labels(of stream: String) -> [Label] { byStream[Array(stream.utf8)] ?? [] }

    /// Receives until nothing is waiting, or once for up to `timeout` seconds.
    /// - Returns: whether a message arrived.
    @discardableResult
    func poll(timeout: Double) throws -> Bool {
        try socket.set(.receiveTimeout, to: max(0, Int(timeout * 1000)))
        guard let message = try socket.receiveMultipart() else { return false }
        store(message)
        while let more = try socket.receiveMultipart(dontWait: true) { store(more) }
        return true
    }

    private func store(_ message: ZMQMultipartMessage) {
        guard message.partCount == 2 else {
            malformed.append("\(message.partCount) parts")
            return
        }
        // The empty topic carries model events (no stream id is empty).
        if message.parts[0].isEmpty {
            if let event = try? JSONValue.parse(String(decoding: message.parts[1], as: UTF8.self)), event["event"] != nil {
                events.append(event)
            } else {
                malformed.append("an empty topic without a model event")
            }
            return
        }
        do {
            let label = try Label(topic: message.parts[0], body: message.parts[1])
            all.append(label)
            byStream[message.parts[0], default: []].append(label)
        } catch {
            malformed.append("\(error)")
        }
    }

    /// Waits until `stream` has at least `count` labels.
    /// - Returns: whether it has them within `timeout` seconds.
    func waitFor(stream: String, count: Int, timeout: Double = Timeouts.arrival) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while labels(of: stream).count < count {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { return false }
            try poll(timeout: min(remaining, 0.1))
        }
        return true
    }

    /// Waits until every stream in `counts` has at least its number of labels.
    func waitFor(_ counts: KeyValuePairs<String, Int>, timeout: Double = Timeouts.arrival) throws -> Bool {
        try waitFor(counts.map { ($0.key, $0.value) }, timeout: timeout)
    }

    /// Waits until every stream in `counts` has at least its number of labels.
    func waitFor(_ counts: [(String, Int)], timeout: Double = Timeouts.arrival) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        for (stream, count) in counts {
            guard try waitFor(stream: stream, count: count, timeout: max(0, deadline.timeIntervalSinceNow)) else { return false }
        }
        return true
    }

    /// Keeps receiving for `seconds` (to catch labels that must not come).
    func settle(_ seconds: Double = 0.1) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while deadline.timeIntervalSinceNow > 0 { try poll(timeout: deadline.timeIntervalSinceNow) }
    }
}
