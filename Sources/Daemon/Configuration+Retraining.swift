import KeyValue

extension Configuration {
    /// When the labelled buffer fsyncs appended records; a record is durable once fsynced.
    public enum BufferFsync: Sendable, Equatable, CustomStringConvertible {
        /// After every append (slow; for tests and for data that cannot be resent).
        case always
        /// At most this many seconds after an append.
        case interval(Double)

        /// `always` or the interval in seconds, as a configuration file spells it.
        public var description: String {
            switch self {
            case .always: "always"
            case .interval(let seconds): "\(seconds)"
            }
        }
    }

    /// Where a retraining job starts.
    public enum RetrainStart: String, Sendable, Equatable, CaseIterable {
        /// From the current model's weights and scaler.
        case warm
        /// From fresh weights, refitting the scaler.
        case scratch
    }

    /// How a stream continues across a model swap.
    public enum SwapContinuity: String, Sendable, Equatable, CaseIterable {
        /// Rebuild the stream's state by replaying its last `W` timesteps through the new model.
        case replay
        /// Start the stream afresh, as after a gap.
        case reset
    }
}

extension ValueFormat where Value == Configuration.BufferFsync {
    /// `always` or a number of seconds.
    static var bufferFsync: ValueFormat {
        .single("always|seconds", render: { $0.description }) { text throws(ValueError) in
            if text == "always" { return .always }
            guard let seconds = Double(text), seconds.isFinite else {
                throw ValueError("must be always or a number of seconds, got '\(text)'")
            }
            return .interval(seconds)
        }
    }
}
