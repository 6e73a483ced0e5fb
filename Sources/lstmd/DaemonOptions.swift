import ArgumentParser
import Daemon
import Foundation

/// Command-line options of `lstmd`. Each sets the configuration key of the same name (dashes for
/// underscores) and wins over the configuration file and the `LSTMD_*` environment variables.
struct DaemonOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Configuration file (key = value lines). Default: $LSTMD_CONFIG, else $CONFIGURATION_DIRECTORY/lstmd.conf when it exists; '' reads none.",
            valueName: "path"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("Model file (.safetensors). Default: the bundled BasicMotions model.", valueName: "path"))
    var model: String?

    @Option(name: .long, help: ArgumentHelp("PULL endpoint for frames (repeatable). Default: tcp://127.0.0.1:5555.", valueName: "endpoint"))
    var ingest: [String] = []

    @Option(name: .long, help: ArgumentHelp("PUB endpoint for labels (repeatable). Default: tcp://127.0.0.1:5556.", valueName: "endpoint"))
    var publish: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "REP endpoint for control requests (repeatable; '' for none). Default: ipc://$RUNTIME_DIRECTORY/control.sock under systemd, else tcp://127.0.0.1:5557.",
            valueName: "endpoint"))
    var control: [String] = []

    @Option(name: .long, help: ArgumentHelp("Streaming mode: window or continuous. Default: the model's.", valueName: "mode"))
    var mode: String?

    @Option(name: .long, help: ArgumentHelp("Timesteps between labels. Default: the model's hop.", valueName: "n"))
    var hop: String?

    @Option(name: .customLong("max-streams"), help: ArgumentHelp("Most concurrent streams (default 10000).", valueName: "n"))
    var maxStreams: String?

    @Option(name: .customLong("idle-timeout"), help: ArgumentHelp("Seconds before an idle stream is evicted (default 60).", valueName: "seconds"))
    var idleTimeout: String?

    @Option(name: .customLong("stop-drain-timeout"), help: ArgumentHelp("At stop, seconds spent classifying frames already queued (default 5).", valueName: "seconds"))
    var stopDrainTimeout: String?

    @Option(
        name: [.customLong("max-timesteps-per-frame"), .customLong("max-timesteps")],
        help: ArgumentHelp("Most timesteps per frame (default 4096).", valueName: "n"))
    var maxTimesteps: String?

    @Option(name: .customLong("max-message-bytes"), help: ArgumentHelp("Largest frame payload in bytes (default 1048576).", valueName: "bytes"))
    var maxMessageBytes: String?

    @Option(name: .customLong("receive-hwm"), help: ArgumentHelp("Frames that may queue on the ingest socket (default 100000).", valueName: "messages"))
    var receiveHWM: String?

    @Option(name: .customLong("send-hwm"), help: ArgumentHelp("Labels that may queue per subscriber (default 100000).", valueName: "messages"))
    var sendHWM: String?

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info, notice, warning, error or critical (default info).", valueName: "level"))
    var logLevel: String?

    @Option(name: .customLong("log-destination"), help: ArgumentHelp("auto, journal or stderr (default auto: the journal under systemd).", valueName: "where"))
    var logDestination: String?

    @Option(name: .long, help: ArgumentHelp("host:port of the Prometheus endpoint (/metrics, /healthz); '' turns it off (default off).", valueName: "address"))
    var metrics: String?

    @Option(name: .customLong("state-directory"), help: ArgumentHelp("Directory for persistent state. Default: $STATE_DIRECTORY.", valueName: "path"))
    var stateDirectory: String?

    /// The flags given, as (configuration key, values) pairs.
    var commandLine: [(key: String, values: [String])] {
        var pairs: [(key: String, values: [String])] = []
        func add(_ key: String, _ value: String?) {
            if let value { pairs.append((key, [value])) }
        }
        func add(_ key: String, _ values: [String]) {
            if !values.isEmpty { pairs.append((key, values)) }
        }
        add("model", model)
        add("ingest", ingest)
        add("publish", publish)
        add("control", control)
        add("mode", mode)
        add("hop", hop)
        add("max_streams", maxStreams)
        add("idle_timeout", idleTimeout)
        add("stop_drain_timeout", stopDrainTimeout)
        add("max_timesteps_per_frame", maxTimesteps)
        add("max_message_bytes", maxMessageBytes)
        add("receive_hwm", receiveHWM)
        add("send_hwm", sendHWM)
        add("log_level", logLevel)
        add("log_destination", logDestination)
        add("metrics", metrics)
        add("state_directory", stateDirectory)
        return pairs
    }

    /// The configuration: defaults, systemd's directories, the file, `LSTMD_*` variables, flags.
    /// - Throws: `ConfigurationError` naming the key and where its value came from.
    /// - Returns: also where each key's value came from (absent: the default).
    func configuration(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> (configuration: Configuration, file: String?, sources: [String: ConfigurationSource]) {
        try Configuration.loadWithSources(file: config, environment: environment, commandLine: commandLine)
    }
}
