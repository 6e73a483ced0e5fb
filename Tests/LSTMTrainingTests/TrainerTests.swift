import Foundation
import LSTMKit
import Testing

@testable import LSTMTraining

/// A seeded two- or three-class toy problem: class k is a sinusoid with k+1 periods in channel 0
/// plus noise; lengths vary when `variable`.
func toyDataset(samples: Int, classes: Int = 2, length: Int = 24, variable: Bool = false, seed: UInt64 = 3) -> Dataset {
    var generator = SplitMix64(seed: seed)
    let samples = (0..<samples).map { index -> Dataset.Sample in
        let label = index % classes
        let t = variable ? Int(generator.next() % UInt64(length / 2)) + length / 2 : length
        let phase = generator.uniform(0, 6.28)
        var values = [Float](repeating: 0, count: t * 2)
        for step in 0..<t {
            values[step * 2] = sin(Float(label + 1) * 6.28 * Float(step) / Float(length) + phase) + 0.2 * generator.normal()
            values[step * 2 + 1] = 0.5 * generator.normal() + 3
        }
        return Dataset.Sample(values: values, length: t, label: label)
    }
    return Dataset(samples: samples, channels: 2, classNames: (0..<classes).map { "class\($0)" })
}

func smallRecipe() -> TrainingConfiguration {
    var configuration = TrainingConfiguration()
    configuration.hiddenSize = 8
    configuration.layers = 1
    configuration.bidirectional = false
    configuration.validationFraction = 0.2
    configuration.epochs = 30
    configuration.batchSize = 8
    configuration.patience = 0
    configuration.optimizer.learningRate = 1e-2
    return configuration
}

@Suite("Trainer")
struct TrainerTests {
    @Test("Learns a toy task: validation accuracy 1 and a falling loss")
    func converges() throws {
        var configuration = smallRecipe()
        configuration.epochs = 40
        let result = try Trainer(configuration: configuration).train(toyDataset(samples: 100))
        let first = try #require(result.history.epochs.first), last = try #require(result.history.epochs.last)
        #expect(last.trainLoss < first.trainLoss * 0.5, "loss \(first.trainLoss) → \(last.trainLoss)")
        #expect(result.validation?.accuracy == 1, "\(String(describing: result.validation?.accuracy))")
        // The written model classifies the held-out data like the trainer's own evaluation.
        let model = try LSTMModel(result.model)
        let test = try ClassificationMetrics(evaluating: model, on: toyDataset(samples: 40, seed: 99))
        #expect(test.accuracy >= 0.9, "test accuracy \(test.accuracy)")
    }

    /// A convolutional front end trains on two shards of variable-length samples: its running
    /// statistics follow the batches (the model would otherwise normalise with the identity),
    /// the weight-decayed optimiser step leaves them alone, and the written model (the
    /// normalisation folded into the convolution) scores the validation split exactly as the
    /// trainer's own inference-mode evaluation did.
    @Test("A front end learns, its running statistics track the batches, and the model file agrees with the trainer")
    func frontEnd() throws {
        var configuration = smallRecipe()
        configuration.frontEnd = [.init(filters: 6, kernel: 3), .init(filters: 5, kernel: 2)]
        configuration.optimizer.weightDecay = 0.01
        configuration.threads = 2
        configuration.epochs = 30
        let data = toyDataset(samples: 80, length: 24, variable: true)
        let result = try Trainer(configuration: configuration).train(data)
        #expect(result.model.metadata["format_version"] == "4")
        #expect((result.validation?.accuracy ?? 0) >= 0.9, "\(String(describing: result.validation?.accuracy))")
        for layer in 0..<2 {
            let mean = try #require(result.model.tensors["frontend.\(layer).norm.running_mean"]).scalars
            let variance = try #require(result.model.tensors["frontend.\(layer).norm.running_var"]).scalars
            #expect(mean.contains { abs($0) > 1e-3 }, "layer \(layer) running mean never moved: \(mean)")
            #expect(variance.contains { abs($0 - 1) > 1e-3 }, "layer \(layer) running variance never moved: \(variance)")
        }
        let reread = try ModelFile(bytes: result.model.serialized())
        let model = try LSTMModel(reread)
        #expect(model.supportsStep && !model.sharesInputProjection)
        let test = toyDataset(samples: 40, length: 24, variable: true, seed: 99)
        let metrics = try ClassificationMetrics(evaluating: model, on: test)
        #expect(metrics.accuracy >= 0.9, "test accuracy \(metrics.accuracy)")
        // The training engine in inference mode (running statistics, not folded) on the same samples.
        let layout = ParameterLayout(reread.architecture)
        let parameters = layout.parameters(from: reread)
        let scaled = test.scaled(by: reread.scaler)
        let b = scaled.samples.count, t = scaled.maxLength, c = reread.architecture.inputSize
        let workspace = TrainingWorkspace(layout: layout, batchCapacity: b, timestepCapacity: t)
        workspace.prepare(batchSize: b, timesteps: t)
        var raw = [Float](repeating: 0, count: b * t * c)
        for (index, sample) in scaled.samples.enumerated() {
            workspace.lengths[index] = sample.length
            for time in 0..<t {
                for channel in 0..<c {
                    workspace.input[(time * b + index) * c + channel] = time < sample.length ? sample.values[time * c + channel] : 0
                }
            }
            raw.replaceSubrange((index * t * c)..<(index * t * c + test.samples[index].values.count), with: test.samples[index].values)
        }
        var generator = SplitMix64(seed: 0)
        parameters.withUnsafeBufferPointer { workspace.forward(parameters: $0.baseAddress!, training: false, generator: &generator) }
        let forward = try model.forward(raw, batchSize: b, timesteps: t, lengths: scaled.samples.map(\.length))
        let engine = (0..<(b * reread.architecture.numClasses)).map { workspace.probabilities[$0] }
        let difference = zip(engine, forward.probabilities).map { abs($0 - $1) }.max() ?? 0
        #expect(difference <= 1e-5, "trainer and model file differ by \(difference)")
    }

    /// A batch smaller than the thread count leaves the last shard empty: its workspace still
    /// holds the previous batch's statistics, which must not reach the running statistics; the
    /// frozen ranges are exactly those statistics.
    @Test("Running statistics come from the shards that held the batch")
    func runningStatisticsSkipEmptyShards() throws {
        let architecture = Architecture(
            inputSize: 2, hiddenSize: 4, numClasses: 2, frontEnd: [.init(filters: 3, kernel: 2)])
        let layout = ParameterLayout(architecture)
        #expect(layout.frozenRanges.flatMap { Array($0) } == layout.entries.filter { $0.name.contains(".running_") }.flatMap {
            Array($0.offset..<($0.offset + $0.count))
        })
        let data = toyDataset(samples: 9, length: 12, variable: true)
        let runner = BatchRunner(layout: layout, threads: 2, batchSize: 8, longest: data.maxLength)
        defer { runner.close() }
        let parameters = layout.initialParameters(seed: 4)
        parameters.withUnsafeBufferPointer { p in
            _ = runner.trainStep(
                parameters: p.baseAddress!, samples: data.samples, batch: Array(0..<9)[0..<8], classWeights: nil,
                augmentation: .none, seed: 1)
            _ = runner.trainStep(
                parameters: p.baseAddress!, samples: data.samples, batch: Array(0..<9)[8..<9], classWeights: nil,
                augmentation: .none, seed: 2)
        }
        var viaRunner = parameters, viaFirstShard = parameters
        runner.updateRunningStatistics(&viaRunner)
        layout.updateRunningStatistics(&viaFirstShard, workspaces: runner.workspaces[0..<1])
        #expect(viaRunner == viaFirstShard)
        var bothShards = parameters
        layout.updateRunningStatistics(&bothShards, workspaces: runner.workspaces[0..<2])
        #expect(bothShards != viaFirstShard, "the stale shard would have changed the statistics")
    }

    /// Weight averaging with a front end measures the averaged weights' statistics again: one
    /// batch of the whole training set gives exactly its population mean and unbiased variance
    /// of the convolution's output over the valid timesteps (computed here with plain loops),
    /// and `train --swa` with a front end ends with an averaged model the file reader agrees on.
    @Test("swa with a front end measures the averaged weights' statistics")
    func averagedFrontEnd() throws {
        let architecture = Architecture(inputSize: 2, hiddenSize: 4, numClasses: 2, frontEnd: [.init(filters: 3, kernel: 3)])
        let layout = ParameterLayout(architecture)
        let data = toyDataset(samples: 10, length: 12, variable: true)
        let runner = BatchRunner(layout: layout, threads: 2, batchSize: 10, longest: data.maxLength)
        defer { runner.close() }
        var parameters = layout.initialParameters(seed: 8)
        runner.recomputeRunningStatistics(&parameters, samples: data.samples, batchSize: 10, augmentation: .none, seed: 1)
        let weight = layout.entry("frontend.0.conv.weight")!.offset
        var values: [[Double]] = [[], [], []]
        for sample in data.samples {
            for t in 0..<sample.length {
                for f in 0..<3 {
                    var z = 0.0
                    for c in 0..<2 {
                        for j in 0..<3 where t - 2 + j >= 0 {
                            z += Double(parameters[weight + (f * 2 + c) * 3 + j]) * Double(sample.values[(t - 2 + j) * 2 + c])
                        }
                    }
                    values[f].append(z)
                }
            }
        }
        let meanAt = layout.entry("frontend.0.norm.running_mean")!.offset, varAt = layout.entry("frontend.0.norm.running_var")!.offset
        for f in 0..<3 {
            let n = Double(values[f].count), mean = values[f].reduce(0, +) / n
            let variance = values[f].reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
            #expect(abs(Double(parameters[meanAt + f]) - mean) <= 1e-5 * max(1, abs(mean)), "filter \(f) mean")
            #expect(abs(Double(parameters[varAt + f]) - variance) <= 1e-5 * max(1, variance), "filter \(f) variance")
        }

        var configuration = smallRecipe()
        configuration.frontEnd = [.init(filters: 6, kernel: 3)]
        configuration.swa = 5
        configuration.epochs = 8
        let result = try Trainer(configuration: configuration).train(toyDataset(samples: 40, length: 24, variable: true))
        #expect(result.history.selection == .averaged)
        let model = try LSTMModel(try ModelFile(bytes: result.model.serialized()))
        #expect(try ClassificationMetrics(evaluating: model, on: toyDataset(samples: 10, length: 24, seed: 97)).count == 10)
    }

    @Test("Variable-length samples train with masks, and the model's window is the longest sample")
    func variableLength() throws {
        var configuration = smallRecipe()
        configuration.bidirectional = true
        let data = toyDataset(samples: 60, length: 30, variable: true)
        let result = try Trainer(configuration: configuration).train(data)
        #expect(result.model.window == data.maxLength)
        #expect((result.validation?.accuracy ?? 0) >= 0.9)
    }

    @Test("Same data, seed and threads give the same model bytes; another seed does not")
    func deterministic() throws {
        var configuration = smallRecipe()
        configuration.epochs = 4
        configuration.augmentation = Augmentation(
            jitterProbability: 0.5, scalingProbability: 0.5, timeWarpProbability: 0.5, sliceProbability: 0.5)
        configuration.dropout = .init(input: 0.1, betweenLayers: 0, head: 0.2)
        configuration.balancing = .smote
        let data = toyDataset(samples: 40)
        let first = try Trainer(configuration: configuration).train(data).model.serialized()
        let second = try Trainer(configuration: configuration).train(data).model.serialized()
        #expect(first == second)
        configuration.seed = 2
        let other = try Trainer(configuration: configuration).train(data).model.serialized()
        #expect(first != other)
    }

    @Test("Early stopping ends the run and restores the best epoch's weights")
    func earlyStopping() throws {
        var configuration = smallRecipe()
        configuration.epochs = 200
        configuration.patience = 3
        configuration.optimizer.learningRate = 0.05
        let result = try Trainer(configuration: configuration).train(toyDataset(samples: 40))
        let best = try #require(result.history.bestEpoch)
        #expect(result.history.stoppedEarly)
        #expect(result.history.epochs.count == best + 3)
        let bestLoss = try #require(result.history.epochs[best - 1].validationLoss)
        let provenance = try #require(result.model.provenance["validation"]?["loss"]?.numberValue)
        #expect(abs(provenance - bestLoss) < 1e-9, "restored model's validation loss \(provenance) vs best \(bestLoss)")
    }

    @Test("Class weights and resampling show up in the plan")
    func balancing() throws {
        let data = toyDataset(samples: 40).subset(Array(0..<40).filter { $0 % 2 == 0 || $0 < 12 })
        var configuration = smallRecipe()
        configuration.epochs = 2
        configuration.validationFraction = 0
        configuration.balancing = .oversample
        let oversampled = try Trainer(configuration: configuration).train(data).plan
        #expect(oversampled.countsBefore == [20, 6])
        #expect(oversampled.countsAfter == [20, 20])
        configuration.balancing = .classWeights
        let weighted = try Trainer(configuration: configuration).train(data).plan
        #expect(weighted.countsAfter == [20, 6])
        let weights = try #require(weighted.classWeights)
        #expect(abs(weights[0] - 26.0 / 40) < 1e-6 && abs(weights[1] - 26.0 / 12) < 1e-6, "\(weights)")
    }

    @Test("Unusable data is refused with a message")
    func refusals() throws {
        let trainer = try Trainer(configuration: smallRecipe())
        let oneClass = toyDataset(samples: 10).subset([0, 2, 4, 6])
        #expect(throws: TrainingError.self) { try trainer.train(oneClass) }
        let unlabelled = Dataset(
            samples: [.init(values: [1, 2], length: 1, label: nil), .init(values: [1, 2], length: 1, label: 0)],
            channels: 2, classNames: ["a", "b"])
        #expect(throws: TrainingError.self) { try trainer.train(unlabelled) }
    }
}

@Suite("Recipe settings")
struct RecipeTests {
    @Test("Every key round-trips through its text form")
    func roundTrip() throws {
        let defaults = TrainingConfiguration()
        var copy = TrainingConfiguration()
        for (key, value) in defaults.settings { try copy.set(key, value) }
        #expect(copy == defaults)
    }

    @Test("A recipe file sets values and reports the line of a bad one")
    func file() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("recipe-\(UInt64.random(in: 0...UInt64.max)).conf")
        defer { try? FileManager.default.removeItem(at: url) }
        try "# comment\nhidden_size = 32\nbidirectional = true  # inline\n\nschedule = cosine:3:0.0001\n".write(to: url, atomically: true, encoding: .utf8)
        var configuration = TrainingConfiguration()
        try configuration.apply(file: url)
        #expect(configuration.hiddenSize == 32 && configuration.bidirectional)
        #expect(configuration.schedule == .cosine(warmup: 3, minimum: 0.0001))
        try "hidden_size = 32\nlearning_rate = fast\n".write(to: url, atomically: true, encoding: .utf8)
        #expect {
            try configuration.apply(file: url)
        } throws: { error in
            "\(error)".contains(":2: learning_rate")
        }
        try "colour = blue\n".write(to: url, atomically: true, encoding: .utf8)
        #expect {
            try configuration.apply(file: url)
        } throws: { error in
            "\(error)".contains("unknown setting 'colour'")
        }
    }

    @Test("A key set twice in a recipe file is refused with both lines")
    func duplicateKey() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("recipe-\(UInt64.random(in: 0...UInt64.max)).conf")
        defer { try? FileManager.default.removeItem(at: url) }
        try "learning_rate = 0.01\nepochs = 3\n# later\nlearning-rate = 0.02\n".write(to: url, atomically: true, encoding: .utf8)
        var configuration = TrainingConfiguration()
        #expect {
            try configuration.apply(file: url)
        } throws: { error in
            "\(error)" == "\(url.path):4: learning_rate is set twice (first at \(url.path):1); keep one of them"
        }
    }

    @Test("A recipe file takes the syntax lstmd.conf shares: quotes, lists, dashes, comments after white space")
    func sharedSyntax() throws {
        var configuration = TrainingConfiguration()
        try configuration.apply(
            recipe: "# c\r\nhead = \"last\"\r\ndense = 64, 32   # two layers\nlearning-rate = 1e-3\nnesterov = yes\nseed = 1_000\n",
            path: "r.recipe")
        #expect(configuration.head == .last)
        #expect(configuration.dense == [64, 32])
        #expect(configuration.optimizer.learningRate == 1e-3)
        #expect(configuration.optimizer.nesterov)
        #expect(configuration.seed == 1000)
        #expect(configuration.value(of: "dense") == "64,32")
        #expect {
            try configuration.apply(recipe: "epochz = 3\n", path: "r.recipe")
        } throws: { error in
            "\(error)" == "r.recipe:1: unknown setting 'epochz' (did you mean 'epochs'?)"
        }
        #expect {
            try configuration.apply(recipe: "epochs = 3\nbatch_size\n", path: "r.recipe")
        } throws: { error in
            "\(error)" == "r.recipe:2: expected 'key = value', got 'batch_size'"
        }
        #expect {
            try configuration.apply(recipe: "head = \"last\n", path: "r.recipe")
        } throws: { error in
            "\(error)" == "r.recipe:1: head: unterminated quoted string"
        }
        #expect {
            try configuration.apply(recipe: "head = middle\n", path: "r.recipe")
        } throws: { error in
            "\(error)" == "r.recipe:1: head: must be last or attention, got 'middle'"
        }
    }

    @Test("The recipe written out (and its provenance JSON) reads back as the same recipe")
    func recipeTextRoundTrip() throws {
        var changed = TrainingConfiguration()
        changed.dense = [32, 16]
        changed.schedule = .cosine(warmup: 3, minimum: 0.0001)
        changed.balancing = .classWeights
        changed.optimizer.learningRate = 0.0005
        changed.seed = 42
        var reread = TrainingConfiguration()
        try reread.apply(recipe: changed.recipeText, path: "rendered")
        #expect(reread == changed)
        guard case .object(let fields) = changed.json else { Issue.record("not an object"); return }
        // `ensemble` 1 and `front_end` none (the defaults) are left out, so single models without
        // a front end stay as they were.
        #expect(Set(fields.keys) == Set(TrainingConfiguration.keys).subtracting(["ensemble", "front_end"]))
        changed.ensemble = 3
        changed.frontEnd = [.init(filters: 16, kernel: 3), .init(filters: 8, kernel: 5)]
        guard case .object(let withEnsemble) = changed.json else { Issue.record("not an object"); return }
        #expect(Set(withEnsemble.keys) == Set(TrainingConfiguration.keys))
        #expect(withEnsemble["front_end"] == .string("16x3,8x5"))
        var conv = TrainingConfiguration()
        try conv.set("front_end", "16x3,8x5")
        #expect(conv.frontEnd == changed.frontEnd)
        #expect(throws: TrainingError.self) { try conv.set("front_end", "16by3") }
        #expect(throws: TrainingError.self) {
            var bad = TrainingConfiguration()
            try bad.set("front_end", "16x0")
            try bad.validate()
        }
        changed.frontEnd = []
        var fromJSON = TrainingConfiguration()
        for (key, value) in fields {
            guard case .string(let text) = value else { Issue.record("\(key) is not a string"); continue }
            try fromJSON.set(key, text)
        }
        changed.ensemble = 1
        #expect(fromJSON == changed)
        let defaults = TrainingConfiguration()
        #expect(defaults.value(of: "dense") == "none")
        #expect(defaults.value(of: "schedule") == "plateau:0.5:10:1e-05")
        #expect(defaults.value(of: "learning_rate") == "0.003")
        #expect(defaults.value(of: "epsilon") == "1e-08")
        #expect(defaults.value(of: "bidirectional") == "true")
    }

    @Test("Flags come from the setting table: every key has one, values may start with '-'")
    func flags() throws {
        let flags = try TrainingConfiguration.table.flags(["--learning-rate", "-1", "--dense=64,32", "--time_warp", "0.5"])
        #expect(flags.map(\.key) == ["learning_rate", "dense", "time_warp"])
        #expect(flags.map(\.values) == [["-1"], ["64,32"], ["0.5"]])
        #expect(TrainingConfiguration.table.settings.map(\.flag).contains("--clip-norm"))
        #expect(throws: (any Error).self) { try TrainingConfiguration.table.flags(["--learning-rat", "1"]) }
        let help = TrainingConfiguration.table.help(defaults: TrainingConfiguration())
        #expect(help.split(separator: "\n").count == TrainingConfiguration.keys.count)
        #expect(help.contains("--learning-rate <x>: Base learning rate. (default: 0.003)"))
    }

    @Test("Validation names the recipe key, the rule and the value given")
    func validationMessages() throws {
        for (key, value, expected) in [
            ("learning_rate", "-1", "learning_rate must be > 0, got -1"),
            ("layers", "5", "layers must be in 1...4, got 5"),
            ("jitter", "1.5", "jitter must be in [0, 1], got 1.5"),
            ("layer_dropout", "-0.25", "layer_dropout must be in [0, 1), got -0.25"),
            ("patience", "-2", "patience must be ≥ 0 (0: off), got -2"),
            ("dense", "64,0", "dense must be widths in 1...65536 (or none), got 64,0"),
            ("threads", "0", "threads must be in 1...256, got 0"),
        ] {
            var configuration = TrainingConfiguration()
            try configuration.set(key, value)
            #expect {
                try configuration.validate()
            } throws: { error in
                "\(error)" == expected
            }
        }
    }

    @Test("deploy/config/train.recipe lists every setting with its default")
    func shippedRecipe() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("deploy/config/train.recipe")
        let text = try String(contentsOf: url, encoding: .utf8)
        for key in TrainingConfiguration.keys {
            #expect(text.contains("\n\(key) = "), "train.recipe lacks \(key)")
        }
        var configuration = TrainingConfiguration()
        configuration.seed = 99
        try configuration.apply(file: url)
        #expect(configuration == TrainingConfiguration())
    }

    @Test("Out-of-range values are refused by validate")
    func validation() {
        for (key, value) in [("layers", "5"), ("layer_dropout", "1"), ("batch_size", "0"), ("jitter", "1.5"), ("learning_rate", "-1")] {
            var configuration = TrainingConfiguration()
            #expect(throws: TrainingError.self, "\(key)=\(value)") {
                try configuration.set(key, value)
                try configuration.validate()
            }
        }
    }
}

@Suite("Learning-rate schedules")
struct ScheduleTests {
    func rates(_ schedule: LearningRateSchedule, epochs: Int, losses: [Double]? = nil) -> [Float] {
        var controller = LearningRateController(schedule: schedule, base: 1, epochs: epochs)
        var out: [Float] = []
        for epoch in 0..<epochs {
            out.append(controller.rate)
            controller.finishEpoch(monitoredLoss: losses?[epoch] ?? 1)
        }
        return out
    }

    @Test("Step decay")
    func step() {
        #expect(rates(.step(every: 2, factor: 0.5), epochs: 5) == [1, 1, 0.5, 0.5, 0.25])
    }

    @Test("Cosine with warm-up reaches the base rate, then decays to the minimum at the last epoch")
    func cosine() {
        let r = rates(.cosine(warmup: 2, minimum: 0), epochs: 6)
        #expect(r[0] == 0.5 && r[1] == 1 && r[2] == 1)
        #expect(abs(r[5]) < 1e-6)
        #expect(r[3] > r[4] && r[4] > r[5])
    }

    @Test("ReduceLROnPlateau halves after more than `patience` epochs without improvement, not below the minimum")
    func plateau() {
        let losses: [Double] = [1, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95]
        let r = rates(.plateau(factor: 0.5, patience: 2, minimum: 0.3), epochs: 9, losses: losses)
        #expect(r == [1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.3])
    }

    @Test("Schedules parse from text and refuse nonsense")
    func parse() throws {
        #expect(try LearningRateSchedule(parsing: "plateau:0.2:5:0.001") == .plateau(factor: 0.2, patience: 5, minimum: 0.001))
        #expect(try LearningRateSchedule(parsing: "step") == .step(every: 30, factor: 0.5))
        #expect(throws: TrainingError.self) { try LearningRateSchedule(parsing: "linear") }
        #expect(throws: TrainingError.self) { try LearningRateSchedule(parsing: "step:x") }
        #expect(throws: TrainingError.self) { try LearningRateSchedule(parsing: "plateau:2") }
    }
}
