internal import CZeroMQ

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif

/// An error reported by libzmq.
///
/// Every failing libzmq call is turned into a `ZMQError` that keeps the raw `errno` value, so
/// callers can tell a terminated context (``isTerminated``) from a bad endpoint or a full queue.
/// `EINTR` never reaches callers (the call is retried) and `EAGAIN` is normally returned as a
/// value (`false` or `nil`) by the sending and receiving methods rather than thrown.
public struct ZMQError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The raw `errno` value reported by libzmq (POSIX codes, or libzmq's own such as `ETERM`).
    public let code: Int32
    /// The human-readable text for ``code``, from `zmq_strerror`.
    public let message: String
    /// What was called when the error happened, for example `zmq_bind(tcp://127.0.0.1:5555)`.
    public let operation: String

    /// Creates an error for a raw `errno` value, filling ``message`` from `zmq_strerror`.
    ///
    /// - Parameters:
    ///   - code: The raw `errno` value.
    ///   - operation: What was called, for example `zmq_connect(tcp://host:5555)`.
    public init(code: Int32, operation: String) {
        self.code = code
        self.message = String(cString: zmq_strerror(code))
        self.operation = operation
    }

    /// `true` when the context was shut down or terminated (`ETERM`): the socket must be closed.
    public var isTerminated: Bool { code == ETERM }

    /// `true` when the operation would have blocked (`EAGAIN`), including a send or receive
    /// timeout.
    public var isWouldBlock: Bool { code == EAGAIN }

    /// `true` when the socket is in the wrong state for the operation (`EFSM`), for example a
    /// REQ socket sending twice without receiving the reply in between.
    public var isInvalidState: Bool { code == EFSM }

    /// A one-line description: the operation, the message and the raw code.
    public var description: String { "\(operation): \(message) (errno \(code))" }
}
