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
            the sample's id (a CSV's sample column; the 0-based index for .ts files), predicted label, \
            its probability, and the true label when the file has one. With --json each line is an \
            object with "index", "id" (CSV only), "label", "probabilities" (class → probability, in \
            the model's class order) and, when known, "actual".
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
            throw InputError("\(data) has \(dataset.channels) channels, the model expects \(engine.channels)")
        }
        let classes = engine.classes
        let known = Set(classes)
        var correct = 0, labelled = 0
        var unknown: [String: Int] = [:]
        try engine.forwardEach(dataset) { index, result, slot in
            let predicted = result.predictedClass(of: slot)
            let probabilities = Array(result.probabilities(of: slot))
            let actual = dataset.samples[index].label.map { dataset.classNames[$0] }
            if let actual {
                if known.contains(actual) {
                    labelled += 1
                    if actual == classes[predicted] { correct += 1 }
                } else {
                    unknown[actual, default: 0] += 1
                }
            }
            let id = dataset.samples[index].id
            if json {
                var members: [(key: String, value: OrderedJSON)] = [("index", .value(.number(Double(index))))]
                if let id { members.append(("id", .value(.string(id)))) }
                members.append(("label", .value(.string(classes[predicted]))))
                members.append(("probabilities", .object(zip(classes, probabilities).map { ($0, .value(.number(Double($1)))) })))
                if let actual { members.append(("actual", .value(.string(actual)))) }
                print(OrderedJSON.object(members).jsonText)
            } else {
                let confidence = String(format: "%.4f", probabilities[predicted])
                print("\(id ?? String(index))\t\(classes[predicted])\t\(confidence)" + (actual.map { "\t\($0)" } ?? ""))
            }
        }
        if !unknown.isEmpty {
            let names = unknown.keys.sorted().map { "'\($0)'" }.joined(separator: ", ")
            let count = unknown.values.reduce(0, +)
            printError(
                "warning: \(count) sample\(count == 1 ? " is" : "s are") labelled with \(unknown.count == 1 ? "a class" : "classes") "
                    + "the model does not have (\(names); it knows \(classes.map { "'\($0)'" }.joined(separator: ", "))), "
                    + "so \(count == 1 ? "it is" : "they are") left out of the accuracy; evaluate refuses such data")
        }
        if !json && labelled > 0 {
            printError(String(format: "accuracy %.4f (%d/%d)", Double(correct) / Double(labelled), correct, labelled))
        }
    }
}
