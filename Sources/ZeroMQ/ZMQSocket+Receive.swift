internal import CZeroMQ

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif

extension ZMQSocket {
    /// Receives the next message part into `message` (`zmq_msg_recv`), releasing its previous
    /// content. Allocates nothing for parts of 33 bytes or less and nothing beyond libzmq's own
    /// buffer for larger ones: this is the receive for hot loops.
    ///
    /// Check ``ZMQMessage/hasMore`` to see whether more parts of the same message follow; they
    /// are already in the socket (messages are delivered atomically).
    ///
    /// - Parameters:
    ///   - message: The message to fill; reuse it across calls.
    ///   - dontWait: `true` to return `false` at once when nothing is waiting (`ZMQ_DONTWAIT`).
    /// - Returns: `true` when a part was received; `false` when nothing was waiting (`dontWait`)
    ///   or the ``ZMQSocketOption/receiveTimeout`` expired; `message` is left empty then.
    /// - Throws: ``ZMQError``; ``ZMQError/isTerminated`` after ``ZMQContext/shutdown()``,
    ///   ``ZMQError/isInvalidState`` when the pattern forbids receiving now (REQ, REP), `ENOTSUP`
    ///   for a socket type that cannot receive.
    public func receive(
        into message: inout ZMQMessage, dontWait: Bool = false
    ) throws(ZMQError) -> Bool {
        let handle = liveHandle
        let rawMessage = message.rawMessage
        let flags = dontWait ? ZMQ_DONTWAIT : 0
        return try zmqCall("zmq_msg_recv") { zmq_msg_recv(rawMessage, handle, flags) } != nil
    }

    /// Receives a whole multipart message, copying its parts; for paths that are not hot.
    ///
    /// Takes every part of the message from the socket, even beyond `maxParts`, so that a peer
    /// sending too many parts is detectable (``ZMQMultipartMessage/isTruncated``) and its extra
    /// parts never appear as the start of the next message.
    ///
    /// - Parameters:
    ///   - maxParts: The most parts to keep; 0 only counts them.
    ///   - dontWait: `true` to return `nil` at once when nothing is waiting.
    /// - Returns: The message, or `nil` when nothing was waiting (`dontWait`) or the
    ///   ``ZMQSocketOption/receiveTimeout`` expired before the first part.
    /// - Throws: ``ZMQError``, as for ``receive(into:dontWait:)``.
    public func receiveMultipart(
        maxParts: Int = 64, dontWait: Bool = false
    ) throws(ZMQError) -> ZMQMultipartMessage? {
        precondition(maxParts >= 0, "maxParts must not be negative (\(maxParts))")
        var message = ZMQMessage()
        guard try receive(into: &message, dontWait: dontWait) else { return nil }
        var parts: [[UInt8]] = []
        var partCount = 0
        while true {
            partCount += 1
            if parts.count < maxParts { parts.append(message.bytes) }
            guard message.hasMore else { break }
            // The rest of a message arrives with its first part, so this does not wait; a
            // would-block here means libzmq broke that promise and is reported as an error.
            guard try receive(into: &message) else {
                throw ZMQError(code: EAGAIN, operation: "zmq_msg_recv (part \(partCount + 1))")
            }
        }
        return ZMQMultipartMessage(parts: parts, partCount: partCount)
    }
}
