import Daemon
import Testing

/// `Configuration.validate()` accepts the defaults and refuses every bad value, naming its key.
@Suite struct ConfigurationTests {
    @Test func defaultsAreValidAndLoopbackOnly() throws {
        let configuration = Configuration()
        try configuration.validate()
        for endpoint in configuration.ingestEndpoints + configuration.publishEndpoints + configuration.controlEndpoints {
            #expect(endpoint.hasPrefix("tcp://127.0.0.1:"), "\(endpoint)")
        }
    }

    @Test func boundaryValuesAreAccepted() throws {
        var configuration = Configuration()
        configuration.ingestEndpoints = ["ipc:///tmp/x.sock", "inproc://a"]
        configuration.controlEndpoints = []
        configuration.hop = 1
        configuration.maxStreams = 1
        configuration.idleTimeout = 0.001
        configuration.maxTimestepsPerFrame = 1
        configuration.maxMessageBytes = 64
        configuration.receiveHighWaterMark = 0
        configuration.sendHighWaterMark = 0
        configuration.logLevel = "critical"
        try configuration.validate()
        configuration.maxStreams = 10_000_000
        configuration.maxTimestepsPerFrame = 1_000_000
        configuration.maxMessageBytes = 1 << 30
        try configuration.validate()
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let key: String
        let change: @Sendable (inout Configuration) -> Void
        var testDescription: String { name }
    }

    static let badValues: [Case] = [
        Case(name: "no ingest", key: "ingest") { $0.ingestEndpoints = [] },
        Case(name: "no publish", key: "publish") { $0.publishEndpoints = [] },
        Case(name: "ingest udp", key: "ingest") { $0.ingestEndpoints = ["udp://127.0.0.1:1"] },
        Case(name: "publish bare address", key: "publish") { $0.publishEndpoints = ["127.0.0.1:5556"] },
        Case(name: "control http", key: "control") { $0.controlEndpoints = ["http://127.0.0.1:80"] },
        Case(name: "hop 0", key: "hop") { $0.hop = 0 },
        Case(name: "hop negative", key: "hop") { $0.hop = -3 },
        Case(name: "max streams 0", key: "max_streams") { $0.maxStreams = 0 },
        Case(name: "max streams too many", key: "max_streams") { $0.maxStreams = 10_000_001 },
        Case(name: "idle timeout 0", key: "idle_timeout") { $0.idleTimeout = 0 },
        Case(name: "idle timeout negative", key: "idle_timeout") { $0.idleTimeout = -1 },
        Case(name: "idle timeout NaN", key: "idle_timeout") { $0.idleTimeout = .nan },
        Case(name: "max timesteps 0", key: "max_timesteps_per_frame") { $0.maxTimestepsPerFrame = 0 },
        Case(name: "max timesteps too many", key: "max_timesteps_per_frame") { $0.maxTimestepsPerFrame = 1_000_001 },
        Case(name: "max message bytes 63", key: "max_message_bytes") { $0.maxMessageBytes = 63 },
        Case(name: "max message bytes 2^30+1", key: "max_message_bytes") { $0.maxMessageBytes = (1 << 30) + 1 },
        Case(name: "receive hwm negative", key: "receive_hwm") { $0.receiveHighWaterMark = -1 },
        Case(name: "send hwm negative", key: "send_hwm") { $0.sendHighWaterMark = -1 },
        Case(name: "log level unknown", key: "log_level") { $0.logLevel = "verbose" },
        Case(name: "log level wrong case", key: "log_level") { $0.logLevel = "INFO" },
    ]

    @Test(arguments: badValues)
    func badValueIsRefusedNamingItsKey(_ bad: Case) {
        var configuration = Configuration()
        bad.change(&configuration)
        let error = #expect(throws: ConfigurationError.self) { try configuration.validate() }
        #expect(error?.key == bad.key, "\(bad.name): \(String(describing: error))")
        #expect(error?.description.hasPrefix("\(bad.key): ") == true)
    }

    /// The serving loop computes `UInt64(idleTimeout * 1e9)` every housekeeping pass, which traps
    /// for values beyond ~1.8e10 s (and for infinity), so validation must refuse them.
    @Test(
        arguments: [Double.infinity, 1e11])
    func hugeIdleTimeoutIsRefused(seconds: Double) {
        var configuration = Configuration()
        configuration.idleTimeout = seconds
        let error = #expect(throws: ConfigurationError.self) { try configuration.validate() }
        #expect(error?.key == "idle_timeout")
    }
}
