import Foundation

/// Writes a `Dataset` in the CSV layout that `CSVDatasetParser` reads: a header
/// `sample,<channel names…>[,label]`, then one row per time step.
///
/// Values are written in their shortest form that reads back as the same `Float`, so a
/// write-then-parse round trip reproduces the values exactly. Fields holding `,`, `"`, line
/// breaks or surrounding blanks are quoted. Non-finite values are written as `nan`/`inf`, which
/// the parser refuses.
public enum CSVDatasetWriter {
    /// The CSV text for `dataset`.
    ///
    /// - Parameters:
    ///   - dataset: The dataset to write.
    ///   - channelNames: One header name per channel; defaults to `c0`, `c1`, ….
    ///   - sampleIDs: One id per sample; defaults to the sample index, `0`, `1`, ….
    /// - Returns: The text; the `label` column is present when any sample is labelled.
    public static func csvText(for dataset: Dataset, channelNames: [String]? = nil, sampleIDs: [String]? = nil) -> String {
        let names = channelNames ?? (0..<dataset.channels).map { "c\($0)" }
        precondition(names.count == dataset.channels, "need \(dataset.channels) channel names, got \(names.count)")
        precondition(sampleIDs == nil || sampleIDs!.count == dataset.samples.count, "need one id per sample")
        let hasLabel = dataset.samples.contains { $0.label != nil }
        var text = (["sample"] + names + (hasLabel ? ["label"] : [])).map(field).joined(separator: ",")
        text += "\n"
        for (index, sample) in dataset.samples.enumerated() {
            let id = field(sampleIDs?[index] ?? String(index))
            let label = hasLabel ? "," + field(sample.label.map { dataset.classNames[$0] } ?? "") : ""
            for t in 0..<sample.length {
                text += id
                for c in 0..<dataset.channels {
                    text += ","
                    text += sample.values[t * dataset.channels + c].description
                }
                text += label
                text += "\n"
            }
        }
        return text
    }

    /// Writes `dataset` to `url` atomically, replacing any existing file.
    ///
    /// - Parameters:
    ///   - dataset: The dataset to write.
    ///   - url: The destination file.
    ///   - channelNames: One header name per channel; defaults to `c0`, `c1`, ….
    ///   - sampleIDs: One id per sample; defaults to the sample index.
    /// - Throws: The file-system error if the file cannot be written.
    public static func write(
        _ dataset: Dataset, to url: URL, channelNames: [String]? = nil, sampleIDs: [String]? = nil
    ) throws {
        let text = csvText(for: dataset, channelNames: channelNames, sampleIDs: sampleIDs)
        try Data(text.utf8).write(to: url, options: .atomic)
    }

    /// `text`, quoted when the parser would otherwise split or trim it.
    private static func field(_ text: String) -> String {
        let needsQuotes = text.utf8.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 10 || $0 == 13 }
            || text.first.map { $0 == " " || $0 == "\t" } == true
            || text.last.map { $0 == " " || $0 == "\t" } == true
        guard needsQuotes else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
