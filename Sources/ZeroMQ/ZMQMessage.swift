internal import CZeroMQ

/// One received message part, in a reusable buffer owned by libzmq (`zmq_msg_t`).
///
/// Create one per receiving loop and pass it to ``ZMQSocket/receive(into:dontWait:)`` again and
/// again: each receive releases the previous content, so the loop does not allocate (parts of
/// 33 bytes or less live inside the `zmq_msg_t` itself; larger ones are shared with libzmq).
/// The `zmq_msg_t` sits on the heap at a fixed address, which small inline parts require, and
/// the type is `~Copyable` so exactly one owner closes it.
///
/// ```swift
/// var message = ZMQMessage()
/// while try socket.receive(into: &message) {
///     let id = message.withUnsafeBytes { Array($0) }
///     guard message.hasMore, try socket.receive(into: &message) else { continue }
///     message.withUnsafeBytes { payload in … }
/// }
/// ```
public struct ZMQMessage: ~Copyable {
    /// The heap-allocated, initialised `zmq_msg_t`.
    let pointer: UnsafeMutableRawPointer

    /// Creates an empty message (`zmq_msg_init`).
    public init() {
        let message = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
        // zmq_msg_init cannot fail.
        _ = zmq_msg_init(message)
        pointer = UnsafeMutableRawPointer(message)
    }

    deinit {
        let message = pointer.assumingMemoryBound(to: zmq_msg_t.self)
        // zmq_msg_close fails only for an invalid message, which cannot happen here.
        _ = zmq_msg_close(message)
        message.deallocate()
    }

    var rawMessage: UnsafeMutablePointer<zmq_msg_t> {
        pointer.assumingMemoryBound(to: zmq_msg_t.self)
    }

    /// The size of the part in bytes (`zmq_msg_size`); 0 before the first receive.
    public var count: Int { zmq_msg_size(rawMessage) }

    /// `true` when more parts of the same message follow this one (`zmq_msg_more`).
    public var hasMore: Bool { zmq_msg_more(rawMessage) != 0 }

    /// Calls `body` with the bytes of the part, valid only during the call and only until the
    /// next receive into this message.
    ///
    /// - Parameter body: Reads the bytes; must not keep the buffer.
    /// - Returns: What `body` returns.
    /// - Throws: What `body` throws.
    public func withUnsafeBytes<Result: ~Copyable, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let count = zmq_msg_size(rawMessage)
        guard count > 0 else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return try body(UnsafeRawBufferPointer(start: zmq_msg_data(rawMessage), count: count))
    }

    /// A copy of the bytes of the part.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}
