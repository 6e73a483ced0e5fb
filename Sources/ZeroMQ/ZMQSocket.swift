internal import CZeroMQ

/// A ZeroMQ socket.
///
/// A socket is not thread-safe, so `ZMQSocket` is not `Sendable`: create it, use it and close it
/// on one thread (in the daemon, a thread it owns rather than the cooperative pool, because
/// receiving blocks). It keeps its ``context`` alive and closes itself in `deinit`.
///
/// ```swift
/// let context = try ZMQContext()
/// let pull = try ZMQSocket(.pull, context: context)
/// try pull.set(.receiveHighWaterMark, to: 100_000)
/// let endpoint = try pull.bind("tcp://127.0.0.1:*")   // "tcp://127.0.0.1:41234"
/// var message = ZMQMessage()
/// while try pull.receive(into: &message) { … }
/// ```
///
/// Using a socket after ``close()`` is a programming error and stops the process.
public final class ZMQSocket {
    /// The context this socket was created from; kept alive as long as the socket.
    public let context: ZMQContext
    /// The pattern this socket takes part in.
    public let type: ZMQSocketType
    private var handle: UnsafeMutableRawPointer?

    /// Creates a socket.
    ///
    /// - Parameters:
    ///   - type: The pattern the socket takes part in.
    ///   - context: The context to create it from.
    /// - Throws: ``ZMQError``; ``ZMQError/isTerminated`` when the context was shut down, `EMFILE`
    ///   when the context's socket limit is reached.
    public init(_ type: ZMQSocketType, context: ZMQContext) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, type.rawType) else {
            throw ZMQError(code: zmq_errno(), operation: "zmq_socket(\(type))")
        }
        self.context = context
        self.type = type
        self.handle = handle
    }

    deinit {
        close()
    }

    /// The open libzmq handle; stops the process when the socket was closed.
    var liveHandle: UnsafeMutableRawPointer {
        guard let handle else { preconditionFailure("ZMQSocket (\(type)) used after close()") }
        return handle
    }

    /// `true` once ``close()`` was called.
    public var isClosed: Bool { handle == nil }

    /// Closes the socket (`zmq_close`). Unsent messages are kept for the linger period
    /// (``ZMQSocketOption/linger``, 0 by default). Calling it again has no effect.
    public func close() {
        guard let handle else { return }
        // zmq_close fails only for a handle that is not a socket, which cannot happen here.
        _ = zmq_close(handle)
        self.handle = nil
    }

    /// Binds the socket to a local endpoint; a socket may be bound to several endpoints.
    ///
    /// - Parameter endpoint: For example `tcp://127.0.0.1:5555`, `tcp://*:5555`,
    ///   `tcp://127.0.0.1:*` (an ephemeral port), `ipc:///run/lstmd/data.sock` or `inproc://name`.
    /// - Returns: The endpoint actually bound (``lastEndpoint``), with any wildcard port resolved.
    /// - Throws: ``ZMQError``: `EADDRINUSE`, `EPROTONOSUPPORT` for an unknown transport, `EINVAL`
    ///   for a malformed endpoint, `ENODEV` for an unknown interface.
    @discardableResult
    public func bind(_ endpoint: String) throws(ZMQError) -> String {
        let handle = liveHandle
        try zmqCheck("zmq_bind(\(endpoint))") { zmq_bind(handle, endpoint) }
        return try lastEndpoint ?? endpoint
    }

    /// Connects the socket to a remote endpoint; a socket may connect to several endpoints.
    ///
    /// Connecting is asynchronous: it succeeds before the peer exists, and libzmq reconnects
    /// (``ZMQSocketOption/reconnectInterval``) whenever the connection drops.
    ///
    /// - Parameter endpoint: For example `tcp://127.0.0.1:5555` or `ipc:///run/lstmd/data.sock`.
    /// - Throws: ``ZMQError``: `EPROTONOSUPPORT` for an unknown transport, `EINVAL` for a
    ///   malformed endpoint.
    public func connect(_ endpoint: String) throws(ZMQError) {
        let handle = liveHandle
        try zmqCheck("zmq_connect(\(endpoint))") { zmq_connect(handle, endpoint) }
    }

    /// Stops listening on an endpoint given to ``bind(_:)`` (use the resolved endpoint it
    /// returned for a wildcard bind).
    ///
    /// - Throws: ``ZMQError``; `ENOENT` when the socket is not bound to `endpoint`.
    public func unbind(_ endpoint: String) throws(ZMQError) {
        let handle = liveHandle
        try zmqCheck("zmq_unbind(\(endpoint))") { zmq_unbind(handle, endpoint) }
    }

    /// Disconnects from an endpoint given to ``connect(_:)``.
    ///
    /// - Throws: ``ZMQError``; `ENOENT` when the socket is not connected to `endpoint`.
    public func disconnect(_ endpoint: String) throws(ZMQError) {
        let handle = liveHandle
        try zmqCheck("zmq_disconnect(\(endpoint))") { zmq_disconnect(handle, endpoint) }
    }

    /// The endpoint last bound or connected (`ZMQ_LAST_ENDPOINT`), with wildcards resolved, or
    /// `nil` before the first ``bind(_:)`` or ``connect(_:)``.
    ///
    /// - Throws: ``ZMQError`` when libzmq cannot read the option.
    public var lastEndpoint: String? {
        get throws(ZMQError) {
            let handle = liveHandle
            // Endpoints are bounded by the IPC path limit and host name length; 1 KiB is ample.
            var buffer = [CChar](repeating: 0, count: 1024)
            var size = buffer.count
            try zmqCheck("zmq_getsockopt(ZMQ_LAST_ENDPOINT)") {
                zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size)
            }
            let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
        }
    }
}

/// Sockets are not thread-safe (zmq_socket(3)): keep each on the thread that uses it.
@available(*, unavailable)
extension ZMQSocket: Sendable {}
