import ArgumentParser
import Foundation
import LSTMTraining

// One option per `TrainingConfiguration.keys` entry, same names with dashes. Numeric options
// parse `.unconditional`ly: `--learning-rate -1` takes `-1` as the value (ArgumentParser would
// otherwise read it as a flag and report a missing value), so validation can say what is wrong.

/// The training recipe's options, shared by `train` and `cv`: a recipe file, then flags.
struct RecipeOptions: ParsableArguments {
    @Option(help: "A recipe file of 'key = value' lines (keys as the flags below, with underscores); flags override it.")
    var recipe: String?

    @Option(name: .customLong("hidden-size"), parsing: .unconditional, help: ArgumentHelp("Hidden units per direction H. (\(Self.defaultText("hidden_size")))", valueName: "value"))
    var hiddenSize: String?

    @Option(name: .customLong("layers"), parsing: .unconditional, help: ArgumentHelp("Stacked LSTM layers (1-4). (\(Self.defaultText("layers")))", valueName: "value"))
    var layers: String?

    @Option(name: .customLong("bidirectional"), help: ArgumentHelp("Bidirectional LSTM layers (true/false). (\(Self.defaultText("bidirectional")))", valueName: "value"))
    var bidirectional: String?

    @Option(name: .customLong("head"), help: ArgumentHelp("Pooling head: last or attention. (\(Self.defaultText("head")))", valueName: "value"))
    var head: String?

    @Option(name: .customLong("dense"), parsing: .unconditional, help: ArgumentHelp("Dense ReLU layer widths before the class layer, comma-separated, or none. (\(Self.defaultText("dense")))", valueName: "value"))
    var dense: String?

    @Option(name: .customLong("input-dropout"), parsing: .unconditional, help: ArgumentHelp("Dropout on the input. (\(Self.defaultText("input_dropout")))", valueName: "value"))
    var inputDropout: String?

    @Option(name: .customLong("layer-dropout"), parsing: .unconditional, help: ArgumentHelp("Dropout between stacked LSTM layers. (\(Self.defaultText("layer_dropout")))", valueName: "value"))
    var layerDropout: String?

    @Option(name: .customLong("head-dropout"), parsing: .unconditional, help: ArgumentHelp("Dropout before each dense/class layer. (\(Self.defaultText("head_dropout")))", valueName: "value"))
    var headDropout: String?

    @Option(name: .customLong("scaler"), help: ArgumentHelp("Per-channel scaling fitted on the training split: zscore or minmax. (\(Self.defaultText("scaler")))", valueName: "value"))
    var scaler: String?

    @Option(name: .customLong("balancing"), help: ArgumentHelp("Class balancing: none, oversample, undersample, smote, class-weights. (\(Self.defaultText("balancing")))", valueName: "value"))
    var balancing: String?

    @Option(name: .customLong("smote-neighbours"), parsing: .unconditional, help: ArgumentHelp("k nearest same-class neighbours for SMOTE. (\(Self.defaultText("smote_neighbours")))", valueName: "value"))
    var smoteNeighbours: String?

    @Option(name: .customLong("jitter"), parsing: .unconditional, help: ArgumentHelp("Probability of Gaussian jitter per sample and epoch. (\(Self.defaultText("jitter")))", valueName: "value"))
    var jitter: String?

    @Option(name: .customLong("jitter-sigma"), parsing: .unconditional, help: ArgumentHelp("Jitter standard deviation (scaled units). (\(Self.defaultText("jitter_sigma")))", valueName: "value"))
    var jitterSigma: String?

    @Option(name: .customLong("scaling"), parsing: .unconditional, help: ArgumentHelp("Probability of per-channel magnitude scaling. (\(Self.defaultText("scaling")))", valueName: "value"))
    var scaling: String?

    @Option(name: .customLong("scaling-sigma"), parsing: .unconditional, help: ArgumentHelp("Magnitude scaling standard deviation around 1. (\(Self.defaultText("scaling_sigma")))", valueName: "value"))
    var scalingSigma: String?

    @Option(name: .customLong("time-warp"), parsing: .unconditional, help: ArgumentHelp("Probability of a smooth random time warp. (\(Self.defaultText("time_warp")))", valueName: "value"))
    var timeWarp: String?

    @Option(name: .customLong("time-warp-sigma"), parsing: .unconditional, help: ArgumentHelp("Time-warp speed standard deviation around 1. (\(Self.defaultText("time_warp_sigma")))", valueName: "value"))
    var timeWarpSigma: String?

    @Option(name: .customLong("time-warp-knots"), parsing: .unconditional, help: ArgumentHelp("Time-warp knots. (\(Self.defaultText("time_warp_knots")))", valueName: "value"))
    var timeWarpKnots: String?

    @Option(name: .customLong("slice"), parsing: .unconditional, help: ArgumentHelp("Probability of window slicing (random crop stretched back). (\(Self.defaultText("slice")))", valueName: "value"))
    var slice: String?

    @Option(name: .customLong("slice-ratio"), parsing: .unconditional, help: ArgumentHelp("Fraction of the window a slice keeps. (\(Self.defaultText("slice_ratio")))", valueName: "value"))
    var sliceRatio: String?

    @Option(name: .customLong("validation-fraction"), parsing: .unconditional, help: ArgumentHelp("Stratified hold-out fraction for validation (0: none). (\(Self.defaultText("validation_fraction")))", valueName: "value"))
    var validationFraction: String?

    @Option(name: .customLong("optimizer"), help: ArgumentHelp("adam, adamw, rmsprop or sgd. (\(Self.defaultText("optimizer")))", valueName: "value"))
    var optimizer: String?

    @Option(name: .customLong("learning-rate"), parsing: .unconditional, help: ArgumentHelp("Base learning rate. (\(Self.defaultText("learning_rate")))", valueName: "value"))
    var learningRate: String?

    @Option(name: .customLong("beta1"), parsing: .unconditional, help: ArgumentHelp("Adam beta1. (\(Self.defaultText("beta1")))", valueName: "value"))
    var beta1: String?

    @Option(name: .customLong("beta2"), parsing: .unconditional, help: ArgumentHelp("Adam beta2. (\(Self.defaultText("beta2")))", valueName: "value"))
    var beta2: String?

    @Option(name: .customLong("epsilon"), parsing: .unconditional, help: ArgumentHelp("Adam/RMSprop epsilon. (\(Self.defaultText("epsilon")))", valueName: "value"))
    var epsilon: String?

    @Option(name: .customLong("weight-decay"), parsing: .unconditional, help: ArgumentHelp("Weight decay (decoupled for adamw, L2 in the gradient otherwise). (\(Self.defaultText("weight_decay")))", valueName: "value"))
    var weightDecay: String?

    @Option(name: .customLong("momentum"), parsing: .unconditional, help: ArgumentHelp("SGD momentum. (\(Self.defaultText("momentum")))", valueName: "value"))
    var momentum: String?

    @Option(name: .customLong("nesterov"), help: ArgumentHelp("Nesterov momentum for sgd (true/false). (\(Self.defaultText("nesterov")))", valueName: "value"))
    var nesterov: String?

    @Option(name: .customLong("rho"), parsing: .unconditional, help: ArgumentHelp("RMSprop decay. (\(Self.defaultText("rho")))", valueName: "value"))
    var rho: String?

    @Option(name: .customLong("l1"), parsing: .unconditional, help: ArgumentHelp("L1 penalty on weight matrices. (\(Self.defaultText("l1")))", valueName: "value"))
    var l1: String?

    @Option(name: .customLong("l2"), parsing: .unconditional, help: ArgumentHelp("L2 penalty on weight matrices. (\(Self.defaultText("l2")))", valueName: "value"))
    var l2: String?

    @Option(name: .customLong("clip-norm"), parsing: .unconditional, help: ArgumentHelp("Clip gradients to this global L2 norm (0: off). (\(Self.defaultText("clip_norm")))", valueName: "value"))
    var clipNorm: String?

    @Option(name: .customLong("schedule"), help: ArgumentHelp("constant, step[:EVERY[:FACTOR]], cosine[:WARMUP[:MIN]], plateau[:FACTOR[:PATIENCE[:MIN]]]. (\(Self.defaultText("schedule")))", valueName: "value"))
    var schedule: String?

    @Option(name: .customLong("epochs"), parsing: .unconditional, help: ArgumentHelp("Maximum epochs. (\(Self.defaultText("epochs")))", valueName: "value"))
    var epochs: String?

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: ArgumentHelp("Samples per optimiser step. (\(Self.defaultText("batch_size")))", valueName: "value"))
    var batchSize: String?

    @Option(name: .customLong("patience"), parsing: .unconditional, help: ArgumentHelp("Early stopping: epochs without improvement before stopping (0: off); best weights restored. (\(Self.defaultText("patience")))", valueName: "value"))
    var patience: String?

    @Option(name: .customLong("keep"), help: ArgumentHelp("Weights to keep: best (lowest monitored loss), last, or auto (best with validation data, else last). (\(Self.defaultText("keep")))", valueName: "value"))
    var keep: String?

    @Option(name: .customLong("seed"), parsing: .unconditional, help: ArgumentHelp("Seed for every random choice. (\(Self.defaultText("seed")))", valueName: "value"))
    var seed: String?

    @Option(name: .customLong("threads"), parsing: .unconditional, help: ArgumentHelp("Worker threads (the model depends on it, never on timing). (\(Self.defaultText("threads")))", valueName: "value"))
    var threads: String?

    @Option(name: .customLong("window"), parsing: .unconditional, help: ArgumentHelp("Window W written into the model (0: longest training sample). (\(Self.defaultText("window")))", valueName: "value"))
    var window: String?

    @Option(name: .customLong("hop"), parsing: .unconditional, help: ArgumentHelp("Default hop written into the model (0: W/10). (\(Self.defaultText("hop")))", valueName: "value"))
    var hop: String?

    static func defaultText(_ key: String) -> String {
        "default: " + TrainingConfiguration().value(of: key)
    }

    /// The flags given, as (key, value).
    var given: [(String, String?)] {
        [
            ("hidden_size", hiddenSize),
            ("layers", layers),
            ("bidirectional", bidirectional),
            ("head", head),
            ("dense", dense),
            ("input_dropout", inputDropout),
            ("layer_dropout", layerDropout),
            ("head_dropout", headDropout),
            ("scaler", scaler),
            ("balancing", balancing),
            ("smote_neighbours", smoteNeighbours),
            ("jitter", jitter),
            ("jitter_sigma", jitterSigma),
            ("scaling", scaling),
            ("scaling_sigma", scalingSigma),
            ("time_warp", timeWarp),
            ("time_warp_sigma", timeWarpSigma),
            ("time_warp_knots", timeWarpKnots),
            ("slice", slice),
            ("slice_ratio", sliceRatio),
            ("validation_fraction", validationFraction),
            ("optimizer", optimizer),
            ("learning_rate", learningRate),
            ("beta1", beta1),
            ("beta2", beta2),
            ("epsilon", epsilon),
            ("weight_decay", weightDecay),
            ("momentum", momentum),
            ("nesterov", nesterov),
            ("rho", rho),
            ("l1", l1),
            ("l2", l2),
            ("clip_norm", clipNorm),
            ("schedule", schedule),
            ("epochs", epochs),
            ("batch_size", batchSize),
            ("patience", patience),
            ("keep", keep),
            ("seed", seed),
            ("threads", threads),
            ("window", window),
            ("hop", hop),
        ]
    }

    /// Defaults, then the recipe file, then the flags.
    func configuration() throws -> TrainingConfiguration {
        var configuration = TrainingConfiguration()
        do {
            if let recipe { try configuration.apply(file: URL(fileURLWithPath: recipe)) }
            for (key, value) in given {
                if let value { try configuration.set(key, value) }
            }
            try configuration.validate()
        } catch let error as TrainingError {
            throw InputError(error.message, exitCode: InputError.configuration)
        }
        return configuration
    }
}
