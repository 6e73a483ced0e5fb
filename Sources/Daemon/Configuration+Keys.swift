import KeyValue
import LSTMKit

extension Configuration {
    /// One configuration key: its name in files (`max_streams`), environment
    /// (`LSTMD_MAX_STREAMS`) and on the command line (`--max-streams`), its help, how a value is
    /// read, checked and written.
    public typealias Key = Setting<Configuration>

    /// Every key a configuration file, the environment or the command line may set, in the
    /// order `--help` and the debug listing show them. Adding a key here gives it its file key,
    /// `LSTMD_` variable, flag, help line and range check; document it in
    /// `deploy/config/lstmd.conf` (a test checks that).
    public static let keys: [Key] = table.settings

    /// The keys as a table (file, environment, flags, help).
    public static let table = SettingTable<Configuration>([
        // Model and streaming.
        Key(
            "model", \.modelPath, .optional(.text()), valueName: "path", default: "the bundled BasicMotions model",
            summary: "Model file (.safetensors)."),
        Key(
            "ingest", \.ingestEndpoints, .list("endpoint"), summary: "PULL endpoints frames arrive on (repeatable, or a list).",
            validate: { endpoints("ingest", $0, required: true) }),
        Key(
            "publish", \.publishEndpoints, .list("endpoint"), summary: "PUB endpoints labels leave from (repeatable, or a list).",
            validate: { endpoints("publish", $0, required: true) }),
        Key(
            "control", \.controlEndpoints, .list("endpoint"),
            default: "ipc://$RUNTIME_DIRECTORY/control.sock under systemd, else tcp://127.0.0.1:5557",
            summary: "REP endpoints for JSON control requests (repeatable; '' for none).",
            validate: { endpoints("control", $0, required: false) }),
        Key(
            "model_directory", \.modelDirectoryList, .optional(.list("path")),
            default: "STATE_DIRECTORY/models (when there is a state directory) and /etc/lstmd/models",
            summary: "Directories `lstmctl reload --model` may load from (absolute; symlinks out of them are refused).",
            validate: { list in
                guard let bad = list?.first(where: { !$0.hasPrefix("/") }) else { return nil }
                return "must be absolute paths, got '\(bad)'"
            }),
        Key(
            "max_model_bytes", \.maxModelBytes, .bytes,
            summary: "Largest model file loaded, bytes; a larger one is refused before it is read.",
            validate: Rule.check("in 1KiB...64GiB") { (1024...(64 << 30)).contains($0) }),
        Key(
            "mode", \.mode, .optional(.choice(orEmpty: "the model's")), default: "the model's",
            summary: "Streaming mode: window or continuous."),
        Key(
            "hop", \.hop, .optional(.integer), default: "the model's hop", summary: "Timesteps between labels.",
            validate: Rule.checkIfSet("at least 1") { $0 >= 1 }),
        Key(
            "max_streams", \.maxStreams, .integer,
            summary: "Most concurrent streams; frames of new streams beyond it are dropped (stream_limit).",
            validate: Rule.check("in 1...10000000") { (1...10_000_000).contains($0) }),
        Key(
            "max_streams_per_key", \.maxStreamsPerKey, .integer,
            summary: "With CURVE: most streams one client key may hold; frames of its new streams beyond it are dropped (key_quota); 0 = none.",
            validate: Rule.check("in 0...10000000") { (0...10_000_000).contains($0) }),
        Key(
            "idle_timeout", \.idleTimeout, .seconds, summary: "Seconds without a frame before a stream is evicted.",
            validate: Rule.check("in (0, 1000000] seconds") { $0 > 0 && $0 <= 1e6 }),
        Key(
            "reorder_window", \.reorderWindow, .integer, valueName: "frames",
            summary: "A frame at most this far behind its stream's last sequence is dropped (out_of_order); further back, or sequence 0, restarts the stream.",
            validate: Rule.check("in 0...1000000000") { (0...1_000_000_000).contains($0) }),
        Key(
            "max_connections", \.maxConnections, .integer, valueName: "connections",
            default: "3/4 of the descriptor limit, less 64",
            summary: "Most peer connections open at once; one beyond it is closed at once and counted.",
            validate: Rule.check("in 0...10000000") { (0...10_000_000).contains($0) }),
        Key(
            "stop_drain_timeout", \.stopDrainTimeout, .seconds,
            summary: "At stop, seconds spent classifying frames already queued.",
            validate: Rule.check("in [0, 600] seconds") { $0 >= 0 && $0 <= 600 }),
        Key(
            "max_timesteps_per_frame", \.maxTimestepsPerFrame, .integer, flagAliases: ["--max-timesteps"],
            summary: "Most timesteps one frame may carry.",
            validate: Rule.check("in 1...1000000") { (1...1_000_000).contains($0) }),
        Key(
            "max_message_bytes", \.maxMessageBytes, .bytes, summary: "Largest frame payload, bytes (oversize beyond).",
            validate: Rule.check("in 64...1073741824") { (64...(1 << 30)).contains($0) }),
        Key(
            "ingest_memory_limit", \.ingestMemoryLimit, .bytes,
            summary: "Bytes of frames that may queue per producer connection; the receive HWM is derived from it for the largest frame.",
            validate: Rule.check("in 1048576...68719476736") { ((1 << 20)...(1 << 36)).contains($0) }),
        Key(
            "receive_hwm", \.receiveHighWaterMark, .optional(.integer), valueName: "messages",
            default: "ingest_memory_limit / the largest frame",
            summary: "Frames that may queue per producer connection (ZMQ_RCVHWM; 0 = unlimited), overriding the derived value.",
            validate: Rule.checkIfSet("not negative") { $0 >= 0 }),
        Key(
            "send_hwm", \.sendHighWaterMark, .integer, valueName: "messages",
            summary: "Labels that may queue per subscriber (ZMQ_SNDHWM; 0 = unlimited).",
            validate: { $0 >= 0 ? nil : "must not be negative" }),
        Key(
            "log_level", \.logLevel, .text("level"), summary: "trace, debug, info, notice, warning, error or critical.",
            validate: { level in
                logLevels.contains(level) ? nil : "must be one of \(logLevels.joined(separator: ", ")); got '\(level)'"
            }),
        Key(
            "log_destination", \.logDestination, .text("where"),
            summary: "auto (the journal when stderr is connected to it), journal or stderr.",
            validate: { ["auto", "journal", "stderr"].contains($0) ? nil : "must be auto, journal or stderr; got '\($0)'" }),
        Key(
            "metrics", \.metricsAddress, .optional(.text("host:port")), default: "off",
            summary: "host:port of the Prometheus endpoint (/metrics, /healthz); '' turns it off; port 0 picks one.",
            validate: { address in
                guard let address, hostAndPort(address) == nil else { return nil }
                return "must be host:port (an IPv4 address, [IPv6] or localhost, port 0...65535), got '\(address)'"
            }),
        Key(
            "state_directory", \.stateDirectory, .optional(.text("path")), default: "$STATE_DIRECTORY, else none",
            summary: "Absolute path of the directory for persistent state (labelled buffer, model store).",
            validate: { path in
                guard let path, !path.hasPrefix("/") else { return nil }
                return "must be an absolute path, got '\(path)'"
            }),

        // Authentication.
        Key(
            "curve_directory", \.curveDirectory, .optional(.text("path")), default: "none: CURVE off",
            summary: "Directory with server.key_secret and the allowlists producers, subscribers, operators: every tcp:// endpoint becomes a CURVE server."),
        Key(
            "insecure_tcp", \.insecureTCP, .boolean,
            summary: "Allow plain TCP on endpoints beyond loopback without CURVE: any host that reaches them can inject frames, read labels and control lstmd."),

        // Labelled data and the buffer.
        Key(
            "label_stride", \.labelStride, .optional(.integer), default: "the model's hop",
            summary: "Timesteps between labelled windows cut from a labelled stream.",
            validate: Rule.checkIfSet("at least 1") { $0 >= 1 }),
        Key(
            "buffer_fsync", \.bufferFsync, .bufferFsync,
            summary: "When buffer appends are fsynced (become durable): always, or at most this many seconds later.",
            validate: { fsync in
                guard case .interval(let seconds) = fsync, !(seconds > 0 && seconds <= 3600) else { return nil }
                return "must be always or in (0, 3600] seconds, got \(seconds)"
            }),
        Key(
            "buffer_max_bytes", \.bufferMaxBytes, .bytes,
            summary: "Largest size of the labelled buffer; beyond it records are evicted, every class kept.",
            validate: Rule.check("at least 1 byte") { $0 >= 1 }),

        // Retraining.
        Key(
            "retrain_interval", \.retrainInterval, .seconds,
            summary: "Seconds between automatic retraining jobs (once retrain_min_new windows arrived); 0 = off.",
            validate: Rule.check("in [0, 1000000000] seconds (0: off)") { $0 >= 0 && $0 <= 1e9 }),
        Key(
            "retrain_min_new", \.retrainMinNew, .integer,
            summary: "New labelled windows since the last job needed for an automatic job.",
            validate: Rule.check("at least 0") { $0 >= 0 }),
        Key(
            "retrain_threads", \.retrainThreads, .integer, summary: "Threads of a retraining job.",
            validate: Rule.check("in 1...256") { (1...256).contains($0) }),
        Key(
            "retrain_timeout", \.retrainTimeout, .seconds, summary: "Seconds after which a retraining job is killed.",
            validate: Rule.check("in (0, 1000000000] seconds") { $0 > 0 && $0 <= 1e9 }),
        Key(
            "retrain_base_data", \.retrainBaseData, .optional(.text("path")),
            summary: "Training data file (.ts or CSV) mixed into every job, so classes absent from recent data are kept."),
        Key(
            "retrain_recipe", \.retrainRecipe, .optional(.text("path")),
            default: "the current model's recipe, else the built-in one", summary: "Recipe file for retraining jobs."),
        Key(
            "retrain_start", \.retrainStart, .choice(),
            summary: "warm (from the current weights and scaler) or scratch (fresh weights, scaler refitted)."),
        Key(
            "retrain_split_block", \.retrainSplitBlock, .seconds,
            summary: "Seconds of a stream that form one unit of the validation split.",
            validate: Rule.check("in (0, 1000000000] seconds") { $0 > 0 && $0 <= 1e9 }),
        Key(
            "retrain_validation_fraction", \.retrainValidationFraction, .number,
            summary: "Fraction of split units used for validation.",
            validate: Rule.check("in (0, 1)") { $0 > 0 && $0 < 1 }),
        Key(
            "retrain_promote_margin", \.retrainPromoteMargin, .number,
            summary: "Macro-F1 a candidate must gain over the current model to be promoted.",
            validate: Rule.check("at least 0") { $0 >= 0 && $0.isFinite }),
        Key(
            "retrain_max_recall_drop", \.retrainMaxRecallDrop, .number,
            summary: "Largest drop of any class's recall a promoted candidate may show.",
            validate: Rule.check("in [0, 1]") { $0 >= 0 && $0 <= 1 }),
        Key(
            "retrain_min_validation_per_class", \.retrainMinValidationPerClass, .integer,
            summary: "Validation windows every class needs before a candidate may be promoted.",
            validate: Rule.check("at least 0") { $0 >= 0 }),
        Key(
            "models_keep", \.modelsKeep, .integer,
            summary: "Models kept in the store (the current and previous are never pruned).",
            validate: Rule.check("at least 2") { $0 >= 2 }),
        Key(
            "swap_continuity", \.swapContinuity, .choice(),
            summary: "After a model swap: replay each stream's last window through the new model, or reset it."),
    ])

    private static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    private static func endpoints(_ key: String, _ list: [String], required: Bool) -> String? {
        if required && list.isEmpty { return "at least one \(key) endpoint is needed" }
        for endpoint in list where !["tcp://", "ipc://", "inproc://"].contains(where: { endpoint.hasPrefix($0) }) {
            return "endpoint '\(endpoint)' must start with tcp://, ipc:// or inproc://"
        }
        return nil
    }

    /// The key called `name`, if there is one.
    public static func key(named name: String) -> Key? {
        table.setting(named: name)
    }

    /// The value of `key` as a configuration file would spell it (`""` for unset), for the
    /// debug listing of the resolved configuration at start.
    public func text(of key: String) -> String {
        Self.table.setting(named: key)?.text(in: self) ?? "?"
    }

    /// Every key as `key = value` lines: a configuration file that gives this configuration.
    public var fileText: String { Self.table.render(self) }
}

extension Setting where Root == Configuration {
    /// The environment variable that sets this key (`LSTMD_MAX_STREAMS`).
    public var environmentVariable: String { environmentVariable(prefix: Configuration.environmentPrefix) }
}
