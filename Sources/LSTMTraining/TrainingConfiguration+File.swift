import Foundation
import KeyValue
import LSTMKit

extension TrainingConfiguration {
    /// One recipe setting: its key in recipe files (`learning_rate`), its flag
    /// (`--learning-rate`), help, how its value is read, checked and written.
    public typealias Setting = KeyValue.Setting<TrainingConfiguration>

    /// Every recipe setting, in the order recipe files, `--help`, reports and the JSON in a
    /// model's provenance list them. A setting declared here has its recipe key, its `lstmctl
    /// train`/`cv` flag, its help line and its range check; list it in
    /// `deploy/config/train.recipe` (a test checks that).
    public static let table = SettingTable<TrainingConfiguration>([
        // Architecture.
        Setting(
            "hidden_size", \.hiddenSize, .integer, summary: "Hidden units per direction H.",
            validate: rule("in 1...8192") { (1...8192).contains($0) }),
        Setting("layers", \.layers, .integer, summary: "Stacked LSTM layers (1-4).", validate: rule("in 1...4") { (1...4).contains($0) }),
        Setting("bidirectional", \.bidirectional, .boolean, summary: "Bidirectional LSTM layers (true/false)."),
        Setting("head", \.head, .choice(), summary: "Pooling head: last or attention."),
        Setting(
            "dense", \.dense, denseWidths, summary: "Dense ReLU layer widths before the class layer, comma-separated, or none.",
            validate: { widths in
                guard widths.contains(where: { !(1...65_536).contains($0) }) else { return nil }
                return "must be widths in 1...65536 (or none), got \(widths.map(String.init).joined(separator: ","))"
            }),
        Setting(
            "front_end", \.frontEnd, frontEndLayers,
            summary: "Convolutional front end before the LSTMs, comma-separated FILTERSxKERNEL layers (each a causal "
                + "Conv1d, batch normalisation and ReLU), e.g. 64x5,64x5, or none.",
            validate: { layers in
                guard layers.count > 4 || layers.contains(where: { !(1...4096).contains($0.filters) || !(1...64).contains($0.kernel) })
                else { return nil }
                return "must be at most 4 layers FILTERSxKERNEL with filters in 1...4096 and kernel in 1...64, got "
                    + layers.map { "\($0.filters)x\($0.kernel)" }.joined(separator: ",")
            }),
        Setting("input_dropout", \.dropout.input, .number, summary: "Dropout on the input.", validate: rule("in [0, 1)", fraction)),
        Setting(
            "layer_dropout", \.dropout.betweenLayers, .number, summary: "Dropout between stacked LSTM layers.",
            validate: rule("in [0, 1)", fraction)),
        Setting(
            "head_dropout", \.dropout.head, .number, summary: "Dropout before each dense/class layer.",
            validate: rule("in [0, 1)", fraction)),

        // Data.
        Setting(
            "normalize", \.normalize, .choice(),
            summary: "Normalisation stored in the model: global (the scaler alone) or per-sample (each sample/window "
                + "z-normalised per channel on its own; the scaler is then the identity)."),
        Setting(
            "downsample", \.downsample, downsampleFactor,
            summary: "Average blocks of K raw timesteps into one model step (stored in the model): K (1: none), or auto "
                + "(K so the longest training sample becomes ≤ 200 steps).",
            validate: rule("≥ 1 or auto") { $0 >= 0 && $0 <= 100_000 }),
        Setting("scaler", \.scaler, .choice(), summary: "Per-channel scaling fitted on the training split: zscore or minmax."),
        Setting(
            "balancing", \.balancing, .choice(), summary: "Class balancing: none, oversample, undersample, smote, class-weights."),
        Setting(
            "smote_neighbours", \.smoteNeighbours, .integer, summary: "k nearest same-class neighbours for SMOTE.",
            validate: rule("≥ 1") { $0 >= 1 }),
        Setting(
            "jitter", \.augmentation.jitterProbability, .number, summary: "Probability of Gaussian jitter per sample and epoch.",
            validate: rule("in [0, 1]", probability)),
        Setting(
            "jitter_sigma", \.augmentation.jitterSigma, .number, summary: "Jitter standard deviation (scaled units).",
            validate: rule("≥ 0", nonNegative)),
        Setting(
            "scaling", \.augmentation.scalingProbability, .number, summary: "Probability of per-channel magnitude scaling.",
            validate: rule("in [0, 1]", probability)),
        Setting(
            "scaling_sigma", \.augmentation.scalingSigma, .number, summary: "Magnitude scaling standard deviation around 1.",
            validate: rule("≥ 0", nonNegative)),
        Setting(
            "time_warp", \.augmentation.timeWarpProbability, .number, summary: "Probability of a smooth random time warp.",
            validate: rule("in [0, 1]", probability)),
        Setting(
            "time_warp_sigma", \.augmentation.timeWarpSigma, .number, summary: "Time-warp speed standard deviation around 1.",
            validate: rule("≥ 0", nonNegative)),
        Setting("time_warp_knots", \.augmentation.timeWarpKnots, .integer, summary: "Time-warp knots.", validate: rule("≥ 1") { $0 >= 1 }),
        Setting(
            "slice", \.augmentation.sliceProbability, .number,
            summary: "Probability of window slicing (random crop stretched back).", validate: rule("in [0, 1]", probability)),
        Setting(
            "slice_ratio", \.augmentation.sliceRatio, .number, summary: "Fraction of the window a slice keeps.",
            validate: rule("in (0, 1]") { $0 > 0 && $0 <= 1 }),
        Setting(
            "validation_fraction", \.validationFraction, .number,
            summary: "Stratified hold-out fraction for validation (0: none).", validate: rule("in [0, 1)") { $0 >= 0 && $0 < 1 }),

        // Optimisation.
        Setting("optimizer", \.optimizer.kind, .choice(), summary: "adam, adamw, rmsprop or sgd."),
        Setting(
            "learning_rate", \.optimizer.learningRate, .number, summary: "Base learning rate.",
            validate: rule("> 0") { $0 > 0 && $0.isFinite }),
        Setting("beta1", \.optimizer.beta1, .number, summary: "Adam beta1.", validate: rule("in [0, 1)", fraction)),
        Setting("beta2", \.optimizer.beta2, .number, summary: "Adam beta2.", validate: rule("in [0, 1)", fraction)),
        Setting(
            "epsilon", \.optimizer.epsilon, .number, summary: "Adam/RMSprop epsilon.",
            validate: rule("> 0") { $0 > 0 && $0.isFinite }),
        Setting(
            "weight_decay", \.optimizer.weightDecay, .number,
            summary: "Weight decay (decoupled for adamw, L2 in the gradient otherwise).", validate: rule("≥ 0", nonNegative)),
        Setting("momentum", \.optimizer.momentum, .number, summary: "SGD momentum.", validate: rule("in [0, 1)", fraction)),
        Setting("nesterov", \.optimizer.nesterov, .boolean, summary: "Nesterov momentum for sgd (true/false)."),
        Setting("rho", \.optimizer.rho, .number, summary: "RMSprop decay.", validate: rule("in [0, 1)", fraction)),
        Setting("l1", \.optimizer.l1, .number, summary: "L1 penalty on weight matrices.", validate: rule("≥ 0", nonNegative)),
        Setting("l2", \.optimizer.l2, .number, summary: "L2 penalty on weight matrices.", validate: rule("≥ 0", nonNegative)),
        Setting(
            "clip_norm", \.optimizer.clipNorm, .number, summary: "Clip gradients to this global L2 norm (0: off).",
            validate: rule("≥ 0 (0: off)", nonNegative)),
        Setting(
            "schedule", \.schedule, schedule,
            summary: "constant, step[:EVERY[:FACTOR]], cosine[:WARMUP[:MIN]], plateau[:FACTOR[:PATIENCE[:MIN]]]."),
        Setting("epochs", \.epochs, .integer, summary: "Maximum epochs.", validate: rule("≥ 1") { $0 >= 1 }),
        Setting("batch_size", \.batchSize, .integer, summary: "Samples per optimiser step.", validate: rule("≥ 1") { $0 >= 1 }),
        Setting(
            "patience", \.patience, .integer,
            summary: "Early stopping: epochs without improvement before stopping (0: off); best weights restored.",
            validate: rule("≥ 0 (0: off)") { $0 >= 0 }),
        Setting(
            "keep", \.keep, .choice(),
            summary: "Weights to keep: best (lowest monitored loss), last, or auto (best with validation data, else last)."),
        Setting(
            "swa", \.swa, .integer,
            summary: "Weight averaging: the model gets the mean of the last K epochs' weights (0 or 1: off; keep then does not apply).",
            validate: rule("≥ 0 (0: off)") { $0 >= 0 }),

        Setting(
            "ensemble", \.ensemble, .integer,
            summary: "Ensemble members N (1-16) trained with different seeds, stored in one model file; predictions average "
                + "their probabilities (inference costs N times as much; 1: a single model).",
            validate: rule("in 1...16") { (1...ModelFile.maxEnsemble).contains($0) }),

        // Run, and the streaming defaults written into the model.
        Setting("seed", \.seed, .integer, summary: "Seed for every random choice."),
        Setting(
            "threads", \.threads, .integer, summary: "Worker threads (the model depends on it, never on timing).",
            validate: rule("in 1...256") { (1...256).contains($0) }),
        Setting(
            "window", \.window, .integer, summary: "Window W written into the model (0: longest training sample).",
            validate: rule("≥ 0 (0: the longest training sample)") { $0 >= 0 }),
        Setting(
            "hop", \.hop, .integer, summary: "Default hop written into the model (0: W/10).",
            validate: rule("≥ 0 (0: window / 10)") { $0 >= 0 }),
    ])

    /// Every setting's key, in the order `json` and `--help` list them. Flags use the same names
    /// with dashes (`learning_rate` ↔ `--learning-rate`).
    public static let keys: [String] = table.names

    /// Sets one setting from its text form (``ValueSyntax``: `64,32` is a list, `""` an empty
    /// one, quotes and `#` comments as in a recipe file).
    /// - Throws: `TrainingError` naming the key for an unknown key or a malformed value.
    public mutating func set(_ key: String, _ text: String) throws {
        do {
            try set(key, items: ValueSyntax.items(text))
        } catch let error as ValueError {
            throw TrainingError("\(key): \(error.message)")
        }
    }

    /// Sets one setting from its items.
    private mutating func set(_ key: String, items: [String]) throws {
        guard let setting = Self.table.setting(named: key) else { throw TrainingError(Self.unknown(key)) }
        do {
            try setting.apply(items, to: &self)
        } catch {
            throw TrainingError("\(setting.name): \(error.message)")
        }
    }

    private static func unknown(_ key: String) -> String {
        "unknown setting '\(key)'"
            + (table.suggestion(for: key).map { " (did you mean '\($0)'?)" } ?? " (known: \(keys.joined(separator: ", ")))")
    }

    /// The text form of one setting (what `set` reads); `""` for an unknown key.
    public func value(of key: String) -> String {
        Self.table.setting(named: key)?.text(in: self) ?? ""
    }

    /// Every setting as `(key, value)` in `keys` order.
    public var settings: [(key: String, value: String)] {
        Self.table.settings.map { ($0.name, $0.text(in: self)) }
    }

    /// Every setting as a JSON object of strings (stored as the model's `provenance.recipe`).
    /// `ensemble` is left out when it is 1 and `front_end` when it is none (the defaults; `set`
    /// reads them back as such), so a single model without a front end is byte for byte what it
    /// was before ensembles and front ends existed.
    public var json: JSONValue {
        .object(
            Dictionary(
                uniqueKeysWithValues: settings.filter { !($0.key == "ensemble" && $0.value == "1" || $0.key == "front_end" && $0.value == "none") }.map {
                    ($0.key, JSONValue.string($0.value))
                }))
    }

    /// Every setting as a recipe file (`key = value` lines) that `apply(file:)` reads back.
    public var recipeText: String { Self.table.render(self) }

    /// Reads a recipe file, in the syntax `lstmd.conf` shares (``KeyValueFile``): one
    /// `key = value` per line (`-` or `_` in keys), `#` comments at the start of a line or after
    /// white space, lists comma-separated, values optionally double-quoted. An unknown key (with
    /// the closest known one) and a key set twice (naming both lines) are refused.
    /// - Throws: `TrainingError` with the file and line of the first problem.
    public mutating func apply(file url: URL) throws {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw TrainingError("cannot read recipe file \(url.path): \(error.localizedDescription)")
        }
        try apply(recipe: text, path: url.path)
    }

    /// Reads a recipe's text; errors name `path` and the line.
    /// - Throws: `TrainingError` with `path:line` of the first problem.
    public mutating func apply(recipe text: String, path: String) throws {
        let file: KeyValueFile
        do {
            file = try Self.table.parse(text, path: path)
        } catch {
            let at = error.location
            switch error.reason {
            case .notKeyValue: throw TrainingError("\(at): expected 'key = value', got '\(error.text)'")
            case .unknownKey: throw TrainingError("\(at): \(Self.unknown(error.key))")
            case .duplicate(let first):
                throw TrainingError("\(at): \(error.key) is set twice (first at \(path):\(first)); keep one of them")
            case .malformedKey, .value: throw TrainingError("\(at): \(error.key): \(error.message)")
            }
        }
        for entry in file.entries {
            do {
                try set(entry.key, items: entry.values)
            } catch let error as TrainingError {
                throw TrainingError("\(path):\(entry.line): \(error.message)")
            }
        }
    }

    // MARK: Formats and rules

    /// `none` (or empty) or comma-separated widths.
    private static let denseWidths = ValueFormat<[Int]>(
        valueName: "widths", isList: true,
        parse: { items throws(ValueError) in
            if items.isEmpty || items == ["none"] { return [] }
            return try items.map { item throws(ValueError) in
                guard let width = Int(item) else { throw ValueError("must be none or comma-separated widths, got '\(item)'") }
                return width
            }
        },
        render: { $0.isEmpty ? "none" : $0.map(String.init).joined(separator: ",") })

    /// `none` (or empty) or comma-separated `FILTERSxKERNEL` layers.
    static let frontEndLayers = ValueFormat<[Architecture.ConvolutionLayer]>(
        valueName: "layers", isList: true,
        parse: { items throws(ValueError) in
            if items.isEmpty || items == ["none"] { return [] }
            return try items.map { item throws(ValueError) in
                let parts = item.split(separator: "x", omittingEmptySubsequences: false)
                guard parts.count == 2, let filters = Int(parts[0]), let kernel = Int(parts[1]) else {
                    throw ValueError("must be none or comma-separated FILTERSxKERNEL layers (e.g. 64x5,64x5), got '\(item)'")
                }
                return Architecture.ConvolutionLayer(filters: filters, kernel: kernel)
            }
        },
        render: { $0.isEmpty ? "none" : $0.map { "\($0.filters)x\($0.kernel)" }.joined(separator: ",") })

    /// `auto` (stored as 0) or a factor K ≥ 1.
    private static let downsampleFactor = ValueFormat<Int>.single("K|auto", render: { $0 == 0 ? "auto" : String($0) }) {
        text throws(ValueError) in
        if text == "auto" { return 0 }
        guard let factor = Int(text), factor >= 1 else { throw ValueError("must be a factor K ≥ 1 or auto, got '\(text)'") }
        return factor
    }

    /// `LearningRateSchedule`'s text form.
    private static let schedule = ValueFormat<LearningRateSchedule>.single("schedule", render: { $0.description }) { text throws(ValueError) in
        do {
            return try LearningRateSchedule(parsing: text)
        } catch {
            throw ValueError("\(error)")
        }
    }

    /// `must be <text>, got <value>` (a float without a needless `.0`) when `isValid` fails.
    private static func rule<Value: Sendable>(_ text: String, _ isValid: @escaping @Sendable (Value) -> Bool) -> @Sendable (Value) -> String? {
        { value in
            guard !isValid(value) else { return nil }
            var shown = "\(value)"
            if shown.hasSuffix(".0") { shown.removeLast(2) }
            return "must be \(text), got \(shown)"
        }
    }

    private static func probability(_ value: Float) -> Bool { value >= 0 && value <= 1 }
    private static func fraction(_ value: Float) -> Bool { value >= 0 && value < 1 }
    private static func nonNegative(_ value: Float) -> Bool { value >= 0 && value.isFinite }
}
