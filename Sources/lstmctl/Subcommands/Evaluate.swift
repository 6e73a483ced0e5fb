import ArgumentParser
import Foundation
import LSTMKit
import LSTMTraining

/// `lstmctl evaluate --model M --data TEST.ts [--json]`.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a model on labelled data: accuracy, balanced accuracy, macro-F1, per-class precision and recall, confusion matrix.",
        discussion: """
            Each sample is classified whole, as one window, exactly as `predict` does. Labels are matched \
            to the model's classes by name. With --json the output is one object with "accuracy", \
            "balanced_accuracy", "macro_f1", "confusion_matrix" (rows: true class, columns: predicted, in \
            the model's class order), "classes", "count" and "per_class" (in the model's class order).
            """)

    @Option(help: "Path to a .safetensors model file.")
    var model: String

    @Option(help: "Labelled data: a UEA/UCR .ts file or the documented CSV layout.")
    var data: String

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let engine = try loadModel(model)
        let dataset = try loadDataset(data)
        let metrics: ClassificationMetrics
        do {
            metrics = try ClassificationMetrics(evaluating: engine, on: dataset)
        } catch let error as TrainingError {
            throw InputError(error.message)  // names the file, line and sample itself
        }
        if json {
            guard case .object(let members) = metrics.orderedJSON else { return }
            print(OrderedJSON.object(members + [
                (key: "model", value: .value(.string(model))),
                (key: "model_version", value: .value(.string(engine.file.version))),
                (key: "data", value: .value(.string(data))),
            ]).jsonText)
        } else {
            print("\(model) on \(data) (\(metrics.count) samples)")
            print(metrics.formatted())
        }
    }
}
