import Foundation
import LSTMKit
import LSTMTraining

/// What one retraining job is asked to do: written by the daemon as `spec.json` in the job's
/// directory, read by the worker process (`lstmd retrain-worker DIR`).
public struct RetrainJobSpec: Sendable, Codable, Equatable {
    public var job: String
    /// What started it: `interval`, `manual`.
    public var trigger: String
    /// The model serving now (its architecture, classes and window are kept).
    public var modelPath: String
    /// The labelled buffer's directory (read only).
    public var bufferDirectory: String
    /// The original training data, mixed into the training side (`retrain_base_data`).
    public var baseDataPath: String?
    /// A recipe file (`retrain_recipe`); nil: the current model's recipe, else the defaults.
    public var recipePath: String?
    /// From the current weights and scaler (`warm`) or from scratch (`scratch`).
    public var warmStart: Bool
    public var threads: Int
    public var splitBlockSeconds: Double
    public var validationFraction: Double
    public var promoteMargin: Double
    public var maxRecallDrop: Double
    public var minValidationPerClass: Int

    public init(
        job: String, trigger: String, modelPath: String, bufferDirectory: String, baseDataPath: String?, recipePath: String?,
        warmStart: Bool, threads: Int, splitBlockSeconds: Double, validationFraction: Double, promoteMargin: Double,
        maxRecallDrop: Double, minValidationPerClass: Int
    ) {
        (self.job, self.trigger, self.modelPath, self.bufferDirectory) = (job, trigger, modelPath, bufferDirectory)
        (self.baseDataPath, self.recipePath, self.warmStart, self.threads) = (baseDataPath, recipePath, warmStart, threads)
        (self.splitBlockSeconds, self.validationFraction) = (splitBlockSeconds, validationFraction)
        (self.promoteMargin, self.maxRecallDrop, self.minValidationPerClass) = (promoteMargin, maxRecallDrop, minValidationPerClass)
    }
}

/// What a job found: written by the worker as `result.json` next to `candidate.safetensors`.
/// Its JSON is what `lstmctl retrain --wait --json` prints (snake_case keys).
public struct RetrainJobResult: Sendable, Codable, Equatable {
    public struct ModelScore: Sendable, Codable, Equatable {
        public var version: String
        public var accuracy: Double
        public var macroF1: Double

        enum CodingKeys: String, CodingKey {
            case version, accuracy
            case macroF1 = "macro_f1"
        }
    }

    public var job: String
    public var trigger: String
    public var promoted: Bool
    public var reason: String
    public var candidate: ModelScore
    public var current: ModelScore
    public var trainWindows: Int
    public var validationWindows: Int
    /// Training windows per class, before balancing.
    public var classCounts: [String: Int]
    /// Training windows per class after balancing (equal to `classCounts` with class weights).
    public var balancedCounts: [String: Int]
    /// Records left out: classes the model does not have, or the wrong channel count.
    public var skippedRecords: Int
    public var epochs: Int
    public var trainSeconds: Double
    /// Training windows (after balancing) × epochs / training seconds.
    public var windowsPerSecond: Double
    public var durationS: Double
    public var gate: PromotionReport

    enum CodingKeys: String, CodingKey {
        case job, trigger, promoted, reason, candidate, current, epochs, gate
        case trainWindows = "train_windows"
        case validationWindows = "validation_windows"
        case classCounts = "class_counts"
        case balancedCounts = "balanced_counts"
        case skippedRecords = "skipped_records"
        case trainSeconds = "train_seconds"
        case windowsPerSecond = "windows_per_second"
        case durationS = "duration_s"
    }
}

/// The job itself, run in the worker process: reads the buffer, splits it without leakage,
/// trains a candidate with the recipe's rebalancing and augmentation, scores candidate and
/// current model on the same validation windows and applies the promotion gate.
public enum RetrainJob {
    /// Runs `spec`, writing `candidate.safetensors` into `directory`.
    /// - Throws: `RetrainingError` or `TrainingError` when the job cannot produce a candidate.
    /// - Parameters:
    ///   - progress: told what the job is doing (a line each).
    ///   - heartbeat: called at every training step (the worker checks that its daemon lives).
    public static func run(
        _ spec: RetrainJobSpec, directory: URL, progress: (String) -> Void = { _ in }, heartbeat: () -> Void = {}
    ) throws -> RetrainJobResult {
        let started = Date()
        let current = try ModelFile(contentsOf: URL(fileURLWithPath: spec.modelPath))
        let classes = current.classes
        let channels = current.architecture.inputSize
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        let split = ValidationSplit(fraction: spec.validationFraction, blockSeconds: max(1, Int(spec.splitBlockSeconds.rounded())))
        var training: [Dataset.Sample] = []
        var validation: [Dataset.Sample] = []
        var skipped = 0
        for record in try LabelledBuffer.records(in: URL(fileURLWithPath: spec.bufferDirectory)) {
            guard let label = index[record.className], record.channels == channels, record.timesteps >= 1 else {
                skipped += 1
                continue
            }
            let sample = Dataset.Sample(values: record.values, length: record.timesteps, label: label)
            if split.isValidation(record) { validation.append(sample) } else { training.append(sample) }
        }
        if let base = spec.baseDataPath {
            let url = URL(fileURLWithPath: base)
            let data = try DatasetFile.dataset(at: url)
            for sample in data.samples {
                guard let label = sample.label, let mapped = index[data.classNames[label]], data.channels == channels else {
                    skipped += 1
                    continue
                }
                training.append(Dataset.Sample(values: sample.values, length: sample.length, label: mapped))
            }
        }
        progress("\(training.count) training and \(validation.count) validation windows (\(skipped) skipped)")
        guard !training.isEmpty else {
            throw RetrainingError(.unusable, "no labelled training windows of the model's classes in the buffer")
        }
        let configuration = try recipe(spec, current: current)
        let trainer = try Trainer(configuration: configuration)
        let trainStarted = Date()
        let result = try trainer.train(
            Dataset(samples: training, channels: channels, classNames: classes, source: "retraining buffer"),
            provenance: ["trainer": .string("lstmd retraining job \(spec.job)"), "trigger": .string(spec.trigger)],
            warmStart: spec.warmStart ? current : nil
        ) { event in
            heartbeat()
            if case .epoch(let record, _) = event {
                progress("epoch \(record.epoch): loss \(String(format: "%.4f", record.trainLoss))")
            }
        }
        let trainSeconds = Date().timeIntervalSince(trainStarted)
        var candidate = result.model
        try candidate.write(to: directory.appendingPathComponent("candidate.safetensors"))

        let labels = validation.map { $0.label! }
        let currentModel = try LSTMModel(current)
        let candidateModel = try LSTMModel(candidate)
        let gate = PromotionGate(
            margin: spec.promoteMargin, maxRecallDrop: spec.maxRecallDrop, minPerClass: spec.minValidationPerClass)
        let report = gate.evaluate(
            labels: labels, candidate: try predictions(candidateModel, validation),
            current: try predictions(currentModel, validation), classNames: classes)
        func counts(_ values: [Int]) -> [String: Int] {
            Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, values[$0]) })
        }
        let epochs = result.history.epochs.count
        return RetrainJobResult(
            job: spec.job, trigger: spec.trigger, promoted: report.promoted, reason: report.reason,
            candidate: .init(version: candidate.version, accuracy: report.candidate.accuracy, macroF1: report.candidate.macroF1),
            current: .init(version: current.version, accuracy: report.current.accuracy, macroF1: report.current.macroF1),
            trainWindows: training.count, validationWindows: validation.count,
            classCounts: counts(result.plan.countsBefore), balancedCounts: counts(result.plan.countsAfter),
            skippedRecords: skipped, epochs: epochs, trainSeconds: trainSeconds,
            windowsPerSecond: trainSeconds > 0 ? Double(result.plan.balancedSamples * epochs) / trainSeconds : 0,
            durationS: Date().timeIntervalSince(started), gate: report)
    }

    /// The recipe: `retrain_recipe`, else the current model's (its provenance), else the
    /// defaults with class weights; the model's architecture and window are kept, and the whole
    /// training side is trained on (the validation windows are the gate's alone).
    static func recipe(_ spec: RetrainJobSpec, current: ModelFile) throws -> TrainingConfiguration {
        var configuration = TrainingConfiguration()
        if let path = spec.recipePath {
            try configuration.apply(file: URL(fileURLWithPath: path))
        } else {
            if case .object(let stored)? = current.provenance["recipe"] {
                for (key, value) in stored {
                    guard TrainingConfiguration.keys.contains(key), let text = value.stringValue ?? value.numberValue.map({ "\($0)" }) else { continue }
                    try? configuration.set(key, text)
                }
            }
            configuration.balancing = .classWeights
        }
        let architecture = current.architecture
        configuration.hiddenSize = architecture.hiddenSize
        configuration.layers = architecture.numLayers
        configuration.bidirectional = architecture.bidirectional
        configuration.head = architecture.head
        configuration.dense = architecture.dense
        configuration.window = current.window
        configuration.hop = current.hop
        configuration.threads = spec.threads
        configuration.validationFraction = 0
        return configuration
    }

    /// The predicted class of each sample (one forward each: samples may differ in length).
    static func predictions(_ model: LSTMModel, _ samples: [Dataset.Sample]) throws -> [Int] {
        try samples.map { sample in
            let probabilities = try model.forward(sample.values, batchSize: 1, timesteps: sample.length, threads: 1).probabilities
            return probabilities.indices.max { probabilities[$0] < probabilities[$1] } ?? 0
        }
    }
}
