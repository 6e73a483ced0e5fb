internal import CZeroMQ

/// The events a ``ZMQPoller`` waits for and reports.
public struct ZMQPollEvents: OptionSet, Sendable, Hashable {
    /// The raw `ZMQ_POLLIN`/`ZMQ_POLLOUT` bits.
    public let rawValue: Int16

    /// Creates a set from raw `ZMQ_POLL*` bits.
    public init(rawValue: Int16) {
        self.rawValue = rawValue
    }

    /// At least one message part can be received without blocking (`ZMQ_POLLIN`).
    public static let readable = ZMQPollEvents(rawValue: Int16(ZMQ_POLLIN))
    /// At least one message part can be sent without blocking (`ZMQ_POLLOUT`).
    public static let writable = ZMQPollEvents(rawValue: Int16(ZMQ_POLLOUT))
}

/// Waits on several sockets at once (`zmq_poll`).
///
/// Register sockets once, then poll in a loop and ask which are ready by the index
/// ``register(_:for:)`` returned; polling allocates nothing.
///
/// ```swift
/// let poller = ZMQPoller()
/// let data = poller.register(pull)
/// let control = poller.register(router)
/// while try poller.poll(timeout: 100) >= 0 {
///     if poller.isReadable(data) { … }
///     if poller.isReadable(control) { … }
/// }
/// ```
///
/// The poller keeps its sockets alive; like them it belongs to one thread. Polling a socket that
/// was closed is a programming error and stops the process.
public final class ZMQPoller {
    private var sockets: [ZMQSocket] = []
    private var items: [zmq_pollitem_t] = []

    /// Creates a poller with no sockets.
    public init() {}

    /// The number of registered sockets.
    public var count: Int { sockets.count }

    /// Adds a socket to wait on.
    ///
    /// - Parameters:
    ///   - socket: The socket; the poller keeps it alive.
    ///   - events: What to wait for; readable by default.
    /// - Returns: The socket's index, for ``events(at:)`` and ``isReadable(_:)``.
    @discardableResult
    public func register(_ socket: ZMQSocket, for events: ZMQPollEvents = .readable) -> Int {
        sockets.append(socket)
        items.append(
            zmq_pollitem_t(socket: socket.liveHandle, fd: 0, events: events.rawValue, revents: 0))
        return sockets.count - 1
    }

    /// Waits until at least one registered socket is ready or the timeout expires.
    ///
    /// A signal interrupting the wait restarts it with the full timeout.
    ///
    /// - Parameter timeout: The longest wait in milliseconds; 0 returns at once, -1 waits forever.
    /// - Returns: The number of ready sockets; 0 when the timeout expired.
    /// - Throws: ``ZMQError``; ``ZMQError/isTerminated`` after ``ZMQContext/shutdown()``.
    public func poll(timeout: Int) throws(ZMQError) -> Int {
        for index in items.indices {
            items[index].socket = sockets[index].liveHandle
            items[index].revents = 0
        }
        let count = Int32(items.count)
        let ready = try items.withUnsafeMutableBufferPointer { buffer in
            Result { () throws(ZMQError) in
                try zmqCheck("zmq_poll") { zmq_poll(buffer.baseAddress, count, timeout) }
            }
        }.get()
        return Int(ready)
    }

    /// The events the last ``poll(timeout:)`` reported for a socket.
    ///
    /// - Parameter index: The index ``register(_:for:)`` returned.
    public func events(at index: Int) -> ZMQPollEvents {
        ZMQPollEvents(rawValue: items[index].revents)
    }

    /// `true` when the last ``poll(timeout:)`` found the socket at `index` readable.
    ///
    /// - Parameter index: The index ``register(_:for:)`` returned.
    public func isReadable(_ index: Int) -> Bool {
        events(at: index).contains(.readable)
    }
}

/// A poller holds sockets, which are not thread-safe.
@available(*, unavailable)
extension ZMQPoller: Sendable {}
