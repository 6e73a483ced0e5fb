import ArgumentParser
import Foundation
import LSTMKit

/// `lstmctl inspect MODEL`: architecture, classes, scaler and provenance of a model file.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model file's architecture, classes, scaler and provenance.")

    @Argument(help: "Path to a .safetensors model file.")
    var model: String

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        let engine = try loadModel(model)
        let file = engine.file
        let a = file.architecture
        let parameters = file.parameterCount
        if json {
            let scaler = file.scaler.json
            print(jsonLine(.object([
                "path": .string(model),
                "version": .string(file.version),
                "digest": .string(file.digest),
                "integrity": .string(file.integrity.rawValue),
                "architecture": .object([
                    "input_size": .number(Double(a.inputSize)), "hidden_size": .number(Double(a.hiddenSize)),
                    "num_layers": .number(Double(a.numLayers)), "bidirectional": .bool(a.bidirectional),
                    "head": .string(a.head.rawValue), "dense": .array(a.dense.map { .number(Double($0)) }),
                    "num_classes": .number(Double(a.numClasses)),
                    "front_end": .array(a.frontEnd.map {
                        .object(["filters": .number(Double($0.filters)), "kernel": .number(Double($0.kernel))])
                    }),
                ]),
                "parameters": .number(Double(parameters)),
                "ensemble": .number(Double(file.ensemble)),
                "classes": .array(file.classes.map { .string($0) }),
                "window": .number(Double(file.window)), "hop": .number(Double(file.hop)),
                "mode": .string(file.mode.rawValue),
                "scaler": scaler,
                "preprocessing": file.preprocessing.json,
                "provenance": file.provenance,
                "compute": .object([
                    "cpu": .string(CPU.current.modelName), "isa": .string(ISA.current.rawValue),
                    "kernels": .string(ComputePath.kernels), "gemm": .string(BLAS.path),
                    "paths": .array(ComputePath.engineLines(hiddenSize: a.hiddenSize).map { .string($0) }),
                ]),
            ])))
            return
        }
        print("model       \(model)")
        print("version     \(file.version)")
        print("digest      \(file.digest)")
        print("integrity   \(file.integrity == .verified ? "verified (tensor checksum matches)" : "unverified (no checksum)")")
        let direction = a.bidirectional ? "bidirectional" : "unidirectional"
        if !a.frontEnd.isEmpty {
            print("front end   \(frontEndDescription(a.frontEnd)) on \(a.inputSize) channel\(a.inputSize == 1 ? "" : "s"), causal, each + batch norm + ReLU")
        }
        let lstmInputs = a.frontEnd.isEmpty ? "\(a.inputSize) channel\(a.inputSize == 1 ? "" : "s")" : "\(a.lstmInputSize) filters"
        print("lstm        \(a.numLayers) × \(direction) LSTM(\(a.hiddenSize)) on \(lstmInputs)")
        print("head        \(a.head.rawValue)" + (a.dense.isEmpty ? "" : " → dense \(a.dense.map(String.init).joined(separator: " → ")) (ReLU)") + " → \(a.numClasses) classes (softmax)")
        print("parameters  \(parameters)" + (file.ensemble > 1 ? " (\(file.ensemble) ensemble members, probabilities averaged)" : ""))
        print("classes     \(file.classes.joined(separator: ", "))")
        print("window      \(file.window) timesteps, hop \(file.hop), mode \(file.mode.rawValue)")
        print("preprocess  \(TrainingProgress.describe(file.preprocessing))")
        let names = file.scaler.kind == .zscore ? ("mean", "std") : ("min", "max")
        print("scaler      \(file.scaler.kind.rawValue)")
        print("  \(names.0.padding(toLength: 8, withPad: " ", startingAt: 0))  \(file.scaler.offset.map { String(format: "%.6g", $0) }.joined(separator: " "))")
        print("  \(names.1.padding(toLength: 8, withPad: " ", startingAt: 0))  \(file.scaler.second.map { String(format: "%.6g", $0) }.joined(separator: " "))")
        print("compute     \(CPU.current.modelName) (\(CPU.current.vectorSummary)), ISA path \(ISA.current.rawValue)")
        print("  kernels   \(ComputePath.kernels)")
        print("  GEMM      \(BLAS.path)")
        for line in ComputePath.engineLines(hiddenSize: a.hiddenSize) { print("  \(line)") }
        print("provenance")
        if case .object(let members) = file.provenance {
            for key in members.keys.sorted() {
                let value = members[key]!
                print("  \(key): \(value.stringValue ?? value.jsonText)")
            }
        }
    }
}
