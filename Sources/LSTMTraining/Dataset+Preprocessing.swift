import LSTMKit

extension Dataset {
    /// Every sample through `preprocessing` (`Preprocessing.apply`: per-sample normalisation,
    /// then block means), with labels, ids and lines kept: what the model sees before its scaler.
    public func preprocessed(by preprocessing: Preprocessing) -> Dataset {
        guard !preprocessing.isIdentity else { return self }
        let prepared = samples.map { sample in
            Sample(
                values: preprocessing.apply(sample.values, length: sample.length, channels: channels),
                length: preprocessing.outputLength(sample.length), label: sample.label, id: sample.id, line: sample.line)
        }
        return Dataset(samples: prepared, channels: channels, classNames: classNames, problemName: problemName, source: source)
    }

    /// Whether every sample is already z-normalised alike: per channel, every sample's mean and
    /// population standard deviation equal the first sample's within `tolerance` of that
    /// deviation (the UCR archive's univariate sets ship so: mean 0, std 1 per series). Then
    /// per-sample normalisation and the global z-score scaler are one transform up to rounding:
    /// both subtract the common mean and divide by the common deviation.
    public func isZNormalizedPerSample(tolerance: Double = 1e-5) -> Bool {
        guard let first = samples.first else { return false }
        func statistics(_ sample: Sample, _ channel: Int) -> (mean: Double, std: Double) {
            var sum = 0.0
            for t in 0..<sample.length { sum += Double(sample.values[t * channels + channel]) }
            let mean = sum / Double(sample.length)
            var squares = 0.0
            for t in 0..<sample.length {
                let d = Double(sample.values[t * channels + channel]) - mean
                squares += d * d
            }
            return (mean, (squares / Double(sample.length)).squareRoot())
        }
        for channel in 0..<channels {
            let reference = statistics(first, channel)
            guard reference.std > 0, reference.std.isFinite else { return false }
            let bound = tolerance * reference.std
            for sample in samples {
                let (mean, std) = statistics(sample, channel)
                guard abs(mean - reference.mean) <= bound, abs(std - reference.std) <= bound else { return false }
            }
        }
        return true
    }
}
