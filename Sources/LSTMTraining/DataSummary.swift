import Foundation
import LSTMKit

/// What a training set looks like to the trainer, with suggestions for data the default recipe
/// is known to struggle with: lengths, how much the samples differ in amplitude, class balance.
///
/// Computed from the raw training data (before any preprocessing, scaling or balancing), printed
/// before the first epoch, sent in the `started` JSON event and shown in the report.
public struct DataSummary: Sendable, Equatable {
    /// Samples summarised.
    public var samples: Int
    /// Shortest, median and longest sample length, in raw timesteps.
    public var shortest: Int
    public var medianLength: Int
    public var longest: Int
    /// The 10th and 90th percentile across samples of each sample's amplitude: the population
    /// standard deviation over its timesteps, averaged over channels.
    public var amplitudeP10: Double
    public var amplitudeP90: Double
    /// Samples per class, indexed like the data's classes.
    public var classCounts: [Int]
    /// Concrete changes to the recipe worth trying, each naming its flag.
    public var suggestions: [String] = []

    /// Longest raw sample above which downsampling is suggested.
    public static let longSample = 400
    /// Amplitude spread (P90/P10) from which per-sample normalisation is suggested.
    public static let wideSpread = 10.0

    /// `amplitudeP90 / amplitudeP10` (infinite when P10 is 0 and P90 is not, 1 when both are 0).
    public var amplitudeSpread: Double {
        if amplitudeP10 > 0 { return amplitudeP90 / amplitudeP10 }
        return amplitudeP90 > 0 ? .infinity : 1
    }

    /// The share of the most frequent class (0 without labelled samples).
    public var majorityRate: Double {
        let total = classCounts.reduce(0, +)
        return total == 0 ? 0 : Double(classCounts.max() ?? 0) / Double(total)
    }

    /// Summarises `dataset`.
    /// - Parameters:
    ///   - normalizesPerSample: the recipe already normalises each sample (no suggestion for it).
    ///   - downsamples: the recipe already downsamples (no suggestion for it).
    public init(_ dataset: Dataset, normalizesPerSample: Bool = false, downsamples: Bool = false) {
        let lengths = dataset.samples.map(\.length).sorted()
        samples = lengths.count
        shortest = lengths.first ?? 0
        longest = lengths.last ?? 0
        medianLength = lengths.isEmpty ? 0 : lengths[(lengths.count - 1) / 2]
        let amplitudes = dataset.samples.map { Self.amplitude($0, channels: dataset.channels) }.sorted()
        amplitudeP10 = Self.percentile(amplitudes, 0.1)
        amplitudeP90 = Self.percentile(amplitudes, 0.9)
        classCounts = dataset.classCounts
        if !normalizesPerSample && amplitudeSpread >= Self.wideSpread {
            let spread = amplitudeSpread
            let factor = spread.isFinite ? "10^\(String(format: "%.1f", log10(spread)))" : "more than 10^6 (some samples are constant)"
            suggestions.append(
                "samples differ in amplitude by \(factor) (90th/10th percentile of per-sample std): "
                    + "one global scaler squashes the quiet ones to a flat line; try --normalize per-sample")
        }
        if !downsamples && longest > Self.longSample {
            suggestions.append(
                "longest sample \(longest) steps: long sequences are slow to train and hard for an LSTM to learn; "
                    + "try --downsample auto (averages blocks of timesteps to ≤ \(Preprocessing.autoTarget) steps)")
        }
        if let smallest = classCounts.filter({ $0 > 0 }).min(), let largest = classCounts.max(), largest >= 3 * smallest {
            suggestions.append(
                "classes are imbalanced (\(largest) vs \(smallest) samples): try --balancing oversample or class-weights")
        }
    }

    /// One sample's amplitude: the population std over its timesteps, averaged over channels.
    static func amplitude(_ sample: Dataset.Sample, channels: Int) -> Double {
        var total = 0.0
        for channel in 0..<channels {
            var sum = 0.0, squares = 0.0
            for t in 0..<sample.length {
                let value = Double(sample.values[t * channels + channel])
                sum += value
                squares += value * value
            }
            let n = Double(sample.length)
            let mean = sum / n
            total += max(0, squares / n - mean * mean).squareRoot()
        }
        return total / Double(channels)
    }

    /// The nearest-rank percentile `p` (0...1) of sorted `values` (0 when empty).
    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[Int((p * Double(sorted.count - 1)).rounded())]
    }

    /// `key: value` rows for printing and the report.
    public var rows: [(key: String, value: String)] {
        let spread = amplitudeSpread.isFinite ? String(format: "%.3g×", amplitudeSpread) : "∞"
        return [
            ("samples", String(samples)),
            ("length (min / median / max)", "\(shortest) / \(medianLength) / \(longest)"),
            ("per-sample std (P10 / P90)", String(format: "%.3g / %.3g", amplitudeP10, amplitudeP90) + " (spread \(spread))"),
            ("class counts", classCounts.map(String.init).joined(separator: ", ")
                + String(format: " (majority %.3f)", majorityRate)),
        ]
    }

    /// The summary as the `data` object of the `started` JSON event.
    public var json: JSONValue {
        .object([
            "samples": .number(Double(samples)),
            "length_min": .number(Double(shortest)), "length_median": .number(Double(medianLength)),
            "length_max": .number(Double(longest)),
            "amplitude_p10": .number(amplitudeP10), "amplitude_p90": .number(amplitudeP90),
            "amplitude_spread": amplitudeSpread.isFinite ? .number(amplitudeSpread) : .null,
            "class_counts": .array(classCounts.map { .number(Double($0)) }),
            "majority_rate": .number(majorityRate),
            "suggestions": .array(suggestions.map { .string($0) }),
        ])
    }
}

/// The check for a run that is not learning: training accuracy still near the majority-class
/// rate after `epoch` epochs.
public enum ChanceCheck {
    /// The epoch after which training accuracy is compared with chance (or the last epoch of a
    /// shorter run).
    public static let epoch = 5

    /// How close to the majority-class rate counts as chance: 0.05, or a tenth of the distance
    /// to 1 when that is larger.
    public static func margin(majorityRate: Double) -> Double { max(0.05, 0.1 * (1 - majorityRate)) }

    /// Whether `accuracy` is within the margin of `majorityRate` (or below it).
    public static func isNearChance(accuracy: Double, majorityRate: Double) -> Bool {
        accuracy < majorityRate + margin(majorityRate: majorityRate)
    }

    /// The warning for a run near chance, naming the likely causes with this data's numbers.
    static func warning(
        accuracy: Double, epoch: Int, majorityRate: Double, summary: DataSummary, learningRate: Float,
        preprocessing: Preprocessing
    ) -> String {
        var causes: [String] = []
        let spread = summary.amplitudeSpread
        let amplitudes = "per-sample amplitudes span " + (spread.isFinite ? String(format: "%.3g×", spread) : "zero to non-zero")
        causes.append(
            preprocessing.normalization == .perSample
                ? "scaling (\(amplitudes); already normalised per sample)"
                : "scaling (\(amplitudes); --normalize per-sample z-normalises each sample on its own)")
        let steps = preprocessing.outputLength(summary.longest)
        causes.append(
            preprocessing.downsample > 1
                ? "sequence length (longest sample \(summary.longest) steps, \(steps) after downsample \(preprocessing.downsample); "
                    + "a larger --downsample shortens it further)"
                : "sequence length (longest sample \(summary.longest) steps; --downsample auto averages blocks of timesteps)")
        causes.append(
            "learning rate (\(String(format: "%g", learningRate)); try 3 times lower or higher with --learning-rate)")
        return String(
            format: "training accuracy %.3f after %d epochs is near chance (the majority class is %.3f of the training samples): "
                + "the model is not learning. Likely causes: ", accuracy, epoch, majorityRate)
            + causes.joined(separator: "; ")
    }
}
