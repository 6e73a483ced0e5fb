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
}
