import Foundation
import ZeroMQ

/// Keeps the daemon's descriptors below the limit, whatever peers do. Every accepted connection
/// (tcp or ipc, on any socket) costs a descriptor; libzmq aborts the process when its ipc listener
/// cannot accept for lack of one (`ipc_listener.cpp:325`), and its tcp listener spins. The
/// sockets' monitors report each accept and disconnect; a connection accepted while
/// `maxConnections` are open is shut down at once (libzmq then closes it), counted as refused,
/// and the connections already open keep being served.
struct ConnectionGuard {
    /// What to do with a connection just accepted.
    enum Verdict: Equatable {
        case keep
        /// Shut the descriptor down: the limit is reached.
        case refuse(fd: Int32)
    }

    /// Most connections open at once.
    let maxConnections: Int
    private(set) var open = 0
    private(set) var refused = 0
    /// `accept` failures (EMFILE and the like) libzmq reported.
    private(set) var acceptFailures = 0

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

    mutating func handle(_ event: ZMQMonitorEvent) -> Verdict {
        switch event.kind {
        case .accepted:
            open += 1
            guard open > maxConnections else { return .keep }
            refused += 1
            return .refuse(fd: event.value)
        case .disconnected:
            open = max(0, open - 1)
        case .acceptFailed:
            acceptFailures += 1
        case .other:
            break
        }
        return .keep
    }

    /// Shuts `fd` down if it is still a connected stream socket (libzmq sees the end of the stream,
    /// closes the connection and reports it disconnected). A descriptor already closed and reused
    /// for a file is left alone.
    static func shutDown(fd: Int32) {
        var type: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0, type == Int32(SOCK_STREAM.rawValue) else { return }
        var peer = sockaddr_storage()
        var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let connected = withUnsafeMutablePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &peerLength) == 0 }
        }
        guard connected else { return }
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }
}
