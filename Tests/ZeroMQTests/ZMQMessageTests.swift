import Testing
import ZeroMQ

@Suite("ZMQMessage")
struct ZMQMessageTests {
    @Test("a fresh message is empty")
    func freshMessageIsEmpty() {
        let message = ZMQMessage()
        let (count, part) = (message.count, message.part)
        #expect(count == 0)
        #expect(part == ZMQPart(bytes: [], hasMore: false))
        message.withUnsafeBytes { #expect($0.isEmpty) }
    }

    @Test("one message object keeps contents right across empty, inline and heap parts")
    func reuseAcrossSizes() throws {
        // 33 bytes and less live inside zmq_msg_t itself; larger parts are on libzmq's heap.
        let sizes = [1_000_000, 0, 33, 34, 1, 32, 70_000, 0, 5, 2_000_000, 33]
        let context = try ZMQContext()
        let pair = try ZMQTestPair(.pull, .push, context: context)
        let payloads = sizes.enumerated().map { zmqTestBytes(count: $1, seed: $0) }
        for payload in payloads { try pair.connected.send(payload) }

        var message = ZMQMessage()
        for payload in payloads {
            #expect(try pair.bound.receive(into: &message))
            let (count, hasMore) = (message.count, message.hasMore)
            #expect(count == payload.count)
            #expect(!hasMore)
            let matches = message.withUnsafeBytes { $0.elementsEqual(payload) }
            #expect(matches, "size \(payload.count)")
        }
    }

    @Test("withUnsafeBytes passes through the body's typed error")
    func withUnsafeBytesRethrows() throws {
        struct Stop: Error {}
        let message = ZMQMessage()
        #expect(throws: Stop.self) {
            try message.withUnsafeBytes { (_) throws(Stop) -> Int in throw Stop() }
        }
    }
}
