internal import CZeroMQ

/// A typed socket option, read with `ZMQSocket.value(of:)` and written with `ZMQSocket.set(_:to:)`.
///
/// ```swift
/// try socket.set(.receiveHighWaterMark, to: 100_000)
/// try socket.set(.maxMessageSize, to: 64 * 1024)
/// try socket.set(.immediate, to: true)
/// let linger = try socket.value(of: .linger)
/// ```
///
/// `Value` is `Int` for numeric options (times in milliseconds) and `Bool` for switches.
public struct ZMQSocketOption<Value>: Sendable, Hashable, CustomStringConvertible {
    let name: Int32
    let width: ZMQOptionWidth
    /// The libzmq name, for example `ZMQ_SNDHWM`.
    public let description: String

    init(_ name: Int32, _ width: ZMQOptionWidth, _ description: String) {
        self.name = name
        self.width = width
        self.description = description
    }
}

/// How libzmq stores an integer option: a C `int` or an `int64_t`.
enum ZMQOptionWidth: Sendable, Hashable {
    case int32
    case int64
}

extension ZMQSocketOption where Value == Int {
    /// The most messages queued for sending per peer before sends block or drop, depending on the
    /// socket type (`ZMQ_SNDHWM`); 0 is unlimited. Default 1000. Set it before bind or connect.
    public static var sendHighWaterMark: Self { Self(ZMQ_SNDHWM, .int32, "ZMQ_SNDHWM") }

    /// The most messages queued for receiving per peer (`ZMQ_RCVHWM`); 0 is unlimited.
    /// Default 1000. Set it before bind or connect.
    public static var receiveHighWaterMark: Self { Self(ZMQ_RCVHWM, .int32, "ZMQ_RCVHWM") }

    /// The largest message, in bytes, accepted from a peer (`ZMQ_MAXMSGSIZE`); -1 is unlimited
    /// (the default). A peer sending a bigger message is disconnected and the message dropped.
    public static var maxMessageSize: Self { Self(ZMQ_MAXMSGSIZE, .int64, "ZMQ_MAXMSGSIZE") }

    /// How long, in milliseconds, unsent messages are kept after ``ZMQSocket/close()``
    /// (`ZMQ_LINGER`); -1 waits forever. Default 0 for sockets of a ``ZMQContext``.
    public static var linger: Self { Self(ZMQ_LINGER, .int32, "ZMQ_LINGER") }

    /// How long, in milliseconds, a blocking receive waits before returning "nothing"
    /// (`ZMQ_RCVTIMEO`); -1 waits forever (the default).
    public static var receiveTimeout: Self { Self(ZMQ_RCVTIMEO, .int32, "ZMQ_RCVTIMEO") }

    /// How long, in milliseconds, a blocking send waits before returning `false`
    /// (`ZMQ_SNDTIMEO`); -1 waits forever (the default).
    public static var sendTimeout: Self { Self(ZMQ_SNDTIMEO, .int32, "ZMQ_SNDTIMEO") }

    /// The first delay, in milliseconds, before reconnecting a dropped connection
    /// (`ZMQ_RECONNECT_IVL`); -1 disables reconnection. Default 100.
    public static var reconnectInterval: Self {
        Self(ZMQ_RECONNECT_IVL, .int32, "ZMQ_RECONNECT_IVL")
    }

    /// The upper bound, in milliseconds, of the reconnection delay, which doubles after each
    /// failed attempt (`ZMQ_RECONNECT_IVL_MAX`); 0 keeps it at ``reconnectInterval`` (the default).
    public static var reconnectIntervalMax: Self {
        Self(ZMQ_RECONNECT_IVL_MAX, .int32, "ZMQ_RECONNECT_IVL_MAX")
    }
}

extension ZMQSocketOption where Value == Bool {
    /// Queue messages only to completed connections (`ZMQ_IMMEDIATE`), so a PUSH or DEALER does
    /// not park messages on a peer that is still connecting. Default `false`.
    public static var immediate: Self { Self(ZMQ_IMMEDIATE, .int32, "ZMQ_IMMEDIATE") }

    /// Use IPv6 as well as IPv4 for TCP (`ZMQ_IPV6`). Default `false`.
    public static var ipv6: Self { Self(ZMQ_IPV6, .int32, "ZMQ_IPV6") }

    /// Keep only the newest message in each queue (`ZMQ_CONFLATE`); not for multipart messages.
    /// Default `false`.
    public static var conflate: Self { Self(ZMQ_CONFLATE, .int32, "ZMQ_CONFLATE") }

    /// On a ROUTER, fail sends to an unknown routing id with `EHOSTUNREACH` instead of dropping
    /// them silently (`ZMQ_ROUTER_MANDATORY`). Write-only. Default `false`.
    public static var routerMandatory: Self {
        Self(ZMQ_ROUTER_MANDATORY, .int32, "ZMQ_ROUTER_MANDATORY")
    }
}

extension ZMQSocket {
    /// Sets a numeric option.
    ///
    /// - Parameters:
    ///   - option: The option, for example ``ZMQSocketOption/receiveTimeout``.
    ///   - value: The new value; times are in milliseconds.
    /// - Throws: ``ZMQError``; `EINVAL` when the value is out of range or the option does not
    ///   apply to this socket type.
    public func set(_ option: ZMQSocketOption<Int>, to value: Int) throws(ZMQError) {
        try setInteger(option.name, option.width, value, option.description)
    }

    /// Sets a switch option.
    ///
    /// - Parameters:
    ///   - option: The option, for example ``ZMQSocketOption/immediate``.
    ///   - value: The new value.
    /// - Throws: ``ZMQError``; `EINVAL` when the option does not apply to this socket type.
    public func set(_ option: ZMQSocketOption<Bool>, to value: Bool) throws(ZMQError) {
        try setInteger(option.name, option.width, value ? 1 : 0, option.description)
    }

    /// Reads a numeric option.
    ///
    /// - Parameter option: The option, for example ``ZMQSocketOption/sendHighWaterMark``.
    /// - Returns: The current value; times are in milliseconds.
    /// - Throws: ``ZMQError``; `EINVAL` when the option cannot be read.
    public func value(of option: ZMQSocketOption<Int>) throws(ZMQError) -> Int {
        try integer(option.name, option.width, option.description)
    }

    /// Reads a switch option.
    ///
    /// - Parameter option: The option, for example ``ZMQSocketOption/ipv6``.
    /// - Returns: The current value.
    /// - Throws: ``ZMQError``; `EINVAL` when the option cannot be read (some are write-only).
    public func value(of option: ZMQSocketOption<Bool>) throws(ZMQError) -> Bool {
        try integer(option.name, option.width, option.description) != 0
    }

    /// Subscribes a SUB socket to messages whose first part starts with `prefix`
    /// (`ZMQ_SUBSCRIBE`). An empty prefix subscribes to everything. A new SUB socket receives
    /// nothing until it subscribes.
    ///
    /// - Parameter prefix: The topic prefix, for example `"scores.".utf8` or a `[UInt8]`.
    /// - Throws: ``ZMQError``; `EINVAL` when the socket is not a SUB or XSUB socket.
    public func subscribe(_ prefix: some Sequence<UInt8>) throws(ZMQError) {
        try setBytes(ZMQ_SUBSCRIBE, Array(prefix), "ZMQ_SUBSCRIBE")
    }

    /// Removes one earlier ``subscribe(_:)`` of the same prefix (`ZMQ_UNSUBSCRIBE`).
    ///
    /// - Parameter prefix: The prefix given to ``subscribe(_:)``.
    /// - Throws: ``ZMQError``; `EINVAL` when the socket is not a SUB or XSUB socket.
    public func unsubscribe(_ prefix: some Sequence<UInt8>) throws(ZMQError) {
        try setBytes(ZMQ_UNSUBSCRIBE, Array(prefix), "ZMQ_UNSUBSCRIBE")
    }

    /// Sets the routing id this socket presents to ROUTER peers (`ZMQ_ROUTING_ID`); set it
    /// before connecting.
    ///
    /// - Parameter id: 1 to 255 bytes, not starting with a zero byte.
    /// - Throws: ``ZMQError``; `EINVAL` when the id is empty, too long or starts with zero.
    public func setRoutingID(_ id: some Sequence<UInt8>) throws(ZMQError) {
        try setBytes(ZMQ_ROUTING_ID, Array(id), "ZMQ_ROUTING_ID")
    }

    private func setInteger(
        _ name: Int32, _ width: ZMQOptionWidth, _ value: Int, _ label: String
    ) throws(ZMQError) {
        let handle = liveHandle
        switch width {
        case .int32:
            var raw = try zmqInt32(value, "zmq_setsockopt(\(label), \(value))")
            try zmqCheck("zmq_setsockopt(\(label), \(value))") {
                zmq_setsockopt(handle, name, &raw, MemoryLayout<Int32>.size)
            }
        case .int64:
            var raw = Int64(value)
            try zmqCheck("zmq_setsockopt(\(label), \(value))") {
                zmq_setsockopt(handle, name, &raw, MemoryLayout<Int64>.size)
            }
        }
    }

    private func integer(
        _ name: Int32, _ width: ZMQOptionWidth, _ label: String
    ) throws(ZMQError) -> Int {
        let handle = liveHandle
        switch width {
        case .int32:
            var raw: Int32 = 0
            var size = MemoryLayout<Int32>.size
            try zmqCheck("zmq_getsockopt(\(label))") { zmq_getsockopt(handle, name, &raw, &size) }
            return Int(raw)
        case .int64:
            var raw: Int64 = 0
            var size = MemoryLayout<Int64>.size
            try zmqCheck("zmq_getsockopt(\(label))") { zmq_getsockopt(handle, name, &raw, &size) }
            return Int(raw)
        }
    }

    func setBytes(_ name: Int32, _ bytes: [UInt8], _ label: String) throws(ZMQError) {
        let handle = liveHandle
        try zmqCheck("zmq_setsockopt(\(label))") {
            bytes.withUnsafeBytes { zmq_setsockopt(handle, name, $0.baseAddress, $0.count) }
        }
    }
}
