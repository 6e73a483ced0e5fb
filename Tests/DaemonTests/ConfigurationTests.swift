import Daemon
import Foundation
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

    /// Model loading's defaults: reloads confined to the model store and /etc/lstmd/models, 256 MiB.
    @Test func modelLoadingDefaults() {
        var configuration = Configuration()
        #expect(configuration.maxModelBytes == 268_435_456)
        #expect(configuration.modelDirectories == ["/etc/lstmd/models"])
        configuration.stateDirectory = "/var/lib/lstmd"
        #expect(configuration.modelDirectories == ["/var/lib/lstmd/models", "/etc/lstmd/models"])
        configuration.modelDirectoryList = ["/srv/models"]
        #expect(configuration.modelDirectories == ["/srv/models"])
    }

    /// The retraining keys' documented defaults (issue 11).
    @Test func retrainingDefaults() {
        let configuration = Configuration()
        #expect(configuration.labelStride == nil)
        #expect(configuration.bufferFsync == .interval(0.1))
        #expect(configuration.bufferMaxBytes == 268_435_456)
        #expect(configuration.retrainInterval == 0)
        #expect(configuration.retrainMinNew == 100)
        #expect(configuration.retrainThreads == 1)
        #expect(configuration.retrainTimeout == 3600)
        #expect(configuration.retrainBaseData == nil)
        #expect(configuration.retrainRecipe == nil)
        #expect(configuration.retrainStart == .warm)
        #expect(configuration.retrainSplitBlock == 60)
        #expect(configuration.retrainValidationFraction == 0.2)
        #expect(configuration.retrainPromoteMargin == 0.01)
        #expect(configuration.retrainMaxRecallDrop == 0.05)
        #expect(configuration.retrainMinValidationPerClass == 10)
        #expect(configuration.modelsKeep == 10)
        #expect(configuration.swapContinuity == .replay)
        #expect(configuration.stateDirectory == nil)
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
        configuration.labelStride = 1
        configuration.bufferFsync = .always
        configuration.bufferMaxBytes = 1
        configuration.retrainInterval = 0
        configuration.retrainMinNew = 0
        configuration.retrainThreads = 1
        configuration.retrainTimeout = 0.001
        configuration.retrainSplitBlock = 0.001
        configuration.retrainValidationFraction = 0.001
        configuration.retrainPromoteMargin = 0
        configuration.retrainMaxRecallDrop = 0
        configuration.retrainMinValidationPerClass = 0
        configuration.modelsKeep = 2
        try configuration.validate()
        configuration.bufferFsync = .interval(3600)
        configuration.retrainValidationFraction = 0.999
        configuration.retrainMaxRecallDrop = 1
        configuration.retrainThreads = 256
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
        Case(name: "label stride 0", key: "label_stride") { $0.labelStride = 0 },
        Case(name: "buffer fsync 0 s", key: "buffer_fsync") { $0.bufferFsync = .interval(0) },
        Case(name: "buffer fsync negative", key: "buffer_fsync") { $0.bufferFsync = .interval(-1) },
        Case(name: "buffer fsync NaN", key: "buffer_fsync") { $0.bufferFsync = .interval(.nan) },
        Case(name: "buffer max bytes 0", key: "buffer_max_bytes") { $0.bufferMaxBytes = 0 },
        Case(name: "relative model directory", key: "model_directory") { $0.modelDirectoryList = ["/etc/lstmd/models", "models"] },
        Case(name: "max model bytes 10", key: "max_model_bytes") { $0.maxModelBytes = 10 },
        Case(name: "retrain interval negative", key: "retrain_interval") { $0.retrainInterval = -1 },
        Case(name: "retrain interval huge", key: "retrain_interval") { $0.retrainInterval = 1e10 },
        Case(name: "retrain min new negative", key: "retrain_min_new") { $0.retrainMinNew = -1 },
        Case(name: "retrain threads 0", key: "retrain_threads") { $0.retrainThreads = 0 },
        Case(name: "retrain timeout 0", key: "retrain_timeout") { $0.retrainTimeout = 0 },
        Case(name: "retrain split block 0", key: "retrain_split_block") { $0.retrainSplitBlock = 0 },
        Case(name: "validation fraction 0", key: "retrain_validation_fraction") { $0.retrainValidationFraction = 0 },
        Case(name: "validation fraction 1", key: "retrain_validation_fraction") { $0.retrainValidationFraction = 1 },
        Case(name: "promote margin negative", key: "retrain_promote_margin") { $0.retrainPromoteMargin = -0.1 },
        Case(name: "promote margin infinite", key: "retrain_promote_margin") { $0.retrainPromoteMargin = .infinity },
        Case(name: "max recall drop above 1", key: "retrain_max_recall_drop") { $0.retrainMaxRecallDrop = 1.5 },
        Case(name: "max recall drop negative", key: "retrain_max_recall_drop") { $0.retrainMaxRecallDrop = -0.01 },
        Case(name: "min validation per class negative", key: "retrain_min_validation_per_class") {
            $0.retrainMinValidationPerClass = -1
        },
        Case(name: "models keep 1", key: "models_keep") { $0.modelsKeep = 1 },
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

/// The key table: every key reads the same from a file, an `LSTMD_` variable and a flag, in the
/// precedence defaults < systemd < file < environment < flags.
@Suite struct ConfigurationKeyTableTests {
    /// A value other than the default for every key, as a file spells it, and what `text(of:)`
    /// then shows. A new key needs an entry here (checked below).
    static let samples: [String: (text: String, shown: String)] = [
        "model": ("\"/models/a, b.safetensors\"", "\"/models/a, b.safetensors\""),
        "ingest": ("tcp://127.0.0.1:6000, ipc:///run/x.sock", "tcp://127.0.0.1:6000, ipc:///run/x.sock"),
        "publish": ("tcp://127.0.0.1:6001", "tcp://127.0.0.1:6001"),
        "control": ("", ""),
        "model_directory": ("/srv/models, /etc/lstmd/models", "/srv/models, /etc/lstmd/models"),
        "max_model_bytes": ("64MiB", "67108864"),
        "mode": ("continuous", "continuous"),
        "hop": ("5", "5"),
        "max_streams": ("1_000", "1000"),
        "max_streams_per_key": ("250", "250"),
        "curve_directory": ("/etc/lstmd/curve", "/etc/lstmd/curve"),
        "insecure_tcp": ("yes", "true"),
        "idle_timeout": ("2.5", "2.5"),
        "reorder_window": ("50", "50"),
        "max_connections": ("500", "500"),
        "ingest_memory_limit": ("64MiB", "67108864"),
        "stop_drain_timeout": ("1", "1.0"),
        "max_timesteps_per_frame": ("64", "64"),
        "max_message_bytes": ("4KiB", "4096"),
        "receive_hwm": ("10", "10"),
        "send_hwm": ("20", "20"),
        "log_level": ("debug", "debug"),
        "log_destination": ("stderr", "stderr"),
        "metrics": ("[::1]:9999", "[::1]:9999"),
        "state_directory": ("/var/lib/x#y", "/var/lib/x#y"),
        "label_stride": ("3", "3"),
        "buffer_fsync": ("always", "always"),
        "buffer_max_bytes": ("128MiB", "134217728"),
        "retrain_interval": ("600", "600.0"),
        "retrain_min_new": ("0", "0"),
        "retrain_threads": ("2", "2"),
        "retrain_timeout": ("60.5", "60.5"),
        "retrain_base_data": ("/data/base_TRAIN.ts", "/data/base_TRAIN.ts"),
        "retrain_recipe": ("/etc/lstmd/retrain.recipe", "/etc/lstmd/retrain.recipe"),
        "retrain_start": ("scratch", "scratch"),
        "retrain_split_block": ("30", "30.0"),
        "retrain_validation_fraction": ("0.25", "0.25"),
        "retrain_promote_margin": ("0", "0.0"),
        "retrain_max_recall_drop": ("0.1", "0.1"),
        "retrain_min_validation_per_class": ("5", "5"),
        "models_keep": ("3", "3"),
        "swap_continuity": ("reset", "reset"),
    ]

    @Test func everyKeyHasASample() {
        #expect(Set(Configuration.keys.map(\.name)) == Set(Self.samples.keys))
    }

    @Test func namesOfEveryKey() throws {
        let key = try #require(Configuration.key(named: "retrain_validation_fraction"))
        #expect(key.flag == "--retrain-validation-fraction")
        #expect(key.environmentVariable == "LSTMD_RETRAIN_VALIDATION_FRACTION")
        #expect(Configuration.key(named: "max-streams")?.name == "max_streams")
        #expect(Configuration.key(named: "nope") == nil)
    }

    @Test(arguments: Configuration.keys.map(\.name))
    func keyRoundTripsThroughFileEnvironmentAndFlag(_ name: String) throws {
        let key = try #require(Configuration.key(named: name))
        let sample = try #require(Self.samples[name])
        var fromFile = Configuration()
        try fromFile.apply(ConfigurationFile(parsing: "\(name) = \(sample.text)\n", path: "t.conf"))
        let fromEnvironment = try Configuration.load(file: "", environment: [key.environmentVariable: sample.text]).configuration
        let fromFlag = try Configuration.load(
            file: "", environment: [:], commandLine: Configuration.table.flags([key.flag, sample.text]).map { ($0.key, $0.values) }
        ).configuration
        #expect(fromFile.text(of: name) == sample.shown)
        #expect(fromFile != Configuration())
        #expect(fromEnvironment == fromFile)
        #expect(fromFlag == fromFile)
        // What `text(of:)` shows reads back as the same value.
        var reread = Configuration()
        try reread.apply(ConfigurationFile(parsing: "\(name) = \(fromFile.text(of: name))\n", path: "t.conf"))
        #expect(reread == fromFile)
    }

    /// The whole configuration written as a file reads back as itself.
    @Test func fileTextReadsBack() throws {
        var changed = Configuration()
        for (name, sample) in Self.samples { try changed.apply(ConfigurationFile(parsing: "\(name) = \(sample.text)", path: "sample")) }
        var reread = Configuration()
        try reread.apply(ConfigurationFile(parsing: changed.fileText, path: "rendered"))
        #expect(reread == changed)
        try changed.validate()
    }

    @Test func precedenceForANewKey() throws {
        let directory = "/tmp/lstmd-config-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/lstmd.conf"
        try "models_keep = 4\nretrain_start = scratch\nbuffer_fsync = 0.5\n".write(toFile: path, atomically: true, encoding: .utf8)
        let loaded = try Configuration.loadWithSources(
            file: path, environment: ["LSTMD_MODELS_KEEP": "5", "LSTMD_BUFFER_FSYNC": "always"],
            commandLine: [("models_keep", ["6"])])
        #expect(loaded.configuration.modelsKeep == 6)
        #expect(loaded.sources["models_keep"] == .commandLine("--models-keep"))
        #expect(loaded.configuration.bufferFsync == .always)
        #expect(loaded.sources["buffer_fsync"] == .environment("LSTMD_BUFFER_FSYNC"))
        #expect(loaded.configuration.retrainStart == .scratch)
        #expect(loaded.sources["retrain_start"] == .file(path: path, line: 2))
        #expect(loaded.sources["swap_continuity"] == nil)

        let error = #expect(throws: ConfigurationError.self) {
            try Configuration.load(file: path, environment: ["LSTMD_RETRAIN_VALIDATION_FRACTION": "1"])
        }
        #expect(error?.description == "environment variable LSTMD_RETRAIN_VALIDATION_FRACTION: retrain_validation_fraction: must be in (0, 1), got 1.0")
    }

    @Test(arguments: [
        ("buffer_fsync", "sometimes", "must be always or a number of seconds, got 'sometimes'"),
        ("buffer_max_bytes", "lots", "must be a number of bytes (e.g. 268435456 or 256MiB), got 'lots'"),
        ("retrain_start", "lukewarm", "must be warm or scratch, got 'lukewarm'"),
        ("swap_continuity", "blend", "must be replay or reset, got 'blend'"),
        ("label_stride", "2.5", "must be an integer, got '2.5'"),
        ("models_keep", "1", "must be at least 2, got 1"),
        ("retrain_validation_fraction", "0", "must be in (0, 1), got 0.0"),
        ("buffer_fsync", "0", "must be always or in (0, 3600] seconds, got 0.0"),
    ])
    func newKeysRefuseBadValuesNamingKeyAndFlag(_ name: String, _ text: String, _ message: String) throws {
        let flag = try #require(Configuration.key(named: name)).flag
        let error = #expect(throws: ConfigurationError.self) {
            try Configuration.load(file: "", environment: [:], commandLine: [(name, [text])])
        }
        #expect(error?.description == "\(flag): \(name): \(message)")
    }

    @Test func flagsComeFromTheTable() throws {
        let flags = try Configuration.table.flags([
            "--ingest", "tcp://127.0.0.1:1", "--max-timesteps", "8", "--ingest=tcp://127.0.0.1:2", "--hop", "2", "--hop", "3",
            "--retrain-interval", "60",
        ])
        #expect(flags.map(\.key) == ["ingest", "max_timesteps_per_frame", "hop", "retrain_interval"])
        #expect(flags.map(\.values) == [["tcp://127.0.0.1:1", "tcp://127.0.0.1:2"], ["8"], ["3"], ["60"]])
        let misspelt = #expect(throws: (any Error).self) { try Configuration.table.flags(["--retrain-intervall", "60"]) }
        #expect("\(misspelt!)" == "unknown option '--retrain-intervall' (did you mean '--retrain-interval'?)")
    }

    @Test func helpHasALinePerKeyWithItsDefault() {
        let help = Configuration.table.help(defaults: Configuration())
        for key in Configuration.keys {
            #expect(help.contains("\n\(key.flag) <") || help.hasPrefix("\(key.flag) <"), "\(key.flag)")
        }
        #expect(help.contains("--buffer-max-bytes <bytes>: Largest size of the labelled buffer"))
        #expect(help.contains("(default: 268435456)"))
        #expect(help.contains("--max-timesteps-per-frame <n> (or --max-timesteps): "))
    }
}

@Suite struct IngestQueueTests {
    /// The queue's bound holds for any bytes a peer sends: HWM × the largest part libzmq takes ≤
    /// the budget; an explicit receive_hwm wins.
    @Test func hwmAndMessageSizeFollowTheBudgetAndMaxMessageBytes() {
        var configuration = Configuration()
        let defaults = configuration.ingestQueue()
        #expect(defaults.maxMessageSize == (1 << 20) + (1 << 18) + 4096)
        #expect(defaults.highWaterMark == 204)
        #expect(defaults.highWaterMark * defaults.maxMessageSize <= configuration.ingestMemoryLimit)
        configuration.maxMessageBytes = 4096
        configuration.ingestMemoryLimit = 16 << 20
        #expect(configuration.ingestQueue() == (maxMessageSize: 9216, highWaterMark: 1724))
        configuration.receiveHighWaterMark = 7
        #expect(configuration.ingestQueue().highWaterMark == 7)
    }
}
