internal import CZeroMQ

/// One event from a socket monitor (`zmq_socket_monitor`): a connection accepted, failed or gone.
public struct ZMQMonitorEvent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// A listener accepted a connection; `value` is its descriptor.
        case accepted
        /// A listener's `accept` failed; `value` is the errno (EMFILE when out of descriptors).
        case acceptFailed
        /// A connection ended (closed by the peer, an error, or a failed handshake).
        case disconnected
        /// Any other event, by its libzmq number.
        case other(UInt16)
    }

    public var kind: Kind
    /// The descriptor (`accepted`, `disconnected`) or errno (`acceptFailed`).
    public var value: Int32
    /// The listener's endpoint.
    public var endpoint: String

    public init(kind: Kind, value: Int32, endpoint: String) {
        (self.kind, self.value, self.endpoint) = (kind, value, endpoint)
    }

    /// Decodes the two parts libzmq sends per event: 2 bytes of event number and 4 of value
    /// (native byte order), then the endpoint. Nil for anything else.
    public init?(parts: [[UInt8]]) {
        guard parts.count == 2, parts[0].count == 6 else { return nil }
        let number = parts[0].withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: UInt16.self) }
        value = parts[0].withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 2, as: Int32.self) }
        endpoint = String(decoding: parts[1], as: UTF8.self)
        switch Int32(number) {
        case ZMQ_EVENT_ACCEPTED: kind = .accepted
        case ZMQ_EVENT_ACCEPT_FAILED: kind = .acceptFailed
        case ZMQ_EVENT_DISCONNECTED: kind = .disconnected
        default: kind = .other(number)
        }
    }
}

extension ZMQSocket {
    /// Publishes this socket's connection events (accepted, accept failed, disconnected) on an
    /// inproc PAIR endpoint of the same context; connect a `.pair` socket to `endpoint` and read
    /// `ZMQMonitorEvent(parts:)` from it. Monitoring an already monitored socket replaces it.
    public func monitorConnections(on endpoint: String) throws(ZMQError) {
        let events = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_ACCEPT_FAILED | ZMQ_EVENT_DISCONNECTED
        guard zmq_socket_monitor(liveHandle, endpoint, events) == 0 else {
            throw ZMQError(code: zmq_errno(), operation: "zmq_socket_monitor(\(endpoint))")
        }
    }
}
