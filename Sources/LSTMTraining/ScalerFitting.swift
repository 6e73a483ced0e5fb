import LSTMKit

extension Scaler {
    /// Fits per-channel statistics on every timestep of the samples at `indices`.
    ///
    /// A sample holds only its own `T` valid steps (padding exists only in batches), so samples of
    /// different lengths weigh by their length: each timestep counts once. Sums run in `Double`.
    ///
    /// - z-score: the mean and the population standard deviation (divide by the number of steps,
    ///   as NumPy's `std` and scikit-learn's `StandardScaler`).
    /// - min-max: the minimum and maximum.
    ///
    /// A channel whose values are all equal (`max == min`, so `std == 0`) gets divisor 1: z-score
    /// stores that value as the mean and `std = 1`; min-max stores `max = min + 1` (for huge
    /// values, where `min + 1` rounds back to `min`, the next representable `Float`). Any other
    /// divisor that `validate(channels:)` would reject (too small for `1 / divisor` to be finite)
    /// also becomes 1, so the result always validates. With no steps at all (empty `indices`) the
    /// result is the identity (z-score) or `min = 0, max = 1` (min-max).
    ///
    /// - Parameters:
    ///   - kind: The scaling rule.
    ///   - dataset: The data; its `channels` become the scaler's channels `C`.
    ///   - indices: Sample indices into `dataset.samples` (typically the training split); each
    ///     index counts as often as it appears.
    /// - Returns: A scaler with `C` offsets and seconds.
    public static func fit(_ kind: Scaler.Kind, on dataset: Dataset, indices: [Int]) -> Scaler {
        let channels = dataset.channels
        var count = 0
        var sum = [Double](repeating: 0, count: channels)
        var minimum = [Float](repeating: .infinity, count: channels)
        var maximum = [Float](repeating: -.infinity, count: channels)
        for index in indices {
            let sample = dataset.samples[index]
            count += sample.length
            for step in 0..<sample.length {
                for channel in 0..<channels {
                    let value = sample.values[step * channels + channel]
                    sum[channel] += Double(value)
                    minimum[channel] = min(minimum[channel], value)
                    maximum[channel] = max(maximum[channel], value)
                }
            }
        }
        guard count > 0 else {
            switch kind {
            case .zscore: return .identity(channels: channels)
            case .minmax:
                return .minmax(
                    min: [Float](repeating: 0, count: channels), max: [Float](repeating: 1, count: channels))
            }
        }

        switch kind {
        case .zscore:
            let mean = sum.map { $0 / Double(count) }
            var squares = [Double](repeating: 0, count: channels)
            for index in indices {
                let sample = dataset.samples[index]
                for step in 0..<sample.length {
                    for channel in 0..<channels {
                        let deviation = Double(sample.values[step * channels + channel]) - mean[channel]
                        squares[channel] += deviation * deviation
                    }
                }
            }
            var offsets = [Float](repeating: 0, count: channels)
            var deviations = [Float](repeating: 1, count: channels)
            for channel in 0..<channels {
                if minimum[channel] == maximum[channel] {
                    offsets[channel] = minimum[channel]
                    continue
                }
                offsets[channel] = Float(mean[channel])
                let std = Float((squares[channel] / Double(count)).squareRoot())
                if isUsableDivisor(std) { deviations[channel] = std }
            }
            return .zscore(mean: offsets, std: deviations)

        case .minmax:
            var lower = minimum
            var upper = maximum
            for channel in 0..<channels where !isUsableDivisor(maximum[channel] - minimum[channel]) {
                // Divisor 1, or for huge values the smallest gap `Float` can hold.
                upper[channel] = minimum[channel] + 1
                if !isUsableDivisor(upper[channel] - lower[channel]) { upper[channel] = minimum[channel].nextUp }
                if !isUsableDivisor(upper[channel] - lower[channel]) {
                    (lower[channel], upper[channel]) = (minimum[channel].nextDown, minimum[channel])
                }
            }
            return .minmax(min: lower, max: upper)
        }
    }

    /// `true` when `Scaler.validate(channels:)` accepts `divisor`.
    private static func isUsableDivisor(_ divisor: Float) -> Bool {
        divisor > 0 && divisor.isFinite && (1 / divisor).isFinite
    }
}

extension Dataset {
    /// Every sample's values scaled with `scaler.apply`, one timestep at a time, in `Float`:
    /// exactly the arithmetic inference applies to incoming data.
    ///
    /// Lengths, labels, ids, lines, class names, the problem name and the source are unchanged.
    ///
    /// - Parameter scaler: A scaler with `channels` channels (a precondition).
    /// - Returns: The scaled dataset.
    public func scaled(by scaler: Scaler) -> Dataset {
        precondition(
            scaler.channels == channels, "scaler has \(scaler.channels) channels, dataset has \(channels)")
        let channels = channels
        let scaledSamples = samples.map { sample in
            var values = [Float](repeating: 0, count: sample.values.count)
            sample.values.withUnsafeBufferPointer { input in
                values.withUnsafeMutableBufferPointer { output in
                    guard let input = input.baseAddress, let output = output.baseAddress else { return }
                    for step in 0..<sample.length {
                        scaler.apply(input + step * channels, into: output + step * channels)
                    }
                }
            }
            return Sample(values: values, length: sample.length, label: sample.label, id: sample.id, line: sample.line)
        }
        return Dataset(
            samples: scaledSamples, channels: channels, classNames: classNames, problemName: problemName, source: source)
    }
}
