import Foundation
import ZeroMQ

/// Bounds for every wait in the tests, in milliseconds.
enum ZMQTestTimeout {
    /// How long to wait for a message that must arrive.
    static let arrival = 5_000
    /// How long to listen when nothing must arrive.
    static let silence = 250
}

/// A pair of connected sockets with bounded receive and send timeouts.
struct ZMQTestPair {
    let bound: ZMQSocket
    let connected: ZMQSocket
    let endpoint: String

    /// Binds a `bound` socket to `endpoint` (tcp ephemeral port by default) and connects the other.
    init(
        _ boundType: ZMQSocketType, _ connectedType: ZMQSocketType, context: ZMQContext,
        endpoint: String = "tcp://127.0.0.1:*"
    ) throws {
        bound = try ZMQSocket(boundType, context: context)
        connected = try ZMQSocket(connectedType, context: context)
        for socket in [bound, connected] {
            try socket.set(.receiveTimeout, to: ZMQTestTimeout.arrival)
            try socket.set(.sendTimeout, to: ZMQTestTimeout.arrival)
        }
        self.endpoint = try bound.bind(endpoint)
        try connected.connect(self.endpoint)
    }
}

/// A directory under the system temporary directory, removed on deinit; short enough for the
/// 107-byte limit of IPC paths.
final class ZMQTemporaryDirectory {
    let path: String

    init() throws {
        let name = "zmqtest-\(UUID().uuidString.prefix(8))"
        path = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(name).path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// A copy of what a ``ZMQMessage`` holds, for `#expect` (which cannot take noncopyable values).
struct ZMQPart: Equatable {
    var bytes: [UInt8]
    var hasMore: Bool
}

extension ZMQMessage {
    /// A copy of the part's bytes and its more-flag.
    var part: ZMQPart { ZMQPart(bytes: bytes, hasMore: hasMore) }
}

/// Deterministic test bytes: `count` bytes that differ for each `seed`.
func zmqTestBytes(count: Int, seed: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 101 &+ 7) }
}

/// Milliseconds elapsed while running `body`.
func zmqElapsedMilliseconds<R>(_ body: () throws -> R) rethrows -> (R, Double) {
    let clock = ContinuousClock()
    let start = clock.now
    let result = try body()
    let elapsed = clock.now - start
    let milliseconds =
        Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15
    return (result, milliseconds)
}
