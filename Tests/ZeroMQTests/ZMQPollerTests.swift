import Testing
import ZeroMQ

@Suite("ZMQPoller")
struct ZMQPollerTests {
    @Test("poll reports which sockets are readable")
    func reportsReadableSockets() throws {
        let context = try ZMQContext()
        let idle = try ZMQSocket(.pull, context: context)
        try idle.bind("tcp://127.0.0.1:*")
        let pair = try ZMQTestPair(.pull, .push, context: context)
        let poller = ZMQPoller()
        let idleIndex = poller.register(idle)
        let busyIndex = poller.register(pair.bound)
        #expect(poller.count == 2)

        try pair.connected.send("hello".utf8)
        #expect(try poller.poll(timeout: ZMQTestTimeout.arrival) == 1)
        #expect(poller.isReadable(busyIndex))
        #expect(!poller.isReadable(idleIndex))
        #expect(poller.events(at: busyIndex) == .readable)

        var message = ZMQMessage()
        #expect(try pair.bound.receive(into: &message, dontWait: true))
        let (ready, waited) = try zmqElapsedMilliseconds { try poller.poll(timeout: 50) }
        #expect(ready == 0)
        #expect(waited >= 40 && waited < 2_000)
        #expect(!poller.isReadable(busyIndex))
    }

    @Test("poll reports writable sockets")
    func reportsWritableSockets() throws {
        let context = try ZMQContext()
        let pair = try ZMQTestPair(.pull, .push, context: context)
        let poller = ZMQPoller()
        let index = poller.register(pair.connected, for: [.writable])
        #expect(try poller.poll(timeout: ZMQTestTimeout.arrival) == 1)
        #expect(poller.events(at: index) == .writable)
    }
}
