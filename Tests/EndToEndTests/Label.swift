import Foundation
import LSTMKit

/// One label message as published: topic = stream id, then a JSON object.
struct Label {
    var topic: String
    var stream: String
    var label: String
    var classIndex: Int
    /// By class name.
    var probabilities: [String: Float]
    var modelVersion: String
    var mode: String
    var sequence: UInt64
    var timestamp: Int64
    /// Timesteps consumed since the stream's state last started over.
    var timesteps: Int
    var json: JSONValue

    init(topic: [UInt8], body: [UInt8]) throws {
        self.topic = String(decoding: topic, as: UTF8.self)
        let text = String(decoding: body, as: UTF8.self)
        let json = try JSONValue.parse(text)
        self.json = json
        guard let stream = json["stream"]?.stringValue, let label = json["label"]?.stringValue,
            let classIndex = json["class_index"]?.numberValue, case .object(let probabilities)? = json["probabilities"],
            let version = json["model_version"]?.stringValue, let mode = json["mode"]?.stringValue,
            let sequence = json["seq"]?.numberValue, let timestamp = json["timestamp_ns"]?.numberValue,
            let timesteps = json["timesteps"]?.numberValue, json["emitted_ns"]?.numberValue != nil
        else { throw HarnessError("label without the documented fields: \(text)") }
        self.stream = stream
        self.label = label
        self.classIndex = Int(classIndex)
        self.probabilities = try probabilities.mapValues {
            guard let value = $0.numberValue else { throw HarnessError("non-numeric probability in \(text)") }
            return Float(value)
        }
        self.modelVersion = version
        self.mode = mode
        self.sequence = UInt64(sequence)
        self.timestamp = Int64(timestamp)
        self.timesteps = Int(timesteps)
    }

    /// Probabilities in the model's class order.
    func probabilities(classes: [String]) -> [Float] {
        classes.map { probabilities[$0] ?? .nan }
    }
}

/// Labels expected for a stream, recomputed offline with LSTMKit.
struct ExpectedLabels {
    let model: LSTMModel
    let window: Int
    let hop: Int
    let mode: StreamingMode

    init(model: LSTMModel, window: Int? = nil, hop: Int? = nil, mode: StreamingMode = .window) {
        self.model = model
        self.window = window ?? model.file.window
        self.hop = hop ?? model.file.hop
        self.mode = mode
    }

    /// Timesteps (since the state started over) at which labels are due in a stretch of `length`.
    func due(length: Int) -> [Int] {
        switch mode {
        case .window: Array(stride(from: window, through: length, by: hop))
        case .continuous: Array(stride(from: hop, through: length, by: hop))
        }
    }

    /// How many labels `stream` should have produced.
    func count(for stream: TestStream, stretches: Set<Int>? = nil) -> Int {
        stream.stretches.enumerated().reduce(0) { total, item in
            stretches?.contains(item.offset) ?? true ? total + due(length: item.element.count / model.channels).count : total
        }
    }

    /// The probabilities due at `timesteps` of `stretch`.
    func probabilities(stretch: [Float], timesteps: Int) throws -> [Float] {
        let c = model.channels
        let from = mode == .window ? timesteps - window : 0
        return try model.forward(Array(stretch[(from * c)..<(timesteps * c)]), batchSize: 1, timesteps: timesteps - from, threads: 1)
            .probabilities
    }

    /// Problems with `labels` as the complete label sequence of `stream` (empty when correct):
    /// every label at a due timestep of its stretch, equal to the offline forward within
    /// `tolerance`, all due labels present, in order.
    /// - Parameter stretches: the stretches to check (default all); labels of others are ignored.
    func problems(
        _ labels: [Label], stream: TestStream, stretches: Set<Int>? = nil, tolerance: Float = 1e-5, version: String? = nil
    ) throws -> [String] {
        var problems: [String] = []
        var dueByStretch: [Int: [Int]] = [:]
        for (index, stretch) in stream.stretches.enumerated() where stretches?.contains(index) ?? true {
            dueByStretch[index] = due(length: stretch.count / model.channels)
        }
        var seen: [Int: [Int]] = [:]
        for label in labels {
            // Bytes, not String ==: stream ids are byte strings.
            guard Array(label.stream.utf8) == Array(stream.id.utf8), Array(label.topic.utf8) == Array(stream.id.utf8) else {
                problems.append("label for '\(label.stream)' (topic '\(label.topic)') among those of '\(stream.id)'")
                continue
            }
            guard let stretchIndex = stream.stretchOfSequence[label.sequence] else {
                problems.append("label for unsent seq \(label.sequence)")
                continue
            }
            guard dueByStretch[stretchIndex] != nil else { continue }
            if label.timestamp != 1_000 + Int64(label.sequence) {
                problems.append("seq \(label.sequence): timestamp_ns \(label.timestamp), expected the frame's \(1_000 + Int64(label.sequence))")
            }
            if let version, label.modelVersion != version {
                problems.append("seq \(label.sequence): model_version \(label.modelVersion), expected \(version)")
            }
            seen[stretchIndex, default: []].append(label.timesteps)
            let stretch = stream.stretches[stretchIndex]
            guard dueByStretch[stretchIndex]!.contains(label.timesteps) else {
                problems.append("seq \(label.sequence): label at timestep \(label.timesteps) of stretch \(stretchIndex), not due")
                continue
            }
            let expected = try probabilities(stretch: stretch, timesteps: label.timesteps)
            let actual = label.probabilities(classes: model.classes)
            let difference = zip(expected, actual).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            if !(difference <= tolerance) {
                problems.append("seq \(label.sequence) timestep \(label.timesteps): probabilities differ by \(difference) (\(actual) vs \(expected))")
            }
            let best = expected.indices.max { expected[$0] < expected[$1] || (expected[$0] == expected[$1] && $0 > $1) }!
            if label.classIndex != best && difference > 0 && abs(expected[best] - expected[label.classIndex]) > tolerance {
                problems.append("seq \(label.sequence): class_index \(label.classIndex), expected \(best)")
            }
            if label.label != model.classes[label.classIndex] {
                problems.append("seq \(label.sequence): label '\(label.label)' is not class \(label.classIndex)")
            }
        }
        for (index, due) in dueByStretch where seen[index, default: []] != due {
            problems.append("stretch \(index): labels at \(seen[index, default: []]), expected \(due)")
        }
        return problems
    }
}
