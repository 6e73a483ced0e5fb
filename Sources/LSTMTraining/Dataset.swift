/// A labelled (or unlabelled) collection of multivariate time series, as read from a `.ts` or CSV
/// file.
///
/// Every sample has the same number of channels `C`; lengths `T` may differ between samples.
/// Values are stored timestep-major: `values[t * C + c]` is channel `c` at step `t`.
public struct Dataset: Sendable, Equatable {
    /// One time series with an optional class label.
    public struct Sample: Sendable, Equatable {
        /// The series, timestep-major: `T × C` values, `values[t * C + c]`.
        public var values: [Float]
        /// The number of time steps `T`.
        public var length: Int
        /// The index of the class in `Dataset.classNames`, or `nil` when the sample is unlabelled.
        public var label: Int?
        /// The sample's id in its file (the CSV `sample` column), or `nil` when the file has none.
        public var id: String?
        /// The 1-based line of its file where the sample starts, or `nil` when not read from a file.
        public var line: Int?

        /// Creates a sample.
        ///
        /// - Parameters:
        ///   - values: `T × C` values, timestep-major.
        ///   - length: The number of time steps `T` (at least 1).
        ///   - label: The class index, or `nil` when unlabelled.
        ///   - id: The sample's id in its file, if it has one.
        ///   - line: The 1-based line where the sample starts in its file, if read from one.
        public init(values: [Float], length: Int, label: Int?, id: String? = nil, line: Int? = nil) {
            precondition(length >= 1, "a sample needs at least one time step")
            self.values = values
            self.length = length
            self.label = label
            self.id = id
            self.line = line
        }
    }

    /// The samples, in file order.
    public let samples: [Sample]
    /// The number of channels `C` (dimensions) of every sample.
    public let channels: Int
    /// The class names. A sample's `label` indexes this array. For `.ts` files this is the order
    /// declared by `@classLabel`; for CSV files, the order of first appearance. Empty when the
    /// data carries no labels.
    public let classNames: [String]
    /// The problem name from `@problemName`, if the file declares one.
    public let problemName: String?
    /// The file the samples were read from (its last path component), for messages; `nil` when
    /// the dataset was built in memory.
    public let source: String?

    /// Creates a dataset, checking that the samples agree with `channels` and `classNames`.
    ///
    /// - Parameters:
    ///   - samples: The samples; each must hold `length × channels` values and a label that is
    ///     `nil` or a valid index into `classNames`.
    ///   - channels: The number of channels `C` (at least 1).
    ///   - classNames: Distinct class names.
    ///   - problemName: An optional problem name.
    ///   - source: The file the samples came from, if any (named in messages).
    public init(
        samples: [Sample], channels: Int, classNames: [String], problemName: String? = nil, source: String? = nil
    ) {
        precondition(channels >= 1, "a dataset needs at least one channel")
        precondition(Set(classNames).count == classNames.count, "class names must be distinct")
        for (index, sample) in samples.enumerated() {
            precondition(
                sample.values.count == sample.length * channels,
                "sample \(index) has \(sample.values.count) values, expected \(sample.length) × \(channels)")
            if let label = sample.label {
                precondition(
                    classNames.indices.contains(label),
                    "sample \(index) has label \(label), outside 0..<\(classNames.count)")
            }
        }
        self.samples = samples
        self.channels = channels
        self.classNames = classNames
        self.problemName = problemName
        self.source = source
    }

    /// `true` when every sample has the same length (also for an empty dataset).
    public var isEqualLength: Bool {
        guard let first = samples.first?.length else { return true }
        return samples.allSatisfy { $0.length == first }
    }

    /// The length `T` of the longest sample, or 0 for an empty dataset.
    public var maxLength: Int {
        samples.reduce(0) { max($0, $1.length) }
    }

    /// The number of samples of each class, indexed like `classNames`. Unlabelled samples are
    /// not counted.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classNames.count)
        for sample in samples {
            if let label = sample.label { counts[label] += 1 }
        }
        return counts
    }

    /// The label of every sample, in sample order (`nil` for unlabelled samples).
    public var labels: [Int?] {
        samples.map(\.label)
    }

    /// `true` when every sample has a label.
    public var isLabelled: Bool {
        samples.allSatisfy { $0.label != nil }
    }
}
