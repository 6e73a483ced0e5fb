internal import CZeroMQ
import Synchronization

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif

/// A ZeroMQ context: the I/O threads and the registry that sockets are created from.
///
/// A context is thread-safe and can be shared freely between threads and tasks; sockets are not
/// (see ``ZMQSocket``). Each socket keeps its context alive, so the context is terminated
/// (`zmq_ctx_term`) in `deinit` only after every socket made from it has been closed.
///
/// Sockets made from a context start with a linger period of 0 (`ZMQ_BLOCKY` is off): closing a
/// socket discards messages it has not sent yet, and terminating the context never waits for
/// unreachable peers. Set ``ZMQSocketOption/linger`` on a socket that must flush before closing.
///
/// To stop threads blocked in ``ZMQSocket/receive(into:dontWait:)``, ``ZMQPoller/poll(timeout:)``
/// or a send, call ``shutdown()``: the blocked calls throw a ``ZMQError`` whose
/// ``ZMQError/isTerminated`` is `true`, and each thread then closes its socket.
public final class ZMQContext: @unchecked Sendable {
    // @unchecked Sendable: `handle` is written once in `init` and never changed, and libzmq
    // contexts are thread-safe: zmq_socket, zmq_ctx_set/get and zmq_ctx_shutdown may be called
    // from any thread at the same time (zmq_ctx_new(3)). zmq_ctx_term runs only in deinit, when no
    // other reference (and so no socket) remains.
    let handle: UnsafeMutableRawPointer

    /// Creates a context.
    ///
    /// - Parameters:
    ///   - ioThreads: The number of libzmq I/O threads (`ZMQ_IO_THREADS`); one handles about a
    ///     gigabyte per second of traffic.
    ///   - maxSockets: The maximum number of open sockets (`ZMQ_MAX_SOCKETS`), or `nil` for
    ///     libzmq's default (1023). A closed socket's slot is freed asynchronously, shortly after
    ///     ``ZMQSocket/close()``.
    /// - Throws: ``ZMQError`` when libzmq cannot create the context or rejects a value.
    public init(ioThreads: Int = 1, maxSockets: Int? = nil) throws(ZMQError) {
        guard let handle = zmq_ctx_new() else {
            throw ZMQError(code: zmq_errno(), operation: "zmq_ctx_new")
        }
        do {
            try Self.set(handle, ZMQ_IO_THREADS, ioThreads, "zmq_ctx_set(ZMQ_IO_THREADS)")
            if let maxSockets {
                try Self.set(handle, ZMQ_MAX_SOCKETS, maxSockets, "zmq_ctx_set(ZMQ_MAX_SOCKETS)")
            }
            try Self.set(handle, ZMQ_BLOCKY, 0, "zmq_ctx_set(ZMQ_BLOCKY)")
        } catch {
            zmq_ctx_term(handle)
            throw error
        }
        self.handle = handle
    }

    private static func set(
        _ handle: UnsafeMutableRawPointer, _ option: Int32, _ value: Int, _ operation: String
    ) throws(ZMQError) {
        let value = try zmqInt32(value, operation)
        try zmqCheck(operation) { zmq_ctx_set(handle, option, value) }
    }

    /// Shuts the context down without waiting.
    ///
    /// Every blocking call on a socket of this context, now or later, fails with a ``ZMQError``
    /// whose ``ZMQError/isTerminated`` is `true`, and no new socket can be created. Sockets must
    /// still be closed (or released) by their owners. Calling it again has no effect.
    public func shutdown() {
        // zmq_ctx_shutdown fails only for an invalid context handle, which cannot happen here.
        _ = zmq_ctx_shutdown(handle)
    }

    /// Terminates the context now (`zmq_ctx_term`): waits until every socket is closed and
    /// their pending messages are sent or their linger period has passed. Call it once all
    /// sockets are closed; `deinit` then does nothing more.
    public func terminate() {
        guard !terminated.exchange(true, ordering: .acquiringAndReleasing) else { return }
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    private let terminated = Atomic<Bool>(false)

    deinit {
        guard !terminated.load(ordering: .acquiring) else { return }
        // Every socket holds a strong reference to its context, so all are closed by now and, with
        // ZMQ_BLOCKY off, zmq_ctx_term returns at once. It may be interrupted by a signal (EINTR).
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }
}
