import ArgumentParser
import Foundation
import LSTMKit
import LSTMTraining

/// `lstmctl predict --model MODEL --data FILE.ts [--json]`: one line per sample.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify every sample of a .ts (or .csv) file, one line per sample.",
        discussion: """
            Each sample is classified whole, as one window (variable lengths are fine). Text output: \
            index, predicted label, its probability, and the true label when the file has one. With \
            --json each line is an object with "index", "label", "probabilities" (class → probability) \
            and, when known, "actual".
            """)

    @Option(help: "Path to a .safetensors model file.")
    var model: String

    @Option(help: "A UEA/UCR .ts file (or the documented CSV layout).")
    var data: String

    @Flag(help: "Print one JSON object per line.")
    var json = false

    func run() throws {
        let engine = try loadModel(model)
        let dataset = try loadDataset(data)
        guard dataset.channels == engine.channels else {
            throw ValidationError("\(data) has \(dataset.channels) channels, the model expects \(engine.channels)")
        }
        let classes = engine.classes
        var correct = 0, labelled = 0
        try engine.forwardEach(dataset) { index, result, slot in
            let predicted = result.predictedClass(of: slot)
            let probabilities = Array(result.probabilities(of: slot))
            let actual = dataset.samples[index].label.map { dataset.classNames[$0] }
            if let actual {
                labelled += 1
                if actual == classes[predicted] { correct += 1 }
            }
            if json {
                var object: [String: JSONValue] = [
                    "index": .number(Double(index)),
                    "label": .string(classes[predicted]),
                    "probabilities": .object(Dictionary(uniqueKeysWithValues: zip(classes, probabilities.map { .number(Double($0)) }))),
                ]
                if let actual { object["actual"] = .string(actual) }
                print(jsonLine(.object(object)))
            } else {
                let confidence = String(format: "%.4f", probabilities[predicted])
                print("\(index)\t\(classes[predicted])\t\(confidence)" + (actual.map { "\t\($0)" } ?? ""))
            }
        }
        if !json && labelled > 0 {
            printError(String(format: "accuracy %.4f (%d/%d)", Double(correct) / Double(labelled), correct, labelled))
        }
    }
}
