import Dispatch
import Foundation
import Synchronization
import Testing
import ZeroMQ

/// What a receiving thread ended with, shared with the test.
private final class ZMQThreadOutcome: Sendable {
    private let state = Mutex<(received: Bool?, error: ZMQError?)>((nil, nil))
    let ready = DispatchSemaphore(value: 0)
    let done = DispatchSemaphore(value: 0)

    func finish(received: Bool? = nil, error: ZMQError? = nil) {
        state.withLock { $0 = (received, error) }
        done.signal()
    }

    var received: Bool? { state.withLock { $0.received } }
    var error: ZMQError? { state.withLock { $0.error } }
}

@Suite("ZMQContext and lifecycle")
struct ZMQContextTests {
    @Test("shutdown unblocks a receive blocked on another thread with ETERM")
    func shutdownUnblocksReceive() throws {
        let context = try ZMQContext()
        let outcome = ZMQThreadOutcome()
        let thread = Thread {
            do throws(ZMQError) {
                // The socket lives on this thread only; the context is shared.
                let pull = try ZMQSocket(.pull, context: context)
                try pull.set(.receiveTimeout, to: 10_000)  // a backstop, far beyond the test's wait
                try pull.bind("tcp://127.0.0.1:*")
                outcome.ready.signal()
                var message = ZMQMessage()
                outcome.finish(received: try pull.receive(into: &message))
            } catch {
                outcome.ready.signal()
                outcome.finish(error: error)
            }
        }
        thread.start()
        try #require(outcome.ready.wait(timeout: .now() + 5) == .success)
        // The thread is inside or about to enter zmq_msg_recv: either way shutdown must end the
        // call with ETERM (no sleep to make the first case likelier: nothing here may wait on time).

        let (finished, waited) = zmqElapsedMilliseconds {
            context.shutdown()
            return outcome.done.wait(timeout: .now() + 5)
        }
        try #require(finished == .success)
        #expect(waited < 1_000)
        #expect(outcome.received == nil)
        #expect(outcome.error?.isTerminated == true)
    }

    @Test("after shutdown, new sockets and calls on existing ones fail with ETERM")
    func shutdownTerminatesEverything() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(.pull, context: context)
        try pull.bind("tcp://127.0.0.1:*")
        let poller = ZMQPoller()
        poller.register(pull)
        context.shutdown()
        context.shutdown()  // idempotent

        var message = ZMQMessage()
        let receiveError = #expect(throws: ZMQError.self) { try pull.receive(into: &message) }
        #expect(receiveError?.isTerminated == true)
        let pollError = #expect(throws: ZMQError.self) { try poller.poll(timeout: 1_000) }
        #expect(pollError?.isTerminated == true)
        let socketError = #expect(throws: ZMQError.self) { try ZMQSocket(.push, context: context) }
        #expect(socketError?.isTerminated == true)
    }

    @Test("close is idempotent and releasing everything does not hang")
    func closeIsIdempotent() throws {
        let context = try ZMQContext(ioThreads: 2, maxSockets: 16)
        let push = try ZMQSocket(.push, context: context)
        try push.connect("tcp://127.0.0.1:9")  // never answers; a queued message must not block
        try push.send([1, 2, 3])
        #expect(!push.isClosed)
        push.close()
        push.close()
        #expect(push.isClosed)
        #expect(push.type == .push)
        #expect(push.context === context)
    }

    @Test("the socket limit is enforced")
    func maxSockets() throws {
        let context = try ZMQContext(maxSockets: 1)
        let first = try ZMQSocket(.pair, context: context)
        let error = #expect(throws: ZMQError.self) { try ZMQSocket(.pair, context: context) }
        #expect(error?.code == EMFILE)
        first.close()  // its slot is freed later, by libzmq's reaper thread
    }

    @Test("an invalid I/O thread count throws")
    func invalidIOThreads() {
        let error = #expect(throws: ZMQError.self) { try ZMQContext(ioThreads: -1) }
        #expect(error?.code == EINVAL)
    }

    @Test("the library version is libzmq 4")
    func version() {
        let version = ZMQVersion.current
        #expect(version.major == 4)
        #expect(version >= ZMQVersion(major: 4, minor: 0, patch: 0))
        #expect(version.description == "\(version.major).\(version.minor).\(version.patch)")
    }

    @Test("socket types are described by their libzmq names")
    func socketTypeNames() throws {
        #expect(ZMQSocketType.allCases.map(\.description) == [
            "PAIR", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PULL", "PUSH", "XPUB", "XSUB",
        ])
        let context = try ZMQContext()
        for type in ZMQSocketType.allCases { _ = try ZMQSocket(type, context: context) }
    }
}
