import LSTMKit

/// Renders a label message: the JSON object published on the label socket for each label due.
/// Holds what does not change between labels of one model (escaped class names, version, mode),
/// so a swap makes a new encoder.
struct LabelEncoder {
    let modelVersion: String
    let mode: StreamingMode
    private let escapedClasses: [String]

    init(classes: [String], modelVersion: String, mode: StreamingMode) {
        self.modelVersion = modelVersion
        self.mode = mode
        escapedClasses = classes.map(JSONText.quoted)
    }

    /// The most probable class of `probabilities` [K].
    func best(_ probabilities: UnsafePointer<Float>) -> Int {
        var best = 0
        for index in 1..<escapedClasses.count where probabilities[index] > probabilities[best] { best = index }
        return best
    }

    /// The label message, e.g. `{"stream":"s1","label":"Walking","class_index":1,"probabilities":
    /// {…},"model_version":"…","mode":"continuous","seq":7,"timestamp_ns":…,"timesteps":100,
    /// "emitted_ns":…}` (the keys are a contract; see the README's wire protocol).
    /// - Parameters:
    ///   - quotedStream: the stream id as a JSON string literal.
    ///   - best: `best(probabilities)`.
    ///   - timesteps: the stream's timesteps since its last reset, the labelled one included.
    ///   - emitted: wall-clock ns.
    func encode(
        quotedStream: String, probabilities: UnsafePointer<Float>, best: Int, header: FrameHeader, timesteps: Int,
        emitted: Int64
    ) -> String {
        let k = escapedClasses.count
        var json = "{\"stream\":"
        json.reserveCapacity(160 + 24 * k)
        json += quotedStream
        json += ",\"label\":" + escapedClasses[best]
        json += ",\"class_index\":\(best),\"probabilities\":{"
        for index in 0..<k {
            if index > 0 { json += "," }
            json += escapedClasses[index] + ":" + JSONText.number(probabilities[index])
        }
        json += "},\"model_version\":\"\(modelVersion)\",\"mode\":\"\(mode.rawValue)\""
        json += ",\"seq\":\(header.sequence),\"timestamp_ns\":\(header.timestamp)"
        json += ",\"timesteps\":\(timesteps),\"emitted_ns\":\(emitted)}"
        return json
    }
}
