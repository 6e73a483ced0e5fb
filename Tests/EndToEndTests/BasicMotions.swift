import Foundation

/// The public BasicMotions test split (`Tests/LSTMTrainingTests/Fixtures/BasicMotions_TEST.ts`):
/// 40 recordings of 6 channels × 100 timesteps, the data the bundled default model was trained for.
/// Parsed by hand (sktime `.ts`: after `@data`, one case per line, dimensions separated by `:`,
/// values by `,`, the class last).
enum BasicMotions {
    struct Recording {
        var label: String
        /// [T, C] timestep-major.
        var values: [Float]
    }

    static var url: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../LSTMTrainingTests/Fixtures/BasicMotions_TEST.ts").standardized
    }

    static func recordings() throws -> [Recording] {
        let text = try String(contentsOf: url, encoding: .utf8)
        var recordings: [Recording] = []
        var inData = false
        for line in text.split(whereSeparator: \.isNewline) {
            if line.lowercased().hasPrefix("@data") {
                inData = true
                continue
            }
            guard inData, !line.isEmpty else { continue }
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            let dimensions = try fields.dropLast().map { dimension in
                try dimension.split(separator: ",").map { text in
                    guard let value = Float(text) else { throw HarnessError("bad value '\(text)' in \(url.path)") }
                    return value
                }
            }
            let t = dimensions[0].count
            var values = [Float](repeating: 0, count: t * dimensions.count)
            for (channel, series) in dimensions.enumerated() {
                for step in 0..<t { values[step * dimensions.count + channel] = series[step] }
            }
            recordings.append(Recording(label: String(fields.last!), values: values))
        }
        return recordings
    }
}
