import Testing
import ZeroMQ

@Suite("PUB/SUB")
struct ZMQPubSubTests {
    /// Publishes `[topic, []]` until the subscriber receives it, bounded to about 5 s, to get past
    /// ZeroMQ's slow-joiner window (a subscription takes a moment to reach the publisher).
    private func settle(_ pub: ZMQSocket, _ sub: ZMQSocket, topic: String) throws -> Bool {
        try sub.set(.receiveTimeout, to: 20)
        defer { try? sub.set(.receiveTimeout, to: ZMQTestTimeout.arrival) }
        for _ in 0..<250 {
            try pub.send(parts: [Array(topic.utf8), []])
            if let message = try sub.receiveMultipart(), message.parts.first == Array(topic.utf8) {
                return true
            }
        }
        return false
    }

    /// Receives until `last` arrives, returning the topics seen apart from `ignoring`.
    private func topics(
        from sub: ZMQSocket, until last: String, ignoring: String
    ) throws -> [String] {
        var topics: [String] = []
        while let message = try sub.receiveMultipart() {
            let topic = String(decoding: message.parts[0], as: UTF8.self)
            if topic == ignoring { continue }
            topics.append(topic)
            if topic == last { break }
        }
        return topics
    }

    @Test("subscribers receive only the topics they subscribed to")
    func topicFiltering() throws {
        let context = try ZMQContext()
        let pair = try ZMQTestPair(.pub, .sub, context: context)
        let (pub, sub) = (pair.bound, pair.connected)
        try sub.subscribe("a.".utf8)
        try #require(try settle(pub, sub, topic: "a.sync"))

        try pub.send(parts: [Array("b.hidden".utf8), [1]])
        try pub.send(parts: [Array("a.data".utf8), [2, 3]])
        try pub.send(parts: [Array("ab".utf8), [4]])
        try pub.send(parts: [Array("a.end".utf8), []])
        #expect(try topics(from: sub, until: "a.end", ignoring: "a.sync") == ["a.data", "a.end"])

        // Switch from "a." to "b."; the subscription changes travel in order on one connection.
        try sub.unsubscribe("a.".utf8)
        try sub.subscribe(Array("b.".utf8))
        try #require(try settle(pub, sub, topic: "b.sync"))
        try pub.send(parts: [Array("a.hidden".utf8), []])
        try pub.send(parts: [Array("b.end".utf8), []])
        #expect(try topics(from: sub, until: "b.end", ignoring: "b.sync") == ["b.end"])
    }

    @Test("an unsubscribed SUB socket receives nothing")
    func noSubscriptionNoMessages() throws {
        let context = try ZMQContext()
        let pair = try ZMQTestPair(.pub, .sub, context: context)
        try pair.connected.set(.receiveTimeout, to: ZMQTestTimeout.silence)
        for _ in 0..<5 { try pair.bound.send("x".utf8) }
        #expect(try pair.connected.receiveMultipart() == nil)
    }
}
