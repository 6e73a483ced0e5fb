internal import CZeroMQ

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Runs one libzmq call that reports failure with a negative result and `errno`.
///
/// Reads `errno` (through `zmq_errno`) right after the call, retries on `EINTR`, returns `nil`
/// on `EAGAIN` and throws a ``ZMQError`` for anything else. The operation text is built only when
/// an error is thrown, so the success path does not allocate.
///
/// - Parameters:
///   - operation: What is called, for the error's ``ZMQError/operation``.
///   - body: The call; a negative result means failure.
/// - Returns: The non-negative result, or `nil` when the call would block.
@inline(__always)
func zmqCall(
    _ operation: @autoclosure () -> String, _ body: () -> Int32
) throws(ZMQError) -> Int32? {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = zmq_errno()
        if code == EINTR { continue }
        if code == EAGAIN { return nil }
        throw ZMQError(code: code, operation: operation())
    }
}

/// Like ``zmqCall(_:_:)`` for calls that must not block: `EAGAIN` is thrown too.
@inline(__always)
@discardableResult
func zmqCheck(
    _ operation: @autoclosure () -> String, _ body: () -> Int32
) throws(ZMQError) -> Int32 {
    guard let result = try zmqCall(operation(), body) else {
        throw ZMQError(code: EAGAIN, operation: operation())
    }
    return result
}

/// Converts an option value to the C `int` libzmq expects, throwing `EINVAL` when it does not fit.
func zmqInt32(_ value: Int, _ operation: @autoclosure () -> String) throws(ZMQError) -> Int32 {
    guard let converted = Int32(exactly: value) else {
        throw ZMQError(code: EINVAL, operation: operation())
    }
    return converted
}
