import ArgumentParser
import Daemon
import LSTMKit

/// Command-line options of `lstmd`; each overrides the configuration default.
struct DaemonOptions: ParsableArguments {
    @Option(name: .long, help: "Model file (.safetensors). Default: the bundled BasicMotions model.")
    var model: String?

    @Option(name: .long, help: "PULL endpoint for frames (repeatable). Default: tcp://127.0.0.1:5555.")
    var ingest: [String] = []

    @Option(name: .long, help: "PUB endpoint for labels (repeatable). Default: tcp://127.0.0.1:5556.")
    var publish: [String] = []

    @Option(name: .long, help: "REP endpoint for control requests (repeatable). Default: tcp://127.0.0.1:5557.")
    var control: [String] = []

    @Option(name: .long, help: "Streaming mode: window or continuous. Default: the model's.")
    var mode: StreamingMode?

    @Option(name: .long, help: "Timesteps between labels. Default: the model's hop.")
    var hop: Int?

    @Option(name: .customLong("max-streams"), help: "Most concurrent streams (default 10000).")
    var maxStreams: Int?

    @Option(name: .customLong("idle-timeout"), help: "Seconds before an idle stream is evicted (default 60).")
    var idleTimeout: Double?

    @Option(name: .customLong("max-timesteps"), help: "Most timesteps per frame (default 4096).")
    var maxTimesteps: Int?

    @Option(name: .customLong("max-message-bytes"), help: "Largest frame payload in bytes (default 1048576).")
    var maxMessageBytes: Int?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (default info).")
    var logLevel: String?

    /// The configuration these options describe.
    func configuration() throws -> Configuration {
        var configuration = Configuration()
        configuration.modelPath = model
        if !ingest.isEmpty { configuration.ingestEndpoints = ingest }
        if !publish.isEmpty { configuration.publishEndpoints = publish }
        if !control.isEmpty { configuration.controlEndpoints = control }
        configuration.mode = mode
        configuration.hop = hop
        if let maxStreams { configuration.maxStreams = maxStreams }
        if let idleTimeout { configuration.idleTimeout = idleTimeout }
        if let maxTimesteps { configuration.maxTimestepsPerFrame = maxTimesteps }
        if let maxMessageBytes { configuration.maxMessageBytes = maxMessageBytes }
        if let logLevel { configuration.logLevel = logLevel }
        do {
            try configuration.validate()
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
        return configuration
    }
}

extension StreamingMode: ExpressibleByArgument {}
