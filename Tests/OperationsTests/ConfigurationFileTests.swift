import Daemon
import Foundation
import LSTMKit
import Testing

/// The configuration file format, the layering defaults < systemd < file < LSTMD_* < flags, and
/// errors that name the key and where the value came from.
@Suite struct ConfigurationFileTests {
    private func write(_ text: String) throws -> (URL, String) {
        let directory = try Paths.temporaryDirectory()
        let file = directory.appendingPathComponent("lstmd.conf")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return (directory, file.path)
    }

    @Test func parsesEveryKeyWithCommentsQuotesAndLists() throws {
        let file = try ConfigurationFile(
            parsing: """
                # a comment
                  model = "/models/a #1, b.safetensors"   # trailing comment
                ingest = tcp://127.0.0.1:6000, ipc:///run/x/ingest.sock
                publish=tcp://127.0.0.1:6001
                control =
                mode = continuous
                hop = 5
                max_streams = 1_000
                idle_timeout = 2.5
                max_timesteps_per_frame = 64
                max_message_bytes = 4096
                receive_hwm = 10
                send_hwm = 20
                log_level = debug
                log_destination = stderr
                metrics = [::1]:9999
                state_directory = /var/lib/x#y

                """, path: "test.conf")
        var configuration = Configuration()
        try configuration.apply(file)
        try configuration.validate()
        #expect(configuration.modelPath == "/models/a #1, b.safetensors")
        #expect(configuration.ingestEndpoints == ["tcp://127.0.0.1:6000", "ipc:///run/x/ingest.sock"])
        #expect(configuration.publishEndpoints == ["tcp://127.0.0.1:6001"])
        #expect(configuration.controlEndpoints == [])
        #expect(configuration.mode == .continuous)
        #expect(configuration.hop == 5)
        #expect(configuration.maxStreams == 1000)
        #expect(configuration.idleTimeout == 2.5)
        #expect(configuration.maxTimestepsPerFrame == 64)
        #expect(configuration.maxMessageBytes == 4096)
        #expect(configuration.receiveHighWaterMark == 10)
        #expect(configuration.sendHighWaterMark == 20)
        #expect(configuration.logLevel == "debug")
        #expect(configuration.logDestination == "stderr")
        #expect(configuration.metricsAddress == "[::1]:9999")
        #expect(Configuration.hostAndPort("[::1]:9999")! == ("::1", 9999))
        #expect(configuration.stateDirectory == "/var/lib/x#y")
        #expect(file.entries.map(\.line) == Array(2...17))
    }

    /// A misspelled `LSTMD_*` variable is reported with the closest key's variable; known ones
    /// and those read elsewhere are not.
    @Test func unknownEnvironmentVariablesAreNamedWithTheClosestKey() {
        let unknown = Configuration.unknownEnvironmentVariables([
            "LSTMD_MAX_STREAM": "5", "LSTMD_LOG_LEVEL": "debug", "LSTMD_CONFIG": "/x", "LSTMD_FROBNICATE": "1", "PATH": "/bin",
        ])
        #expect(unknown.map(\.variable) == ["LSTMD_FROBNICATE", "LSTMD_MAX_STREAM"])
        #expect(unknown.first { $0.variable == "LSTMD_MAX_STREAM" }?.suggestion == "LSTMD_MAX_STREAMS")
        #expect(unknown.first { $0.variable == "LSTMD_FROBNICATE" }?.suggestion == nil)
    }

    /// Where a value came from, for messages about values that validated but did not work.
    @Test func sourceOfAKeyFollowsThePrecedence() throws {
        let directory = try Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("lstmd.conf").path
        try "# comment\nmodel = /from/file.safetensors\n".write(toFile: file, atomically: true, encoding: .utf8)
        func source(_ key: String, _ environment: [String: String], _ commandLine: [(key: String, values: [String])] = []) throws
            -> ConfigurationSource
        {
            try Configuration.loadWithSources(file: file, environment: environment, commandLine: commandLine).sources[key] ?? .defaults
        }
        #expect(try source("model", [:]) == .file(path: file, line: 2))
        #expect(try source("model", ["LSTMD_MODEL": "/e"]) == .environment("LSTMD_MODEL"))
        #expect(try source("model", ["LSTMD_MODEL": "/e"], [("model", ["/c"])]) == .commandLine("--model"))
        #expect(try source("hop", [:]) == .defaults)
        #expect(try source("control", ["RUNTIME_DIRECTORY": directory.path]) == .systemd("RUNTIME_DIRECTORY"))
    }

    @Test func emptyValuesMeanTheDefault() throws {
        var configuration = Configuration()
        configuration.hop = 3
        configuration.mode = .window
        configuration.metricsAddress = "127.0.0.1:1"
        try configuration.apply(ConfigurationFile(parsing: "hop =\nmode = \nmetrics = # off\nmodel=\n", path: "x"))
        #expect(configuration.hop == nil)
        #expect(configuration.mode == nil)
        #expect(configuration.metricsAddress == nil)
        #expect(configuration.modelPath == nil)
    }

    struct BadFile: CustomTestStringConvertible, Sendable {
        let text: String
        let key: String
        let line: Int
        let message: String
        var testDescription: String { "\(key): \(message)" }
    }

    static let badFiles: [BadFile] = [
        BadFile(text: "# ok\nmax_stream = 5\n", key: "max_stream", line: 2, message: "unknown key (did you mean 'max_streams'?)"),
        BadFile(text: "frobnicate = 5\n", key: "frobnicate", line: 1, message: "unknown key (known: model, ingest, "),
        BadFile(text: "retrain_start = hot\n", key: "retrain_start", line: 1, message: "must be warm or scratch, got 'hot'"),
        BadFile(text: "buffer_max_bytes = 12 parsecs\n", key: "buffer_max_bytes", line: 1, message: "must be a number of bytes"),
        BadFile(text: "hop = 1\nhop = 2\n", key: "hop", line: 2, message: "set twice (first on line 1)"),
        BadFile(text: "\n\njust words\n", key: "just words", line: 3, message: "expected 'key = value'"),
        BadFile(text: "Max-Streams = 5\n", key: "Max-Streams", line: 1, message: "lower-case letters"),
        BadFile(text: "max_streams = many\n", key: "max_streams", line: 1, message: "must be an integer, got 'many'"),
        BadFile(text: "max_streams =\n", key: "max_streams", line: 1, message: "needs a value"),
        BadFile(text: "hop = 1, 2\n", key: "hop", line: 1, message: "takes one value, got 2"),
        BadFile(text: "idle_timeout = soon\n", key: "idle_timeout", line: 1, message: "must be a number of seconds"),
        BadFile(text: "mode = sliding\n", key: "mode", line: 1, message: "must be window or continuous"),
        BadFile(text: "model = \"/a\n", key: "model", line: 1, message: "unterminated quoted string"),
        BadFile(text: "model = \"/a\" b\n", key: "model", line: 1, message: "unexpected text after a quoted string"),
        BadFile(text: "model = \"/a\\q\"\n", key: "model", line: 1, message: "escapes inside quotes"),
        BadFile(text: "ingest = tcp://a:1,,tcp://b:2\n", key: "ingest", line: 1, message: "empty item in a list"),
        BadFile(text: "ingest = tcp://a:1,\n", key: "ingest", line: 1, message: "empty item in a list"),
    ]

    @Test(arguments: badFiles) func refusesBadLinesNamingKeyAndLine(_ bad: BadFile) throws {
        let error = #expect(throws: ConfigurationError.self) {
            _ = try ConfigurationFile(parsing: bad.text, path: "/etc/lstmd/lstmd.conf")
            var configuration = Configuration()
            try configuration.apply(ConfigurationFile(parsing: bad.text, path: "/etc/lstmd/lstmd.conf"))
        }
        #expect(error?.key == bad.key)
        #expect(error?.source == "/etc/lstmd/lstmd.conf:\(bad.line)")
        #expect(error?.message.contains(bad.message) == true, "\(String(describing: error))")
        #expect(error?.description.hasPrefix("/etc/lstmd/lstmd.conf:\(bad.line): \(bad.key): ") == true)
    }

    /// What the unified syntax adds to the old lstmd.conf dialect: `-` in keys, CRLF line ends,
    /// `\n`/`\t` escapes, byte units.
    @Test func acceptsTheSharedSyntax() throws {
        let file = try ConfigurationFile(
            parsing: "max-streams = 7\r\nmodel = \"/a\\tb\"\r\nbuffer-max-bytes = 1 GiB\nmax_message_bytes = 2KiB\n", path: "x")
        var configuration = Configuration()
        try configuration.apply(file)
        #expect(configuration.maxStreams == 7)
        #expect(configuration.modelPath == "/a\tb")
        #expect(configuration.bufferMaxBytes == 1 << 30)
        #expect(configuration.maxMessageBytes == 2048)
        #expect(file.entries.map(\.key) == ["max_streams", "model", "buffer_max_bytes", "max_message_bytes"])
        let twice = #expect(throws: ConfigurationError.self) { try ConfigurationFile(parsing: "max_streams = 1\nmax-streams = 2\n", path: "x") }
        #expect(twice?.description == "x:2: max_streams: set twice (first on line 1)")
    }

    @Test func rangeErrorsNameTheLineTheValueCameFrom() throws {
        let (directory, path) = try write("# limits\nmax_streams = 0\n")
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = #expect(throws: ConfigurationError.self) {
            try Configuration.load(file: path, environment: [:])
        }
        #expect(error?.key == "max_streams")
        #expect(error?.source == "\(path):2")

        let fromEnvironment = #expect(throws: ConfigurationError.self) {
            try Configuration.load(file: "", environment: ["LSTMD_METRICS": "localhost"])
        }
        #expect(fromEnvironment?.key == "metrics")
        #expect(fromEnvironment?.source == "environment variable LSTMD_METRICS")

        let fromFlag = #expect(throws: ConfigurationError.self) {
            try Configuration.load(file: "", environment: [:], commandLine: [("log_level", ["loud"])])
        }
        #expect(fromFlag?.key == "log_level")
        #expect(fromFlag?.source == "--log-level")
    }

    @Test func layersOverrideInOrder() throws {
        let (directory, path) = try write(
            """
            model = /from/file.safetensors
            hop = 7
            max_streams = 100
            log_level = warning
            control = tcp://127.0.0.1:7000

            """)
        defer { try? FileManager.default.removeItem(at: directory) }
        let environment = [
            "RUNTIME_DIRECTORY": "/run/lstmd", "STATE_DIRECTORY": "/var/lib/lstmd:/var/lib/other",
            "LSTMD_MODEL": "/from/env.safetensors", "LSTMD_HOP": "8", "LSTMD_UNRELATED": "ignored",
        ]
        let (configuration, file) = try Configuration.load(
            file: path, environment: environment, commandLine: [("hop", ["9"]), ("ingest", ["tcp://127.0.0.1:1", "tcp://127.0.0.1:2,ipc:///x"])])
        #expect(file == path)
        #expect(configuration.modelPath == "/from/env.safetensors")  // env beats file
        #expect(configuration.hop == 9)  // flag beats env and file
        #expect(configuration.maxStreams == 100)  // file beats default
        #expect(configuration.logLevel == "warning")
        #expect(configuration.controlEndpoints == ["tcp://127.0.0.1:7000"])  // file beats RUNTIME_DIRECTORY
        #expect(configuration.stateDirectory == "/var/lib/lstmd")  // first of systemd's list
        #expect(configuration.ingestEndpoints == ["tcp://127.0.0.1:1", "tcp://127.0.0.1:2", "ipc:///x"])
        #expect(configuration.idleTimeout == Configuration().idleTimeout)
    }

    @Test func systemdDirectoriesSetDefaults() throws {
        let (configuration, file) = try Configuration.load(
            file: nil, environment: ["RUNTIME_DIRECTORY": "/run/lstmd", "STATE_DIRECTORY": "/var/lib/lstmd"])
        #expect(file == nil)
        #expect(configuration.controlEndpoints == ["ipc:///run/lstmd/control.sock"])
        #expect(configuration.stateDirectory == "/var/lib/lstmd")
        #expect(configuration.ingestEndpoints == Configuration().ingestEndpoints)
        #expect(configuration.metricsAddress == nil)

        let plain = try Configuration.load(file: nil, environment: [:]).configuration
        #expect(plain == Configuration())
    }

    @Test func findsTheFileThroughConfigurationDirectoryAndLSTMDConfig() throws {
        let (directory, path) = try write("hop = 4\n")
        defer { try? FileManager.default.removeItem(at: directory) }
        let viaSystemd = try Configuration.load(file: nil, environment: ["CONFIGURATION_DIRECTORY": directory.path])
        #expect(viaSystemd.file == path)
        #expect(viaSystemd.configuration.hop == 4)
        // A missing default file is no error; a named one is.
        let missing = try Configuration.load(file: nil, environment: ["CONFIGURATION_DIRECTORY": "/nonexistent"])
        #expect(missing.file == nil)
        let viaVariable = try Configuration.load(file: nil, environment: ["LSTMD_CONFIG": path])
        #expect(viaVariable.configuration.hop == 4)
        #expect(try Configuration.load(file: "", environment: ["LSTMD_CONFIG": path]).file == nil)
        let error = #expect(throws: ConfigurationError.self) {
            try Configuration.load(file: "/nonexistent/lstmd.conf", environment: [:])
        }
        #expect(error?.key == "config")
        #expect(error?.message.contains("/nonexistent/lstmd.conf") == true)
    }

    @Test func metricsAddresses() {
        #expect(Configuration.hostAndPort("127.0.0.1:9464")! == ("127.0.0.1", 9464))
        #expect(Configuration.hostAndPort("localhost:0")! == ("localhost", 0))
        for bad in ["127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", "256.0.0.1:1", "host.example:80", "[::1:80", ":80", "1.2.3:4"] {
            #expect(Configuration.hostAndPort(bad) == nil, "\(bad)")
        }
    }

    /// The shipped file parses, documents every key (a line `#key =` or `key =`) with its
    /// default, and changes nothing but `metrics` from the built-in defaults.
    @Test func shippedFileDocumentsEveryKey() throws {
        let path = Paths.packageRoot.appendingPathComponent("deploy/config/lstmd.conf").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let file = try ConfigurationFile(parsing: text, path: path)
        for key in Configuration.keys {
            let documented = text.split(separator: "\n").contains { line in
                let trimmed = line.drop { $0 == "#" }.drop { $0 == " " }
                return trimmed.hasPrefix("\(key.name) =")
            }
            #expect(documented, "\(key.name) is not documented in lstmd.conf")
        }
        #expect(text.components(separatedBy: "Default:").count - 1 >= Configuration.keys.count)
        var configuration = Configuration()
        try configuration.apply(file)
        try configuration.validate()
        var expected = Configuration()
        expected.metricsAddress = "127.0.0.1:9464"
        #expect(configuration == expected)
    }

    /// Each commented-out `#key = value` line of the shipped file shows the default (except the
    /// keys whose line is an example of a path or endpoint).
    @Test func shippedFileShowsTheDefaults() throws {
        let path = Paths.packageRoot.appendingPathComponent("deploy/config/lstmd.conf").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let examples: Set<String> = ["model", "control", "state_directory", "retrain_base_data", "retrain_recipe", "receive_hwm"]
        var checked = 0
        for line in text.split(separator: "\n") where line.hasPrefix("#") {
            let uncommented = String(line.dropFirst())
            guard let name = uncommented.split(separator: "=").first.map({ $0.trimmingCharacters(in: .whitespaces) }),
                Configuration.key(named: name) != nil, !examples.contains(name)
            else { continue }
            var configuration = Configuration()
            try configuration.apply(ConfigurationFile(parsing: uncommented, path: path))
            #expect(configuration == Configuration(), "\(line)")
            checked += 1
        }
        #expect(checked >= Configuration.keys.count - examples.count - 1)
    }
}
