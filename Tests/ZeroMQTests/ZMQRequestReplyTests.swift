import Foundation
import Testing
import ZeroMQ

@Suite("REQ/REP and ROUTER/DEALER")
struct ZMQRequestReplyTests {
    @Test("REQ/REP request and reply")
    func requestReply() throws {
        let context = try ZMQContext()
        let pair = try ZMQTestPair(.rep, .req, context: context)
        let (rep, req) = (pair.bound, pair.connected)
        for round in 0..<3 {
            try req.send(Array("ping \(round)".utf8))
            let request = try #require(try rep.receiveMultipart())
            #expect(request.parts == [Array("ping \(round)".utf8)])
            try rep.send(Array("pong \(round)".utf8))
            let reply = try #require(try req.receiveMultipart())
            #expect(reply.parts == [Array("pong \(round)".utf8)])
        }
    }

    @Test("REQ sending twice is an invalid-state error")
    func requestTwiceIsInvalidState() throws {
        let context = try ZMQContext()
        let pair = try ZMQTestPair(.rep, .req, context: context)
        try pair.connected.send("one".utf8)
        let error = #expect(throws: ZMQError.self) { try pair.connected.send("two".utf8) }
        #expect(error?.isInvalidState == true)
        #expect(error?.operation == "zmq_send")
    }

    @Test("ROUTER sees the DEALER's routing id and routes the reply back")
    func routerDealer() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(.router, context: context)
        let dealer = try ZMQSocket(.dealer, context: context)
        for socket in [router, dealer] {
            try socket.set(.receiveTimeout, to: ZMQTestTimeout.arrival)
        }
        try router.set(.routerMandatory, to: true)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        try dealer.setRoutingID("client-1".utf8)
        try dealer.connect(endpoint)

        try dealer.send(parts: [Array("hello".utf8)])
        let request = try #require(try router.receiveMultipart())
        #expect(request.parts == [Array("client-1".utf8), Array("hello".utf8)])

        try router.send(parts: [Array("client-1".utf8), Array("ack".utf8)])
        let reply = try #require(try dealer.receiveMultipart())
        #expect(reply.parts == [Array("ack".utf8)])

        // With ZMQ_ROUTER_MANDATORY an unknown peer is an error rather than a silent drop.
        let error = #expect(throws: ZMQError.self) {
            try router.send(parts: [Array("nobody".utf8), Array("x".utf8)])
        }
        #expect(error?.code == EHOSTUNREACH)
    }
}
