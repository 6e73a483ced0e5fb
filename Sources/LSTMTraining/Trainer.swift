import Foundation
import LSTMKit

/// What the trainer reports while it runs.
public enum TrainingEvent: Sendable {
    /// Before the first epoch: the split, class counts before and after balancing, parameters.
    case started(TrainingPlan)
    /// After each optimiser step of an epoch.
    case batch(epoch: Int, step: Int, steps: Int, loss: Double)
    /// After each epoch; `improved` when it is the best so far (its weights are kept).
    case epoch(EpochRecord, improved: Bool)
    /// A problem found while training, e.g. training accuracy still near chance after
    /// `ChanceCheck.epoch` epochs; also kept in `TrainingResult.warnings`.
    case warning(epoch: Int, message: String)
    /// An ensemble's member `index` (0-based, of `count`) starts training; the `batch`, `epoch`
    /// and `warning` events up to the next `member` event are its own. Members trained on
    /// other threads at the same time report nothing (their results are in
    /// `TrainingResult.members`), so the events cover the whole run's wall time.
    case member(index: Int, count: Int)
}

/// The shape of a training run, known before the first epoch.
public struct TrainingPlan: Sendable {
    /// The training data's classes, in the model's output order.
    public var classNames: [String]
    /// Samples in the training split, before balancing.
    public var trainSamples: Int
    /// Samples an epoch trains on: the training split after balancing (`countsAfter`'s sum).
    public var balancedSamples: Int
    /// The balancing strategy that turned `countsBefore` into `countsAfter`.
    public var balancing: BalancingStrategy
    /// Samples in the validation data (0 without any).
    public var validationSamples: Int
    /// Training samples per class before and after balancing.
    public var countsBefore: [Int]
    public var countsAfter: [Int]
    /// Per-class loss weights with `class-weights` balancing.
    public var classWeights: [Float]?
    /// Trainable parameters, `Architecture.parameterCount` (what `lstmctl inspect` shows).
    public var parameters: Int
    public var stepsPerEpoch: Int
    public var epochs: Int
    /// Problems the run does not stop for but a person should fix or accept, e.g. a window
    /// written into the model that differs from the training samples' lengths; printed before
    /// the first epoch and kept in the report.
    public var warnings: [String] = []
    /// Remarks on how the run is scored, e.g. validation data holding only some classes;
    /// printed before the first epoch and kept in the report.
    public var notes: [String] = []
    /// The raw training data's lengths, amplitude spread and class balance, with suggestions.
    public var data: DataSummary? = nil
    /// The preprocessing written into the model (`downsample auto` resolved).
    public var preprocessing: Preprocessing = .none
    /// Ensemble members trained (`parameters` counts all of them).
    public var ensemble = 1
}

/// A trained model and how it got there.
public struct TrainingResult: Sendable {
    /// The model with the best monitored weights, scaler and provenance; not yet written.
    public var model: ModelFile
    public var plan: TrainingPlan
    public var history: TrainingHistory
    /// The restored model on the validation split (nil without one).
    public var validation: ClassificationMetrics?
    /// Wall-clock seconds of the whole run.
    public var seconds: Double
    /// Warnings raised while training (`TrainingEvent.warning`), for the report.
    public var warnings: [String] = []
    /// An ensemble's members in order, each a single model's result (its recipe with the
    /// member's seed and threads); empty for a single model. `model`, `validation` and `seconds`
    /// above are then the ensemble's, `history` member 0's.
    public var members: [TrainingResult] = []
}

/// Trains a classifier with the recipe in a `TrainingConfiguration`.
///
/// Order of operations: the model's preprocessing (`Preprocessing`: per-sample normalisation,
/// downsampling) of every sample, stratified hold-out split (or the given validation set), scaler
/// fitted on the training split only (the identity with per-sample normalisation), rebalancing of the training split in scaled space, then epochs of
/// shuffled mini-batches with on-the-fly augmentation and dropout, one optimiser step per batch,
/// validation after each epoch driving the schedule and early stopping (monitored: validation
/// loss, or training loss without validation data); the best epoch's weights are restored when
/// there is validation data, the last epoch's otherwise (`TrainingConfiguration.keep`).
public struct Trainer: Sendable {
    public let configuration: TrainingConfiguration

    /// - Throws: `TrainingError` when the configuration is invalid.
    public init(configuration: TrainingConfiguration) throws {
        try configuration.validate()
        self.configuration = configuration
    }

    /// Trains on `dataset`.
    /// - Parameters:
    ///   - validation: a separate validation set; when nil, `validationFraction` of `dataset` is held out.
    ///   - provenance: extra provenance fields (for example `dataset_digest`, `trainer`).
    ///   - progress: called on the calling thread with every event.
    ///   - warmStart: a model to start from (fine-tuning): its weights replace the seeded
    ///     initialisation and its scaler replaces fitting one. Its architecture and classes must
    ///     be what this configuration and `dataset` make.
    /// - Throws: `TrainingError` when the data cannot be trained on.
    ///   An ensemble (`ensemble` > 1) trains its members as `trainEnsemble` describes.
    public func train(
        _ dataset: Dataset, validation: Dataset? = nil, provenance: [String: JSONValue] = [:],
        warmStart: ModelFile? = nil, progress: (TrainingEvent) -> Void = { _ in }
    ) throws -> TrainingResult {
        if let warmStart, warmStart.ensemble != configuration.ensemble {
            throw TrainingError(
                "the warm-start model holds \(warmStart.ensemble) ensemble member(s); the recipe's ensemble is \(configuration.ensemble)")
        }
        guard configuration.ensemble > 1 else {
            return try trainMember(
                dataset, validation: validation, provenance: provenance, warmStart: warmStart, splitSeed: configuration.seed,
                progress: progress)
        }
        return try trainEnsemble(
            dataset, validation: validation, provenance: provenance, warmStart: warmStart, progress: progress)
    }

    /// One model: `train` for a single model, or one ensemble member (`splitSeed`: the recipe's
    /// seed, so every member holds out the same validation samples).
    func trainMember(
        _ dataset: Dataset, validation: Dataset?, provenance: [String: JSONValue],
        warmStart: ModelFile?, splitSeed: UInt64, progress: (TrainingEvent) -> Void
    ) throws -> TrainingResult {
        let started = Date()
        let config = configuration
        let k = dataset.classNames.count
        try dataset.checkLabelled(as: "training data")
        let trainingCounts = dataset.classCounts
        let presentClasses = trainingCounts.indices.filter { trainingCounts[$0] > 0 }
        guard presentClasses.count >= 2 else {
            throw TrainingError(
                "training data \(dataset.displayName) holds samples of only one class ('\(dataset.classNames[presentClasses[0]])'); "
                    + "a classifier needs at least two")
        }
        var notes: [String] = []
        var validation = validation
        if let given = validation {
            let (aligned, note) = try Self.align(given, to: dataset)
            validation = aligned
            if let note { notes.append(note) }
        }

        // Split, scale, rebalance.
        let labels = dataset.samples.map { $0.label! }
        var trainIndices = Array(dataset.samples.indices)
        var validationIndices: [Int] = []
        if validation == nil && config.validationFraction > 0 {
            (trainIndices, validationIndices) = Splitting.stratifiedHoldout(
                labels: labels, classCount: k, validationFraction: config.validationFraction, seed: splitSeed)
        }
        let preprocessing = warmStart?.preprocessing ?? config.preprocessing(longest: dataset.maxLength)
        // Window and hop in raw timesteps, whole blocks of the downsampling factor: refused here,
        // before any preprocessing, scaling, rebalancing or thread is paid for.
        let block = preprocessing.downsample
        guard block <= dataset.maxLength else {
            throw TrainingError(
                "--downsample \(block) averages blocks longer than the longest training sample (\(dataset.maxLength) timesteps), "
                    + "so every sample would shrink to a single step; use at most \(dataset.maxLength), or auto")
        }
        let rawWindow = config.window > 0 ? config.window : dataset.maxLength
        guard config.hop <= rawWindow else {
            throw TrainingError(
                "--hop \(config.hop) is longer than the window (\(rawWindow) timesteps\(config.window > 0 ? "" : ", the longest training sample")), "
                    + "so the timesteps between two windows would never be classified; use at most \(rawWindow), or a longer --window")
        }
        // Preprocessing (the model's own, applied again by every reader of it), then the scaler.
        let prepared = dataset.preprocessed(by: preprocessing)
        let scaler = warmStart?.scaler
            ?? (preprocessing.normalization == .perSample
                ? Scaler.identity(channels: dataset.channels) : Scaler.fit(config.scaler, on: prepared, indices: trainIndices))
        let trainSplit = prepared.subset(trainIndices).scaled(by: scaler)
        let validationSet = (validation?.preprocessed(by: preprocessing)
            ?? (validationIndices.isEmpty ? nil : prepared.subset(validationIndices)))?.scaled(by: scaler)
        let balanced = Rebalancer.rebalance(
            trainSplit, strategy: config.balancing, seed: config.seed &+ 17, neighbours: config.smoteNeighbours)
        let classWeights = config.balancing == .classWeights ? Rebalancer.classWeights(counts: trainSplit.classCounts) : nil

        let architecture = config.architecture(inputSize: dataset.channels, classes: k)
        let layout = ParameterLayout(architecture)
        let longest = max(balanced.maxLength, validationSet?.maxLength ?? 0)
        let runner = BatchRunner(layout: layout, threads: config.threads, batchSize: config.batchSize, longest: longest)
        defer { runner.close() }
        let weightBuffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(1, k))
        defer { weightBuffer.deallocate() }
        if let classWeights { _ = weightBuffer.initialize(from: classWeights) }
        let weightPointer = classWeights == nil ? nil : UnsafePointer(weightBuffer.baseAddress!)
        if let warmStart {
            var shape = warmStart.architecture
            shape.dropout = architecture.dropout  // dropout is the recipe's; the shape must match
            guard shape == architecture else {
                throw TrainingError(
                    "the warm-start model's architecture (\(warmStart.architecture)) is not the recipe's (\(architecture))")
            }
            guard warmStart.classes == dataset.classNames else {
                throw TrainingError("the warm-start model's classes \(warmStart.classes) are not the data's \(dataset.classNames)")
            }
        }
        var parameters = warmStart.map { layout.parameters(from: $0) } ?? layout.initialParameters(seed: config.seed)
        var optimizer = try Self.optimizer(config.optimizer, layout: layout)
        var rates = LearningRateController(schedule: config.schedule, base: config.optimizer.learningRate, epochs: config.epochs)
        var gradient = [Float](repeating: 0, count: layout.count)

        let steps = (balanced.samples.count + config.batchSize - 1) / config.batchSize
        let window = max(block, rawWindow / block * block)
        // A hop up to the window stays within it once both are whole blocks.
        let rawHop = config.hop > 0 ? min(config.hop, window) : max(1, window / 10)
        let hop = max(block, rawHop / block * block)
        var warnings = Self.windowWarning(window: window, hop: hop, samples: dataset).map { [$0] } ?? []
        if block > 1 && (config.window > 0 && window != config.window || config.hop > 0 && hop != config.hop) {
            warnings.append(
                "window and hop are whole blocks of downsample \(block): window \(rawWindow) → \(window), hop \(config.hop > 0 ? config.hop : rawHop) → \(hop) timesteps")
        }
        let plan = TrainingPlan(
            classNames: dataset.classNames, trainSamples: trainSplit.samples.count,
            balancedSamples: balanced.samples.count, balancing: config.balancing,
            validationSamples: validationSet?.samples.count ?? 0, countsBefore: trainSplit.classCounts,
            countsAfter: balanced.classCounts, classWeights: classWeights, parameters: architecture.parameterCount,
            stepsPerEpoch: steps, epochs: config.epochs, warnings: warnings, notes: notes,
            data: DataSummary(
                dataset.subset(trainIndices), normalizesPerSample: preprocessing.normalization == .perSample,
                downsamples: preprocessing.downsample > 1),
            preprocessing: preprocessing)
        progress(.started(plan))
        var runWarnings: [String] = []
        let balancedCounts = balanced.classCounts
        let balancedMajority = Double(balancedCounts.max() ?? 0) / Double(max(1, balanced.samples.count))

        var history = TrainingHistory(epochs: [], bestEpoch: nil, stoppedEarly: false)
        var best = (loss: Double.infinity, parameters: parameters)
        /// The weights after each of the last `swa` epochs, oldest first.
        var recent: [[Float]] = []
        var order = Array(balanced.samples.indices)
        var shuffler = SplitMix64(seed: config.seed &+ 29)
        for epoch in 1...config.epochs {
            let epochStart = Date()
            let rate = rates.rate
            order.shuffle(using: &shuffler)
            var totals = BatchRunner.Totals()
            for step in 0..<steps {
                let batch = order[(step * config.batchSize)..<min(order.count, (step + 1) * config.batchSize)]
                let seed = config.seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(epoch) << 32 &+ UInt64(step)
                let result = parameters.withUnsafeBufferPointer { p in
                    runner.trainStep(
                        parameters: p.baseAddress!, samples: balanced.samples, batch: batch, classWeights: weightPointer,
                        augmentation: config.augmentation, seed: seed)
                }
                gradient.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: runner.gradient, count: layout.count) }
                optimizer.step(parameters: &parameters, gradients: &gradient, learningRate: rate)
                // The front end's running statistics (frozen for the optimiser) follow the batch.
                runner.updateRunningStatistics(&parameters)
                totals.weightedLoss += result.weightedLoss
                totals.weightSum += result.weightSum
                totals.correct += result.correct
                progress(.batch(epoch: epoch, step: step + 1, steps: steps, loss: totals.weightedLoss / totals.weightSum))
            }
            var record = EpochRecord(
                epoch: epoch, trainLoss: totals.weightedLoss / totals.weightSum,
                trainAccuracy: Double(totals.correct) / Double(balanced.samples.count), learningRate: Double(rate),
                seconds: 0)
            var monitored = record.trainLoss
            if let validationSet {
                let (metrics, loss) = Self.evaluate(runner, parameters: parameters, on: validationSet)
                record.validationLoss = loss
                record.validationAccuracy = metrics.accuracy
                record.validationMacroF1 = metrics.macroF1
                monitored = loss
            }
            guard monitored.isFinite, parameters.allSatisfy(\.isFinite) else {
                throw TrainingError(
                    "training diverged at epoch \(epoch) (loss \(monitored)); lower the learning rate or enable clipping")
            }
            record.seconds = Date().timeIntervalSince(epochStart)
            let improved = monitored < best.loss
            if improved {
                best = (monitored, parameters)
                history.bestEpoch = epoch
            }
            history.epochs.append(record)
            progress(.epoch(record, improved: improved))
            if config.swa > 1 {
                if recent.count == config.swa { recent.removeFirst() }
                recent.append(parameters)
            }
            if epoch == min(ChanceCheck.epoch, config.epochs),
                ChanceCheck.isNearChance(accuracy: record.trainAccuracy, majorityRate: balancedMajority)
            {
                let message = ChanceCheck.warning(
                    accuracy: record.trainAccuracy, epoch: epoch, majorityRate: balancedMajority, summary: plan.data!,
                    learningRate: config.optimizer.learningRate, preprocessing: preprocessing)
                runWarnings.append(message)
                progress(.warning(epoch: epoch, message: message))
            }
            rates.finishEpoch(monitoredLoss: monitored)
            if config.patience > 0, let bestEpoch = history.bestEpoch, epoch - bestEpoch >= config.patience, epoch < config.epochs {
                history.stoppedEarly = true
                break
            }
        }
        // A late start is reported once it is clear: halfway from chance to 1.
        if !runWarnings.isEmpty, let last = history.epochs.last, last.epoch > ChanceCheck.epoch,
            last.trainAccuracy >= balancedMajority + 0.5 * (1 - balancedMajority)
        {
            runWarnings.append(
                String(format: "training accuracy rose to %.3f by epoch %d: the near-chance warning of epoch %d no longer applies",
                    last.trainAccuracy, last.epoch, min(ChanceCheck.epoch, config.epochs)))
        }
        let keepBest = config.keep == .best || (config.keep == .auto && validationSet != nil)
        if config.swa > 1 {
            parameters = Self.average(recent)
            // Averaged weights need their own normalisation statistics, not the average of the
            // epochs' ones: one more pass over the training data measures them.
            runner.recomputeRunningStatistics(
                &parameters, samples: balanced.samples, batchSize: config.batchSize, augmentation: config.augmentation,
                seed: config.seed &* 0x2545_F491_4F6C_DD1D &+ 0xB4)
            history.bestEpoch = history.epochs.count
            history.selection = .averaged
            history.averagedEpochs = recent.count
        } else if keepBest {
            parameters = best.parameters
            history.selection = validationSet != nil ? .bestValidationLoss : .bestTrainingLoss
        } else {
            history.bestEpoch = history.epochs.count
            history.selection = .last
        }

        var validationMetrics: ClassificationMetrics?
        var validationLoss: Double?
        if let validationSet {
            (validationMetrics, validationLoss) = Self.evaluate(runner, parameters: parameters, on: validationSet)
        }
        var provenanceFields = provenance
        if provenanceFields["trainer"] == nil { provenanceFields["trainer"] = .string("lstmd trainer") }
        provenanceFields["recipe"] = config.json
        provenanceFields["best_epoch"] = history.bestEpoch.map { .number(Double($0)) } ?? .null
        provenanceFields["epochs_run"] = .number(Double(history.epochs.count))
        provenanceFields["class_counts"] = .array(trainSplit.classCounts.map { .number(Double($0)) })
        var validationJSON: [String: JSONValue] = [:]
        if let validationMetrics, let validationLoss {
            validationJSON = [
                "accuracy": .number(validationMetrics.accuracy),
                "balanced_accuracy": .number(validationMetrics.balancedAccuracy),
                "macro_f1": .number(validationMetrics.macroF1), "loss": .number(validationLoss),
                "samples": .number(Double(validationMetrics.count)),
            ]
        }
        provenanceFields["validation"] = .object(validationJSON)
        if let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"].flatMap(Double.init) {
            provenanceFields["created_at"] = .string(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: epoch)))
        }
        let model = ModelFile(
            architecture: architecture, classes: dataset.classNames, window: window,
            hop: hop, scaler: scaler, preprocessing: preprocessing,
            provenance: .object(provenanceFields), tensors: layout.tensors(from: parameters))
        try model.validate()
        return TrainingResult(
            model: model, plan: plan, history: history, validation: validationMetrics,
            seconds: Date().timeIntervalSince(started), warnings: runWarnings)
    }

    /// Validation data with its labels numbered like the training data's classes, and a note
    /// when it holds only some of them.
    /// - Throws: `TrainingError` naming the fault: channels, an unlabelled sample or a class the
    ///   training data lacks (file, line, sample), or fewer than two classes.
    static func align(_ validation: Dataset, to training: Dataset) throws -> (Dataset, note: String?) {
        let (aligned, missing) = try validation.relabelled(
            to: training.classNames, channels: training.channels, role: "validation data",
            owner: "the training data (\(training.displayName))")
        let counts = aligned.classCounts
        let present = training.classNames.indices.filter { counts[$0] > 0 }
        guard present.count >= 2 else {
            let only = training.classNames[present[0]]
            throw TrainingError(
                "validation data \(validation.displayName) holds samples of only one class ('\(only)', \(counts[present[0]]) samples); "
                    + "scoring needs at least two of the training classes (\(training.classNames.joined(separator: ", ")))")
        }
        guard !missing.isEmpty else { return (aligned, nil) }
        let note = "validation data \(validation.displayName) holds \(present.count) of the \(training.classNames.count) training classes "
            + "(none of: \(missing.joined(separator: ", "))): validation metrics cover the classes present "
            + "(balanced accuracy averages their recall; macro-F1 also counts a missing class the model predicts)"
        return (aligned, note)
    }

    /// A warning when the window written into the model differs from the training samples'
    /// lengths: the daemon classifies `window`-step windows, which the model never saw.
    static func windowWarning(window: Int, hop: Int, samples: Dataset) -> String? {
        let longest = samples.maxLength
        let shortest = samples.samples.map(\.length).min() ?? longest
        let lengths = shortest == longest ? "\(longest) timesteps" : "\(shortest)–\(longest) timesteps"
        if window < shortest {
            return "window \(window) is shorter than the training samples (\(lengths)): the model is trained on whole samples, "
                + "but lstmd will classify each stream's last \(window) timesteps (a label every \(hop)), a length it never saw in training. "
                + "Cut the training data into \(window)-step samples, or leave window at 0 (the longest sample, \(longest))."
        }
        if window > longest {
            return "window \(window) is longer than the training samples (\(lengths)): lstmd will wait for \(window) timesteps "
                + "of a stream before its first label and classify \(window)-step windows (a label every \(hop)), longer than any sample "
                + "the model saw in training. Leave window at 0 (the longest sample, \(longest)) unless that is intended."
        }
        return nil
    }

    /// The elementwise mean of equally long weight vectors, summed in order in `Float`.
    static func average(_ weights: [[Float]]) -> [Float] {
        precondition(!weights.isEmpty, "nothing to average")
        var sum = weights[0]
        for other in weights.dropFirst() {
            for index in sum.indices { sum[index] += other[index] }
        }
        let scale = Float(weights.count)
        return sum.map { $0 / scale }
    }

    static func optimizer(_ settings: Optimizer.Settings, layout: ParameterLayout) throws -> Optimizer {
        do {
            return try Optimizer(settings, count: layout.count, penaltyMask: layout.weightMask, frozen: layout.frozenRanges)
        } catch {
            throw TrainingError("\(error)")
        }
    }

    /// Metrics and mean unweighted cross-entropy of `parameters` on already-scaled data.
    static func evaluate(_ runner: BatchRunner, parameters: [Float], on data: Dataset) -> (ClassificationMetrics, Double) {
        let k = runner.layout.architecture.numClasses
        let (probabilities, loss) = parameters.withUnsafeBufferPointer {
            runner.evaluate(parameters: $0.baseAddress!, samples: data.samples)
        }
        let predictions = (0..<data.samples.count).map { row in
            var best = 0
            for j in 1..<k where probabilities[row * k + j] > probabilities[row * k + best] { best = j }
            return best
        }
        let metrics = ClassificationMetrics(
            predictions: predictions, labels: data.samples.map { $0.label! }, classNames: data.classNames)
        return (metrics, loss / Double(max(1, data.samples.count)))
    }
}
