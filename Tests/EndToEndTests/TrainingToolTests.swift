import Foundation
import Testing

/// `lstmctl train`, `evaluate` and `cv` as a user runs them (small settings: these are debug builds).
extension ClientToolTests {
    static let trainData = "Tests/LSTMTrainingTests/Fixtures/BasicMotions_TRAIN.ts"
    static let testData = "Tests/LSTMTrainingTests/Fixtures/BasicMotions_TEST.ts"
    static let quickRecipe = ["--hidden-size", "8", "--layers", "1", "--epochs", "3", "--batch-size", "8"]

    func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lstmctl-train-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test func trainWritesAModelAndReportThatEvaluateScores() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appendingPathComponent("m.safetensors").path
        let train = try run(try lstmctl, ["train", "--train", Self.trainData, "--out", model] + Self.quickRecipe)
        #expect(train.status == 0, "\(train.err)")
        #expect(train.err.contains("epoch 3/3"), "plain progress lines when stderr is not a terminal: \(train.err)")
        #expect(train.err.contains("Standing=10→10"), "class counts before and after balancing: \(train.err)")
        let report = try String(contentsOfFile: directory.appendingPathComponent("m.report.html").path, encoding: .utf8)
        #expect(report.contains("<svg") && report.contains("Standing"))

        let evaluate = try run(try lstmctl, ["evaluate", "--model", model, "--data", Self.testData, "--json"])
        #expect(evaluate.status == 0, "\(evaluate.err)")
        let object = try JSONSerialization.jsonObject(with: Data(evaluate.out.utf8)) as! [String: Any]
        for key in ["accuracy", "balanced_accuracy", "macro_f1", "confusion_matrix"] {
            #expect(object[key] != nil, "evaluate --json lacks \(key)")
        }
        let matrix = object["confusion_matrix"] as! [[Int]]
        #expect(matrix.count == 4 && matrix.joined().reduce(0, +) == 40)
        let text = try run(try lstmctl, ["evaluate", "--model", model, "--data", Self.testData])
        #expect(text.status == 0 && text.out.contains("confusion matrix"))
    }

    @Test func trainingIsReproducibleByteForByte() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var files: [Data] = []
        for name in ["a", "b"] {
            let model = directory.appendingPathComponent("\(name).safetensors").path
            let result = try run(try lstmctl, ["train", "--train", Self.trainData, "--out", model, "--json"] + Self.quickRecipe)
            #expect(result.status == 0, "\(result.err)")
            let events = result.out.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            #expect(events.map { $0["event"] as? String } == ["started", "epoch", "epoch", "epoch", "finished"])
            files.append(try Data(contentsOf: URL(fileURLWithPath: model)))
        }
        #expect(files[0] == files[1])
    }

    @Test func crossValidationPrintsMeanAndStd() throws {
        let result = try run(try lstmctl, ["cv", "--folds", "2", "--train", Self.trainData, "--json"] + Self.quickRecipe)
        #expect(result.status == 0, "\(result.err)")
        let lines = result.out.split(separator: "\n")
        #expect(lines.count == 3)
        // Progress while a fold trains: one line per epoch on standard error, naming the fold.
        for line in ["fold 1/2 epoch 1/3 ", "fold 1/2 epoch 3/3 ", "fold 2/2 epoch 3/3 "] {
            #expect(result.err.contains(line), "cv progress lacks '\(line)': \(result.err)")
        }
        let summary = try JSONSerialization.jsonObject(with: Data(lines.last!.utf8)) as! [String: Any]
        let accuracy = summary["accuracy"] as! [String: Double]
        #expect(accuracy["mean"] != nil && accuracy["std"] != nil)
    }

    @Test func badRecipeAndDataAreRefusedClearly() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appendingPathComponent("m.safetensors").path
        // Setting and data errors: the message without the usage banner, EX_CONFIG / EX_DATAERR.
        let schedule = try run(try lstmctl, ["train", "--train", Self.trainData, "--out", model, "--schedule", "linear"])
        #expect(schedule.status == 78 && schedule.err.contains("unknown schedule 'linear'"), "\(schedule.err)")
        #expect(!schedule.err.contains("Usage:"), "\(schedule.err)")
        let missing = try run(try lstmctl, ["train", "--train", "no/such.ts", "--out", model])
        #expect(missing.status == 65 && missing.err.contains("such.ts: cannot read"), "\(missing.err)")
        #expect(!missing.err.contains("Usage:"), "\(missing.err)")
        #expect(!FileManager.default.fileExists(atPath: model))
        let wrongModel = try run(try lstmctl, ["evaluate", "--model", "Sources/Daemon/Resources/default.safetensors", "--data", "Tests/LSTMTrainingTests/Fixtures/small.csv"])
        #expect(wrongModel.status == 65 && wrongModel.err.contains("channels"), "\(wrongModel.err)")
        // An output directory that does not exist is found before the first epoch, not after.
        let nowhere = directory.appendingPathComponent("missing/m.safetensors").path
        let unwritable = try run(try lstmctl, ["train", "--train", Self.trainData, "--out", nowhere, "--json"] + Self.quickRecipe)
        #expect(unwritable.status == 78, "\(unwritable.err)")
        #expect(unwritable.err.contains("does not exist"), "\(unwritable.err)")
        #expect(!unwritable.out.contains("\"epoch\""), "training ran before the output path was checked:\n\(unwritable.out)")
        let help = try run(try lstmctl, ["train", "--help"])
        for flag in ["--balancing", "--time-warp", "--optimizer", "--schedule", "--patience", "--l2", "--clip-norm", "--recipe"] {
            #expect(help.out.contains(flag), "train --help lacks \(flag)")
        }
    }

    /// CSV text of `samples` (id, label) with `steps` rows of `channels` deterministic values each;
    /// sample `n` starts on line `2 + n·steps`.
    static func csv(_ samples: [(String, String)], channels: Int = 6, steps: Int = 20, labelled: Bool = true) -> String {
        var text = "sample," + (0..<channels).map { "c\($0)" }.joined(separator: ",") + (labelled ? ",label" : "") + "\n"
        for (n, (id, label)) in samples.enumerated() {
            for t in 0..<steps {
                text += id + "," + (0..<channels).map { String(format: "%.4f", sin(Double(n * 7 + t + $0))) }.joined(separator: ",")
                text += (labelled ? "," + label : "") + "\n"
            }
        }
        return text
    }

    @Test func dataFaultsAreNamedWithFileLineAndSample() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func write(_ name: String, _ text: String) throws -> String {
            let url = directory.appendingPathComponent(name)
            try text.write(to: url, atomically: true, encoding: .utf8)
            return url.path
        }
        let model = directory.appendingPathComponent("m.safetensors").path
        let train = ["train", "--train", Self.trainData, "--out", model] + Self.quickRecipe
        let unknown = try write("unknown.csv", Self.csv([("s1", "Standing"), ("j1", "Jumping"), ("r1", "Running")]))
        let unknownRun = try run(try lstmctl, train + ["--validation", unknown])
        #expect(unknownRun.status == 65, "\(unknownRun.err)")
        #expect(unknownRun.err.contains("unknown.csv:22: sample 'j1' of the validation data has class 'Jumping'"), "\(unknownRun.err)")
        let channels = try write("channels.csv", Self.csv([("s1", "Standing"), ("r1", "Running")], channels: 3))
        let channelsRun = try run(try lstmctl, train + ["--validation", channels])
        #expect(channelsRun.status == 65 && channelsRun.err.contains("channels.csv has 3 channels, the training data (\(Self.trainData)) has 6"), "\(channelsRun.err)")
        let one = try write("one.csv", Self.csv([("s1", "Standing"), ("s2", "Standing")]))
        let oneRun = try run(try lstmctl, train + ["--validation", one])
        #expect(oneRun.status == 65 && oneRun.err.contains("one.csv holds samples of only one class ('Standing'"), "\(oneRun.err)")
        #expect(!FileManager.default.fileExists(atPath: model))
        // Some of the training classes: trained and scored, with a note.
        let some = try write("some.csv", Self.csv([("s1", "Standing"), ("r1", "Running"), ("s2", "Standing")]))
        let someRun = try run(try lstmctl, train + ["--validation", some])
        #expect(someRun.status == 0, "\(someRun.err)")
        #expect(someRun.err.contains("note: validation data \(some) holds 2 of the 4 training classes (none of: Walking, Badminton)"), "\(someRun.err)")
        #expect(someRun.out.contains("samples 3"), "\(someRun.out)")
        // An unlabelled training CSV: where, not just what.
        let unlabelled = try write("unlabelled.csv", Self.csv([("s1", ""), ("r1", "")], labelled: false))
        let unlabelledRun = try run(try lstmctl, ["train", "--train", unlabelled, "--out", model] + Self.quickRecipe)
        #expect(unlabelledRun.status == 65 && unlabelledRun.err.contains("unlabelled.csv:2: sample 's1' has no label"), "\(unlabelledRun.err)")
        let cvRun = try run(try lstmctl, ["cv", "--train", unlabelled] + Self.quickRecipe)
        #expect(cvRun.status == 65 && cvRun.err.contains("unlabelled.csv:2: sample 's1' has no label"), "\(cvRun.err)")
        // A bad option value is a configuration error (78), as in tune, whatever the data.
        let oneFold = try run(try lstmctl, ["cv", "--train", unlabelled, "--folds", "1"] + Self.quickRecipe)
        #expect(oneFold.status == 78 && oneFold.err.contains("--folds must be at least 2, got 1"), "\(oneFold.err)")
        // A cut-off model file: the same message every time, naming the byte.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: model))
        let truncated = try write("cut.safetensors", "")
        try bytes.prefix(bytes.count - 100).write(to: URL(fileURLWithPath: truncated))
        for _ in 0..<2 {
            let cut = try run(try lstmctl, ["inspect", truncated])
            #expect(cut.status == 65, "\(cut.err)")
            #expect(cut.err == "Error: \(truncated): file truncated at byte \(bytes.count - 100) of \(bytes.count)\n", "\(cut.err)")
        }
    }

    @Test func recipeValuesAreCheckedByKey() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appendingPathComponent("m.safetensors").path
        // A negative number is a value, not a flag.
        let negative = try run(try lstmctl, ["train", "--train", Self.trainData, "--out", model, "--learning-rate", "-1"])
        #expect(negative.status == 78, "\(negative.err)")
        #expect(negative.err.contains("learning_rate must be > 0, got -1"), "\(negative.err)")
        let folds = try run(try lstmctl, ["cv", "--train", Self.trainData, "--folds", "-1"])
        #expect(folds.status == 78 && folds.err.contains("--folds must be at least 2, got -1"), "\(folds.err)")
        let patience = try run(try lstmctl, ["cv", "--train", Self.trainData, "--patience", "-3"])
        #expect(patience.status == 78 && patience.err.contains("patience must be ≥ 0 (0: off), got -3"), "\(patience.err)")
        // A key set twice in a recipe file, as lstmd.conf refuses it.
        let recipe = directory.appendingPathComponent("twice.recipe")
        try "epochs = 3\nlearning_rate = 0.01\n\nlearning_rate = 0.02\n".write(to: recipe, atomically: true, encoding: .utf8)
        let twice = try run(try lstmctl, ["train", "--train", Self.trainData, "--out", model, "--recipe", recipe.path])
        #expect(twice.status == 78, "\(twice.err)")
        #expect(twice.err.contains("twice.recipe:4: learning_rate is set twice (first at \(recipe.path):2)"), "\(twice.err)")
        #expect(!FileManager.default.fileExists(atPath: model))
    }

    /// `--front-end` as a user gives it: the model file says so (inspect), evaluate scores it,
    /// and a malformed or out-of-range layer is refused by key before anything is written.
    @Test func frontEndFlagTrainsAConvolutionalModel() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appendingPathComponent("conv.safetensors").path
        let train = try run(
            try lstmctl, ["train", "--train", Self.trainData, "--out", model, "--front-end", "8x3,6x2"] + Self.quickRecipe)
        #expect(train.status == 0, "\(train.err)")
        let inspect = try run(try lstmctl, ["inspect", model])
        #expect(inspect.status == 0 && inspect.out.contains("front end   Conv1d(8, k3) → Conv1d(6, k2) on 6 channels"), "\(inspect.out)")
        #expect(inspect.out.contains("LSTM(") && inspect.out.contains("on 6 filters"), "\(inspect.out)")
        let evaluate = try run(try lstmctl, ["evaluate", "--model", model, "--data", Self.testData, "--json"])
        #expect(evaluate.status == 0, "\(evaluate.err)")
        let bad = try run(try lstmctl, ["train", "--train", Self.trainData, "--out", model + ".bad", "--front-end", "8x0"])
        #expect(bad.status == 78 && bad.err.contains("front_end must be at most 4 layers FILTERSxKERNEL"), "\(bad.err)")
        let malformed = try run(try lstmctl, ["train", "--train", Self.trainData, "--out", model + ".bad", "--front-end", "8by3"])
        #expect(malformed.status == 78 && malformed.err.contains("FILTERSxKERNEL"), "\(malformed.err)")
        #expect(!FileManager.default.fileExists(atPath: model + ".bad"))
    }

    @Test func trainSaysWhatItTrainsOnAndWhatItKeeps() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appendingPathComponent("m.safetensors").path
        // Parameters: the training plan counts them as inspect does.
        let json = try run(try lstmctl, ["train", "--train", Self.trainData, "--out", model, "--json"] + Self.quickRecipe)
        #expect(json.status == 0, "\(json.err)")
        let started = try JSONSerialization.jsonObject(with: Data(json.out.split(separator: "\n")[0].utf8)) as! [String: Any]
        let inspect = try run(try lstmctl, ["inspect", model, "--json"])
        let inspected = try JSONSerialization.jsonObject(with: Data(inspect.out.utf8)) as! [String: Any]
        #expect(started["parameters"] as? Int == inspected["parameters"] as? Int, "train \(started["parameters"] ?? "-") vs inspect \(inspected["parameters"] ?? "-")")

        // A window shorter than the samples: a warning on stderr and in the report.
        let windowed = try run(try lstmctl, ["train", "--train", Self.trainData, "--out", model, "--window", "50"] + Self.quickRecipe)
        #expect(windowed.status == 0, "\(windowed.err)")
        #expect(windowed.err.contains("warning: window 50 is shorter than the training samples (100 timesteps)"), "\(windowed.err)")
        #expect(windowed.err.contains("lstmd will classify each stream's last 50 timesteps"), "\(windowed.err)")
        let report = try String(contentsOfFile: directory.appendingPathComponent("m.report.html").path, encoding: .utf8)
        #expect(report.contains("Warning: window 50 is shorter than the training samples"))
        // No validation data: the last epoch, not a "best" one.
        #expect(windowed.out.contains("last epoch (no validation data to pick a best one)"), "\(windowed.out)")
        #expect(!windowed.out.contains("best epoch"), "\(windowed.out)")

        // Oversampling: the sample count before → after.
        let imbalanced = directory.appendingPathComponent("imbalanced.csv")
        try Self.csv((0..<12).map { ("id\($0)", $0 < 8 ? "a" : "b") }, channels: 2, steps: 10)
            .write(to: imbalanced, atomically: true, encoding: .utf8)
        let oversampled = try run(try lstmctl, [
            "train", "--train", imbalanced.path, "--out", model, "--balancing", "oversample",
        ] + Self.quickRecipe)
        #expect(oversampled.status == 0, "\(oversampled.err)")
        #expect(oversampled.err.contains("training on 12 → 16 samples after oversample"), "\(oversampled.err)")
    }

    @Test func predictAndEvaluateKeepTheModelsClassOrderAndSampleIDs() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let defaultModel = "Sources/Daemon/Resources/default.safetensors"
        let data = directory.appendingPathComponent("ids.csv")
        try Self.csv([("walk-01", "Walking"), ("run-07", "Running"), ("stand-3", "Standing")])
            .write(to: data, atomically: true, encoding: .utf8)
        let text = try run(try lstmctl, ["predict", "--model", defaultModel, "--data", data.path])
        #expect(text.status == 0, "\(text.err)")
        #expect(text.out.split(separator: "\n").map { $0.split(separator: "\t")[0] } == ["walk-01", "run-07", "stand-3"], "\(text.out)")
        let json = try run(try lstmctl, ["predict", "--model", defaultModel, "--data", data.path, "--json"])
        #expect(json.status == 0, "\(json.err)")
        let first = String(json.out.split(separator: "\n")[0])
        #expect(first.contains("\"id\":\"walk-01\""), "\(first)")
        // The model's classes are Standing, Running, Walking, Badminton: not alphabetical.
        func order(_ text: String, _ names: [String]) -> [String.Index] { names.map { text.range(of: "\"\($0)\":")!.lowerBound } }
        let classes = ["Standing", "Running", "Walking", "Badminton"]
        #expect(order(first, classes) == order(first, classes).sorted(), "probabilities in the model's class order: \(first)")
        let evaluate = try run(try lstmctl, ["evaluate", "--model", defaultModel, "--data", data.path, "--json"])
        #expect(evaluate.status == 0, "\(evaluate.err)")
        let perClass = String(evaluate.out[evaluate.out.range(of: "\"per_class\":")!.lowerBound...])
        #expect(order(perClass, classes) == order(perClass, classes).sorted(), "per_class in the model's class order: \(perClass)")

        // A label the model does not know: evaluate refuses; predict still predicts every sample
        // but says so and leaves that sample out of the accuracy.
        let foreign = directory.appendingPathComponent("foreign.csv")
        try Self.csv([("walk-01", "Walking"), ("jump-02", "Jumping"), ("stand-3", "Standing")])
            .write(to: foreign, atomically: true, encoding: .utf8)
        let refused = try run(try lstmctl, ["evaluate", "--model", defaultModel, "--data", foreign.path])
        #expect(refused.status != 0 && refused.err.contains("Jumping"), "\(refused.err)")
        let predicted = try run(try lstmctl, ["predict", "--model", defaultModel, "--data", foreign.path])
        #expect(predicted.status == 0, "\(predicted.err)")
        #expect(predicted.out.split(separator: "\n").count == 3, "\(predicted.out)")
        #expect(predicted.err.contains("warning: 1 sample is labelled with a class the model does not have ('Jumping'"), "\(predicted.err)")
        #expect(predicted.err.contains("accuracy") && predicted.err.contains("/2)"), "out of the 2 known labels: \(predicted.err)")
    }
}
