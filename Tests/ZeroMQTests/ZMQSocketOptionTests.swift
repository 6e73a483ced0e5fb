import Foundation
import Testing
import ZeroMQ

@Suite("Socket options")
struct ZMQSocketOptionTests {
    @Test("numeric options read back what was set", arguments: [
        (ZMQSocketOption<Int>.sendHighWaterMark, 12_345),
        (.receiveHighWaterMark, 54_321),
        (.maxMessageSize, 5_000_000_000),  // needs the 64-bit width
        (.linger, 250),
        (.receiveTimeout, 1_500),
        (.sendTimeout, 2_500),
        (.reconnectInterval, 10),
        (.reconnectIntervalMax, 5_000),
    ])
    func numericRoundTrip(option: ZMQSocketOption<Int>, value: Int) throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(.dealer, context: context)
        try socket.set(option, to: value)
        #expect(try socket.value(of: option) == value, "\(option)")
    }

    @Test("switch options read back what was set", arguments: [
        ZMQSocketOption<Bool>.immediate, .ipv6, .conflate,
    ])
    func switchRoundTrip(option: ZMQSocketOption<Bool>) throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(.pull, context: context)
        #expect(try socket.value(of: option) == false)
        try socket.set(option, to: true)
        #expect(try socket.value(of: option) == true)
        try socket.set(option, to: false)
        #expect(try socket.value(of: option) == false)
    }

    @Test("defaults: linger 0 (context not blocky), no size limit, no timeouts")
    func defaults() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(.push, context: context)
        #expect(try socket.value(of: .linger) == 0)
        #expect(try socket.value(of: .maxMessageSize) == -1)
        #expect(try socket.value(of: .receiveTimeout) == -1)
        #expect(try socket.value(of: .sendHighWaterMark) == 1_000)
    }

    @Test("a value too large for a C int throws EINVAL")
    func outOfRangeValue() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(.push, context: context)
        let error = #expect(throws: ZMQError.self) {
            try socket.set(.sendTimeout, to: Int(Int32.max) + 1)
        }
        #expect(error?.code == EINVAL)
        #expect(error?.operation.contains("ZMQ_SNDTIMEO") == true)
    }

    @Test("maxMessageSize drops an oversize message; a later valid one still arrives")
    func maxMessageSize() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(.pull, context: context)
        try pull.set(.maxMessageSize, to: 1_024)
        try pull.set(.receiveTimeout, to: ZMQTestTimeout.silence)
        let endpoint = try pull.bind("tcp://127.0.0.1:*")
        let push = try ZMQSocket(.push, context: context)
        try push.set(.reconnectInterval, to: 10)  // the receiver drops the connection
        try push.connect(endpoint)

        try push.send([UInt8](repeating: 1, count: 2_048))
        var message = ZMQMessage()
        #expect(try pull.receive(into: &message) == false)

        try pull.set(.receiveTimeout, to: ZMQTestTimeout.arrival)
        let limit = zmqTestBytes(count: 1_024, seed: 4)  // exactly at the limit is accepted
        try push.send(limit)
        #expect(try pull.receive(into: &message))
        let received = message.bytes
        #expect(received == limit)
    }
}
