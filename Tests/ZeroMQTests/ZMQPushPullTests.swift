import Foundation
import Testing
import ZeroMQ

@Suite("PUSH/PULL")
struct ZMQPushPullTests {
    /// Parts covering empty, inline (≤ 33 bytes) and heap-allocated (> 33 bytes) messages.
    static let parts: [[UInt8]] = [
        [], [1, 2, 3], zmqTestBytes(count: 33, seed: 1), zmqTestBytes(count: 34, seed: 2),
        zmqTestBytes(count: 100_000, seed: 3), Array("last".utf8),
    ]

    @Test("multipart round trip", arguments: ["tcp", "ipc"])
    func multipartRoundTrip(transport: String) throws {
        let directory = try ZMQTemporaryDirectory()
        let endpoint = transport == "tcp" ? "tcp://127.0.0.1:*" : "ipc://\(directory.path)/pipe"
        let context = try ZMQContext()
        let pair = try ZMQTestPair(.pull, .push, context: context, endpoint: endpoint)
        #expect(pair.endpoint.hasPrefix("\(transport)://"))
        if transport == "tcp" { #expect(!pair.endpoint.hasSuffix(":*")) }

        #expect(try pair.connected.send(parts: Self.parts))
        let received = try #require(try pair.bound.receiveMultipart())
        #expect(received.parts == Self.parts)
        #expect(received.partCount == Self.parts.count)
        #expect(!received.isTruncated)

        // The same message through the allocation-free path.
        try pair.connected.send(parts: Self.parts)
        var message = ZMQMessage()
        for (index, expected) in Self.parts.enumerated() {
            #expect(try pair.bound.receive(into: &message))
            let (count, part) = (message.count, message.part)
            #expect(count == expected.count)
            #expect(part == ZMQPart(bytes: expected, hasMore: index < Self.parts.count - 1))
        }
    }

    @Test("parts beyond maxParts are drained and counted")
    func tooManyPartsAreDrained() throws {
        let context = try ZMQContext()
        let pair = try ZMQTestPair(.pull, .push, context: context)
        let parts = (0..<10).map { [UInt8($0)] }
        try pair.connected.send(parts: parts)
        try pair.connected.send(parts: [[42]])

        let truncated = try #require(try pair.bound.receiveMultipart(maxParts: 3))
        #expect(truncated.parts == [[0], [1], [2]])
        #expect(truncated.partCount == 10)
        #expect(truncated.isTruncated)

        let next = try #require(try pair.bound.receiveMultipart(maxParts: 3))
        #expect(next == ZMQMultipartMessage(parts: [[42]], partCount: 1))
        #expect(!next.isTruncated)

        try pair.connected.send(parts: [[1], [2]])
        let counted = try #require(try pair.bound.receiveMultipart(maxParts: 0))
        #expect(counted.parts.isEmpty)
        #expect(counted.partCount == 2)
    }

    @Test("byte sequences of every kind are sent intact")
    func sendsByteSequences() throws {
        let context = try ZMQContext()
        let pair = try ZMQTestPair(.pull, .push, context: context)
        let bytes = zmqTestBytes(count: 50, seed: 9)
        try pair.connected.send(bytes[10..<20], more: true)
        try pair.connected.send("topic".utf8, more: true)
        try pair.connected.send(Data(bytes), more: true)
        try pair.connected.send(bytes.lazy.map { $0 ^ 0xFF }, more: true)  // not contiguous
        _ = try bytes.withUnsafeBytes { try pair.connected.send($0) }

        let received = try #require(try pair.bound.receiveMultipart())
        #expect(received.parts == [
            Array(bytes[10..<20]), Array("topic".utf8), bytes, bytes.map { $0 ^ 0xFF }, bytes,
        ])
    }
}
