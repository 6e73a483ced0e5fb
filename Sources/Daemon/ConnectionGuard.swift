import Foundation
import ZeroMQ

/// Keeps the daemon's descriptors below the limit, whatever peers do. Every accepted connection
/// (tcp or ipc, on any socket) costs a descriptor; libzmq aborts the process when its ipc listener
/// cannot accept for lack of one (`ipc_listener.cpp:325`), and its tcp listener spins. The
/// sockets' monitors report each accept and disconnect; a connection accepted while
/// `maxConnections` are open is shut down at once (libzmq then closes it), counted as refused,
/// and the connections already open keep being served.
///
/// `open` counts only the connections kept: a refused one is remembered by (monitor, descriptor)
/// until its disconnect arrives, which then does not count. libzmq reports a connection's
/// disconnect before it closes the descriptor, so on one monitor a descriptor's disconnect always
/// comes before the accept that reuses it.
struct ConnectionGuard {
    /// What to do with a connection just accepted.
    enum Verdict: Equatable {
        case keep
        /// Shut the descriptor down: the limit is reached.
        case refuse(fd: Int32)
    }

    /// Most connections open at once.
    let maxConnections: Int
    /// Connections kept and not yet disconnected.
    private(set) var open = 0
    private(set) var refused = 0
    /// `accept` failures (EMFILE and the like) libzmq reported.
    private(set) var acceptFailures = 0
    /// Refused connections whose disconnect has not arrived yet, by monitor and descriptor.
    private var closing: Set<Connection> = []

    private struct Connection: Hashable {
        var monitor: Int
        var fd: Int32
    }

    /// Refused connections libzmq has not closed yet.
    var refusedClosing: Int { closing.count }

    init(maxConnections: Int) {
        self.maxConnections = maxConnections
    }

    /// The limit for a descriptor limit of `descriptors`: three quarters of it, less 64 for the
    /// daemon's own files (model, buffer segments, sockets), so a burst accepted before the
    /// serving loop sees the events still finds descriptors.
    static func defaultMaxConnections(descriptors: Int) -> Int {
        max(16, descriptors * 3 / 4 - 64)
    }

    /// The process's soft descriptor limit (RLIMIT_NOFILE).
    static func descriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return Int(min(UInt64(limit.rlim_cur), UInt64(Int32.max)))
    }

    /// Applies the limit to `event`, reported by monitor number `monitor`.
    mutating func handle(_ event: ZMQMonitorEvent, monitor: Int) -> Verdict {
        switch event.kind {
        case .accepted:
            // A descriptor is reused only after it closed: a refused connection still remembered
            // under it had its disconnect event lost (a full monitor pipe), so forget it.
            closing.remove(Connection(monitor: monitor, fd: event.value))
            guard open >= maxConnections else {
                open += 1
                return .keep
            }
            refused += 1
            closing.insert(Connection(monitor: monitor, fd: event.value))
            return .refuse(fd: event.value)
        case .disconnected:
            if closing.remove(Connection(monitor: monitor, fd: event.value)) == nil { open = max(0, open - 1) }
        case .acceptFailed:
            acceptFailures += 1
        case .other:
            break
        }
        return .keep
    }

    /// Applies the limit to a batch of events, in order, and returns the descriptors to shut down:
    /// those refused whose disconnect is not already in the batch (a descriptor already closed may
    /// belong to another connection by now).
    mutating func handle(_ batch: [(monitor: Int, event: ZMQMonitorEvent)]) -> [(fd: Int32, event: ZMQMonitorEvent)] {
        var refusals: [(fd: Int32, event: ZMQMonitorEvent)] = []
        for (index, entry) in batch.enumerated() {
            guard case .refuse(let fd) = handle(entry.event, monitor: entry.monitor) else { continue }
            let gone = batch[(index + 1)...].contains {
                $0.monitor == entry.monitor && $0.event.kind == .disconnected && $0.event.value == fd
            }
            if !gone { refusals.append((fd, entry.event)) }
        }
        return refusals
    }

    /// Shuts `fd` down if it is still a connected stream socket of `endpoint`'s listener (libzmq
    /// sees the end of the stream, closes the connection and reports it disconnected). A descriptor
    /// already closed and reused, for a file or another listener's connection, is left alone.
    static func shutDown(fd: Int32, endpoint: String) {
        var type: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0, type == Int32(SOCK_STREAM.rawValue) else { return }
        var address = sockaddr_storage()
        let connected = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                var addressLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
                guard getpeername(fd, $0, &addressLength) == 0 else { return false }
                addressLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
                return getsockname(fd, $0, &addressLength) == 0
            }
        }
        guard connected, belongs(local: address, to: endpoint) else { return }
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Whether a connection whose local address is `local` was accepted by the listener bound to
    /// `endpoint` (`tcp://host:port` or `ipc://path`, as libzmq reports it).
    static func belongs(local: sockaddr_storage, to endpoint: String) -> Bool {
        var local = local
        if endpoint.hasPrefix("ipc://") {
            guard Int32(local.ss_family) == AF_UNIX else { return false }
            let path = withUnsafeBytes(of: &local) { raw -> String in
                let bytes = raw[MemoryLayout<sa_family_t>.size...].prefix { $0 != 0 }
                return String(decoding: bytes, as: UTF8.self)
            }
            return path == endpoint.dropFirst("ipc://".count)
        }
        guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":"),
            let port = UInt16(endpoint[endpoint.index(after: colon)...])
        else { return true }
        switch Int32(local.ss_family) {
        case AF_INET:
            return withUnsafeBytes(of: &local) { $0.load(as: sockaddr_in.self).sin_port == port.bigEndian }
        case AF_INET6:
            return withUnsafeBytes(of: &local) { $0.load(as: sockaddr_in6.self).sin6_port == port.bigEndian }
        default:
            return false
        }
    }
}
