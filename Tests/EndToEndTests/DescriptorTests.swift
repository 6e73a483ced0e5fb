import Foundation
import LSTMKit
import Testing
import ZeroMQ

/// Attack 4: with descriptors exhausted (RLIMIT_NOFILE 1024, 1,100 TCP connections) the loop spun
/// and the next ipc control connection aborted the process inside libzmq (2 of 2 runs). Now
/// connections beyond `max_connections` (by default 3/4 of the limit, less 64) are shut at once.
@Suite struct DescriptorTests {
    /// A free loopback TCP port (bound and released; the daemon binds it next).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw HarnessError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A raw TCP connection to 127.0.0.1:`port` (no ZMTP: it holds a descriptor and nothing else).
    static func connectRaw(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        if !connected { close(fd) }
        return connected ? fd : nil
    }

    @Test func connectionsBeyondTheLimitAreShutAndControlOverIPCKeepsWorking() throws {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        guard limit.rlim_max >= 2048, FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit") else {
            print("skipping the descriptor test: needs /usr/bin/prlimit and a hard RLIMIT_NOFILE ≥ 2048 for the attacker")
            return
        }
        limit.rlim_cur = limit.rlim_max
        setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        let port = try Self.freePort()
        let daemon = try DaemonProcess(
            arguments: ["--ingest", "tcp://127.0.0.1:\(port)"], launcher: ["/usr/bin/prlimit", "--nofile=1024:1024", "--"])
        defer { daemon.stop() }
        try daemon.awaitSubscription()
        let status = try daemon.status()["connections"]
        #expect(status?["descriptor_limit"]?.numberValue == 1024 && status?["max"]?.numberValue == 704, "\(String(describing: status))")

        var attacker: [Int32] = []
        defer { for fd in attacker { close(fd) } }
        for _ in 0..<1100 {
            guard let fd = Self.connectRaw(port: port) else { continue }
            attacker.append(fd)
        }
        #expect(attacker.count >= 1000, "only \(attacker.count) connections made")
        // The refusals show in status (the control connection is ipc: it must still be accepted).
        let flooded = try daemon.waitForStatus { ($0["connections"]?["refused"]?.numberValue ?? 0) >= 300 }
        #expect(flooded != nil, "refusals: \(String(describing: try? daemon.status()["connections"]))")
        // Open counts the connections kept: never more than the limit.
        #expect(flooded?["connections"]?["open"]?.numberValue == 704, "\(String(describing: flooded?["connections"]))")
        #expect(flooded?["connections"]?["accept_failures"]?.numberValue == 0, "a listener ran out of descriptors")
        // Existing peers go on: a label for a frame sent now on the ipc connection.
        let window = try #require(daemon.initialStatus["model"]?["window"]?.numberValue.map { Int($0) })
        var generator = SplitMix64(seed: 4)
        var stream = TestStream(id: "during", channels: daemon.channels)
        try daemon.send(stream.frame(timesteps: window, generator: &generator))
        #expect(try daemon.subscriber.waitFor(stream: "during", count: 1), "no label during the flood")
        #expect(try daemon.waitForLog { $0.contains("connection refused: too many open") })

        // The attacker leaves: a new TCP producer is served again.
        for fd in attacker { close(fd) }
        attacker = []
        #expect(try daemon.waitForStatus { ($0["connections"]?["open"]?.numberValue ?? .infinity) < 20 } != nil)
        let producer = try ZMQSocket(.push, context: daemon.context)
        defer { producer.close() }
        try producer.set(.linger, to: 0)
        try producer.set(.sendTimeout, to: 10_000)
        try producer.connect("tcp://127.0.0.1:\(port)")
        var after = TestStream(id: "after", channels: daemon.channels)
        try producer.send(parts: after.frame(timesteps: window, generator: &generator))
        #expect(try daemon.subscriber.waitFor(stream: "after", count: 1), "no label for a TCP producer after the flood")
        #expect(!daemon.log.contains("cannot accept"), "\(daemon.log.suffix(2000))")
    }
}
