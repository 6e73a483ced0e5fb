import Foundation
import LSTMKit

/// Small random models written to disk for the daemon, and loaded back from the same file for
/// the offline expectation.
enum TestModels {
    /// Writes a random model and returns its path and the engine read back from that file.
    static func write(
        to directory: TemporaryDirectory, name: String, architecture: Architecture = Architecture(inputSize: 3, hiddenSize: 8, numClasses: 4),
        window: Int = 8, hop: Int = 4, mode: StreamingMode = .window, version: String? = nil, seed: UInt64 = 1,
        ensemble: Int = 1
    ) throws -> (path: String, model: LSTMModel) {
        let c = architecture.inputSize
        var generator = SplitMix64(seed: seed &+ 77)
        let scaler = Scaler.zscore(
            mean: (0..<c).map { _ in generator.uniform(-0.5, 0.5) }, std: (0..<c).map { _ in generator.uniform(0.5, 2) })
        // Ensemble members: seeds seed, seed + 1, …
        let members = (0..<ensemble).map { member in
            ModelFile.randomlyInitialized(
                architecture: architecture, classes: (0..<architecture.numClasses).map { "c\($0)-\(name)" },
                window: window, hop: hop, scaler: scaler, seed: seed &+ UInt64(member))
        }
        var file = ensemble == 1 ? members[0] : try ModelFile(ensemble: members, provenance: members[0].provenance)
        file.mode = mode
        if let version { file.provenance = .object(["version": .string(version)]) }
        let url = directory.url.appendingPathComponent("\(name).safetensors")
        try file.write(to: url)
        return (url.path, try LSTMModel(contentsOf: url))
    }
}
