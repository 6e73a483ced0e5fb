import Foundation
import Testing
import ZeroMQ

@Suite("Errors and would-block")
struct ZMQErrorTests {
    @Test("a bad endpoint throws with the raw code, message and operation")
    func badEndpoint() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(.pull, context: context)
        let bindError = #expect(throws: ZMQError.self) { try socket.bind("bogus://x") }
        #expect(bindError?.code == EPROTONOSUPPORT)
        #expect(bindError?.operation == "zmq_bind(bogus://x)")
        #expect(bindError?.message.isEmpty == false)
        #expect(bindError?.isTerminated == false)
        #expect(bindError?.description.contains("bogus://x") == true)

        let connectError = #expect(throws: ZMQError.self) { try socket.connect("tcp://") }
        #expect(connectError?.code == EINVAL)
        #expect(try socket.lastEndpoint == nil)
    }

    @Test("binding an endpoint in use throws EADDRINUSE")
    func addressInUse() throws {
        let context = try ZMQContext()
        let first = try ZMQSocket(.pull, context: context)
        let second = try ZMQSocket(.pull, context: context)
        let endpoint = try first.bind("tcp://127.0.0.1:*")
        let error = #expect(throws: ZMQError.self) { try second.bind(endpoint) }
        #expect(error?.code == EADDRINUSE)
    }

    @Test("would-block returns false or nil instead of throwing")
    func wouldBlockIsAValue() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(.pull, context: context)
        try pull.bind("tcp://127.0.0.1:*")
        var message = ZMQMessage()
        #expect(try pull.receive(into: &message, dontWait: true) == false)
        #expect(try pull.receiveMultipart(dontWait: true) == nil)

        // A PUSH without peers cannot queue anything.
        let push = try ZMQSocket(.push, context: context)
        #expect(try push.send([1, 2, 3], dontWait: true) == false)
        #expect(try push.send(parts: [[1], [2]], dontWait: true) == false)
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        #expect(try push.send(empty, dontWait: true) == false)
    }

    @Test("receive and send timeouts return false after about the timeout")
    func timeoutsAreValues() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(.pull, context: context)
        try pull.bind("tcp://127.0.0.1:*")
        try pull.set(.receiveTimeout, to: 50)
        var message = ZMQMessage()
        let (received, receiveWait) = try zmqElapsedMilliseconds {
            try pull.receive(into: &message)
        }
        #expect(received == false)
        #expect(receiveWait >= 40 && receiveWait < 2_000)

        let push = try ZMQSocket(.push, context: context)
        try push.set(.sendTimeout, to: 50)
        let (sent, sendWait) = try zmqElapsedMilliseconds { try push.send([1]) }
        #expect(sent == false)
        #expect(sendWait >= 40 && sendWait < 2_000)
    }

    @Test("an option the socket type does not support throws EINVAL")
    func optionForWrongSocketType() throws {
        let context = try ZMQContext()
        let push = try ZMQSocket(.push, context: context)
        let error = #expect(throws: ZMQError.self) { try push.subscribe("x".utf8) }
        #expect(error?.code == EINVAL)
        #expect(error?.operation == "zmq_setsockopt(ZMQ_SUBSCRIBE)")
    }

    @Test("a SUB socket cannot send")
    func subCannotSend() throws {
        let context = try ZMQContext()
        let sub = try ZMQSocket(.sub, context: context)
        let error = #expect(throws: ZMQError.self) { try sub.send([1]) }
        #expect(error?.code == ENOTSUP)
    }
}
