internal import CZeroMQ

extension ZMQSocket {
    /// Sends one message part (`zmq_send`), copying the bytes.
    ///
    /// - Parameters:
    ///   - bytes: The part; may be empty.
    ///   - more: `true` when more parts of the same message follow (`ZMQ_SNDMORE`). The message
    ///     is delivered, atomically, when a part is sent with `more: false`.
    ///   - dontWait: `true` to return `false` at once instead of blocking when the part cannot be
    ///     queued now (`ZMQ_DONTWAIT`), for example a PUSH with no peer or at its high-water mark.
    /// - Returns: `true` when queued; `false` when it would have blocked (`dontWait`) or the
    ///   ``ZMQSocketOption/sendTimeout`` expired. Always `true` for a blocking send without a
    ///   timeout, hence discardable.
    /// - Throws: ``ZMQError``; ``ZMQError/isTerminated`` after ``ZMQContext/shutdown()``,
    ///   ``ZMQError/isInvalidState`` when the pattern forbids sending now (REQ, REP), `ENOTSUP`
    ///   for a socket type that cannot send, `EHOSTUNREACH` on a ROUTER with
    ///   ``ZMQSocketOption/routerMandatory``.
    @discardableResult
    public func send(
        _ bytes: UnsafeRawBufferPointer, more: Bool = false, dontWait: Bool = false
    ) throws(ZMQError) -> Bool {
        let handle = liveHandle
        var flags: Int32 = 0
        if more { flags |= ZMQ_SNDMORE }
        if dontWait { flags |= ZMQ_DONTWAIT }
        return try zmqCall("zmq_send") {
            zmq_send(handle, bytes.baseAddress, bytes.count, flags)
        } != nil
    }

    /// Sends one message part from any byte sequence: `[UInt8]`, `ArraySlice<UInt8>`, `Data`,
    /// `String.UTF8View` and so on. Contiguous storage is sent without an intermediate copy.
    ///
    /// - Parameters:
    ///   - bytes: The part; may be empty.
    ///   - more: `true` when more parts of the same message follow.
    ///   - dontWait: `true` to return `false` at once instead of blocking.
    /// - Returns: `true` when queued, `false` when it would have blocked or timed out.
    /// - Throws: ``ZMQError``, as for ``send(_:more:dontWait:)``.
    @inlinable
    @discardableResult
    public func send<Bytes: Sequence<UInt8>>(
        _ bytes: Bytes, more: Bool = false, dontWait: Bool = false
    ) throws(ZMQError) -> Bool {
        let sent = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(ZMQError) in
                try send(UnsafeRawBufferPointer(buffer), more: more, dontWait: dontWait)
            }
        }
        if let sent { return try sent.get() }
        let copy = Array(bytes)
        return try copy.withUnsafeBufferPointer { buffer in
            Result { () throws(ZMQError) in
                try send(UnsafeRawBufferPointer(buffer), more: more, dontWait: dontWait)
            }
        }.get()
    }

    /// Sends a whole multipart message.
    ///
    /// `dontWait` applies to the first part: ZeroMQ queues the remaining parts of a message whose
    /// first part it accepted, so they are sent without `ZMQ_DONTWAIT`.
    ///
    /// - Parameters:
    ///   - parts: The parts, at least one; each may be empty.
    ///   - dontWait: `true` to return `false` at once, sending nothing, instead of blocking.
    /// - Returns: `true` when queued, `false` when the first part would have blocked or timed out.
    /// - Throws: ``ZMQError``, as for ``send(_:more:dontWait:)``.
    @inlinable
    @discardableResult
    public func send<Parts: Collection>(
        parts: Parts, dontWait: Bool = false
    ) throws(ZMQError) -> Bool where Parts.Element: Sequence<UInt8> {
        precondition(!parts.isEmpty, "a ZeroMQ message has at least one part")
        var remaining = parts.count
        var isFirst = true
        for part in parts {
            remaining -= 1
            let sent = try send(part, more: remaining > 0, dontWait: isFirst && dontWait)
            if isFirst && !sent { return false }
            isFirst = false
        }
        return true
    }
}
