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
        let summary = try JSONSerialization.jsonObject(with: Data(lines.last!.utf8)) as! [String: Any]
        let accuracy = summary["accuracy"] as! [String: Double]
        #expect(accuracy["mean"] != nil && accuracy["std"] != nil)
    }

    @Test func badRecipeAndDataAreRefusedClearly() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appendingPathComponent("m.safetensors").path
        let schedule = try run(try lstmctl, ["train", "--train", Self.trainData, "--out", model, "--schedule", "linear"])
        #expect(schedule.status != 0 && schedule.err.contains("unknown schedule 'linear'"), "\(schedule.err)")
        let missing = try run(try lstmctl, ["train", "--train", "no/such.ts", "--out", model])
        #expect(missing.status != 0 && missing.err.contains("such.ts: cannot read"), "\(missing.err)")
        #expect(!FileManager.default.fileExists(atPath: model))
        let wrongModel = try run(try lstmctl, ["evaluate", "--model", "Sources/Daemon/Resources/default.safetensors", "--data", "Tests/LSTMTrainingTests/Fixtures/small.csv"])
        #expect(wrongModel.status != 0 && wrongModel.err.contains("channels"), "\(wrongModel.err)")
        let help = try run(try lstmctl, ["train", "--help"])
        for flag in ["--balancing", "--time-warp", "--optimizer", "--schedule", "--patience", "--l2", "--clip-norm", "--recipe"] {
            #expect(help.out.contains(flag), "train --help lacks \(flag)")
        }
    }
}
