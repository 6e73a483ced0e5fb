import Foundation
import LSTMKit

extension TrainingConfiguration {
    /// Every setting's key, in the order `json` and `--help` list them. Flags use the same names
    /// with dashes (`learning_rate` ↔ `--learning-rate`).
    public static let keys: [String] = [
        "hidden_size", "layers", "bidirectional", "head", "dense", "input_dropout", "layer_dropout", "head_dropout",
        "scaler", "balancing", "smote_neighbours", "jitter", "jitter_sigma", "scaling", "scaling_sigma",
        "time_warp", "time_warp_sigma", "time_warp_knots", "slice", "slice_ratio", "validation_fraction",
        "optimizer", "learning_rate", "beta1", "beta2", "epsilon", "weight_decay", "momentum", "nesterov", "rho",
        "l1", "l2", "clip_norm", "schedule", "epochs", "batch_size", "patience", "keep", "seed", "threads", "window", "hop",
    ]

    /// Sets one setting from its text form.
    /// - Throws: `TrainingError` naming the key for an unknown key or a malformed value.
    public mutating func set(_ key: String, _ text: String) throws {
        let value = text.trimmingCharacters(in: .whitespaces)
        func parse<T: LosslessStringConvertible>(_: T.Type = T.self) throws -> T {
            guard let parsed = T(value) else { throw TrainingError("\(key): '\(value)' is not a valid \(T.self)") }
            return parsed
        }
        func choice<T: RawRepresentable<String> & CaseIterable>(_: T.Type) throws -> T {
            guard let parsed = T(rawValue: value) else {
                throw TrainingError("\(key): '\(value)' is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return parsed
        }
        func flag() throws -> Bool {
            switch value.lowercased() {
            case "true", "yes", "1", "on": return true
            case "false", "no", "0", "off": return false
            default: throw TrainingError("\(key): '\(value)' is not a boolean (true/false)")
            }
        }
        switch key {
        case "hidden_size": hiddenSize = try parse()
        case "layers": layers = try parse()
        case "bidirectional": bidirectional = try flag()
        case "head": head = try choice(Architecture.Head.self)
        case "dense":
            dense = try value.isEmpty || value == "none" ? [] : value.split(separator: ",").map {
                guard let width = Int($0.trimmingCharacters(in: .whitespaces)) else {
                    throw TrainingError("dense: '\(value)' is not a comma-separated list of widths")
                }
                return width
            }
        case "input_dropout": dropout.input = try parse()
        case "layer_dropout": dropout.betweenLayers = try parse()
        case "head_dropout": dropout.head = try parse()
        case "scaler": scaler = try choice(Scaler.Kind.self)
        case "balancing": balancing = try choice(BalancingStrategy.self)
        case "smote_neighbours": smoteNeighbours = try parse()
        case "jitter": augmentation.jitterProbability = try parse()
        case "jitter_sigma": augmentation.jitterSigma = try parse()
        case "scaling": augmentation.scalingProbability = try parse()
        case "scaling_sigma": augmentation.scalingSigma = try parse()
        case "time_warp": augmentation.timeWarpProbability = try parse()
        case "time_warp_sigma": augmentation.timeWarpSigma = try parse()
        case "time_warp_knots": augmentation.timeWarpKnots = try parse()
        case "slice": augmentation.sliceProbability = try parse()
        case "slice_ratio": augmentation.sliceRatio = try parse()
        case "validation_fraction": validationFraction = try parse()
        case "optimizer": optimizer.kind = try choice(Optimizer.Kind.self)
        case "learning_rate": optimizer.learningRate = try parse()
        case "beta1": optimizer.beta1 = try parse()
        case "beta2": optimizer.beta2 = try parse()
        case "epsilon": optimizer.epsilon = try parse()
        case "weight_decay": optimizer.weightDecay = try parse()
        case "momentum": optimizer.momentum = try parse()
        case "nesterov": optimizer.nesterov = try flag()
        case "rho": optimizer.rho = try parse()
        case "l1": optimizer.l1 = try parse()
        case "l2": optimizer.l2 = try parse()
        case "clip_norm": optimizer.clipNorm = try parse()
        case "schedule": schedule = try LearningRateSchedule(parsing: value)
        case "epochs": epochs = try parse()
        case "batch_size": batchSize = try parse()
        case "patience": patience = try parse()
        case "keep": keep = try choice(KeepPolicy.self)
        case "seed": seed = try parse()
        case "threads": threads = try parse()
        case "window": window = try parse()
        case "hop": hop = try parse()
        default:
            throw TrainingError("unknown setting '\(key)' (known: \(Self.keys.joined(separator: ", ")))")
        }
    }

    /// The text form of one setting (what `set` reads).
    public func value(of key: String) -> String {
        switch key {
        case "hidden_size": "\(hiddenSize)"
        case "layers": "\(layers)"
        case "bidirectional": "\(bidirectional)"
        case "head": head.rawValue
        case "dense": dense.isEmpty ? "none" : dense.map(String.init).joined(separator: ",")
        case "input_dropout": "\(dropout.input)"
        case "layer_dropout": "\(dropout.betweenLayers)"
        case "head_dropout": "\(dropout.head)"
        case "scaler": scaler.rawValue
        case "balancing": balancing.rawValue
        case "smote_neighbours": "\(smoteNeighbours)"
        case "jitter": "\(augmentation.jitterProbability)"
        case "jitter_sigma": "\(augmentation.jitterSigma)"
        case "scaling": "\(augmentation.scalingProbability)"
        case "scaling_sigma": "\(augmentation.scalingSigma)"
        case "time_warp": "\(augmentation.timeWarpProbability)"
        case "time_warp_sigma": "\(augmentation.timeWarpSigma)"
        case "time_warp_knots": "\(augmentation.timeWarpKnots)"
        case "slice": "\(augmentation.sliceProbability)"
        case "slice_ratio": "\(augmentation.sliceRatio)"
        case "validation_fraction": "\(validationFraction)"
        case "optimizer": optimizer.kind.rawValue
        case "learning_rate": "\(optimizer.learningRate)"
        case "beta1": "\(optimizer.beta1)"
        case "beta2": "\(optimizer.beta2)"
        case "epsilon": "\(optimizer.epsilon)"
        case "weight_decay": "\(optimizer.weightDecay)"
        case "momentum": "\(optimizer.momentum)"
        case "nesterov": "\(optimizer.nesterov)"
        case "rho": "\(optimizer.rho)"
        case "l1": "\(optimizer.l1)"
        case "l2": "\(optimizer.l2)"
        case "clip_norm": "\(optimizer.clipNorm)"
        case "schedule": schedule.description
        case "epochs": "\(epochs)"
        case "batch_size": "\(batchSize)"
        case "patience": "\(patience)"
        case "keep": keep.rawValue
        case "seed": "\(seed)"
        case "threads": "\(threads)"
        case "window": "\(window)"
        case "hop": "\(hop)"
        default: ""
        }
    }

    /// Every setting as `(key, value)` in `keys` order.
    public var settings: [(key: String, value: String)] {
        Self.keys.map { ($0, value(of: $0)) }
    }

    /// Every setting as a JSON object of strings (stored as the model's `provenance.recipe`).
    public var json: JSONValue {
        .object(Dictionary(uniqueKeysWithValues: settings.map { ($0.key, JSONValue.string($0.value)) }))
    }

    /// Reads a recipe file: one `key = value` per line, `#` comments, blank lines ignored. A key
    /// set twice is refused (as `lstmd.conf` refuses it), naming both lines.
    /// - Throws: `TrainingError` with the file and line of the first problem.
    public mutating func apply(file url: URL) throws {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw TrainingError("cannot read recipe file \(url.path): \(error.localizedDescription)")
        }
        var seen: [String: Int] = [:]
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                .trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw TrainingError("\(url.path):\(number + 1): expected 'key = value', got '\(line)'")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "-", with: "_")
            if let first = seen[key] {
                throw TrainingError(
                    "\(url.path):\(number + 1): \(key) is set twice (first at \(url.path):\(first)); keep one of them")
            }
            seen[key] = number + 1
            do {
                try set(key, String(line[line.index(after: equals)...]))
            } catch let error as TrainingError {
                throw TrainingError("\(url.path):\(number + 1): \(error.message)")
            }
        }
    }
}
