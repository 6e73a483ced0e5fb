extension Dataset {
    /// How messages name sample `index`: `'walk-01'` style ids when the file has them, else the
    /// 0-based index (as `lstmctl predict` prints it).
    public func sampleName(_ index: Int) -> String {
        samples[index].id.map { "sample '\($0)'" } ?? "sample index \(index)"
    }

    /// Where sample `index` is, as a message prefix in the style of `DatasetError`:
    /// `train.csv:17: `, `train.ts: ` when the line is unknown, or empty for in-memory data.
    public func location(of index: Int) -> String {
        guard let source else { return "" }
        return samples[index].line.map { "\(source):\($0): " } ?? "\(source): "
    }

    /// The dataset's name in messages: its file, or `(in memory)`.
    public var displayName: String { source ?? "(in memory)" }

    /// Checks that there are samples and that every one has a label.
    /// - Parameter role: What the data is for, e.g. `training data`, used in the message.
    /// - Throws: `TrainingError` naming the file, line and sample of the first unlabelled sample.
    public func checkLabelled(as role: String) throws {
        guard !samples.isEmpty else { throw TrainingError("\(role) \(displayName) holds no samples") }
        guard let index = samples.firstIndex(where: { $0.label == nil }) else { return }
        let reason = classNames.isEmpty
            ? " (the file has no labels: a CSV needs a last header column 'label', a .ts file '@classLabel true')"
            : ""
        throw TrainingError(
            "\(location(of: index))\(sampleName(index)) has no label\(reason); \(role) needs a label on every sample")
    }

    /// This dataset with every label renumbered to `reference` classes (matched by name), after
    /// checking channels, labels and classes sample by sample.
    ///
    /// - Parameters:
    ///   - reference: The class names to number labels by (the training data's, or a model's).
    ///   - channels: The channel count the data must have.
    ///   - role: What this data is, e.g. `validation data`.
    ///   - owner: Whose classes `reference` are, e.g. `the training data (train.ts)` or `the model`.
    /// - Returns: The relabelled dataset (`classNames == reference`) and the reference classes no
    ///   sample has, in reference order.
    /// - Throws: `TrainingError` naming the fault: a channel count that differs, an unlabelled
    ///   sample or a class `owner` does not have (with its file, line and sample).
    public func relabelled(
        to reference: [String], channels expected: Int, role: String, owner: String
    ) throws -> (dataset: Dataset, missing: [String]) {
        guard channels == expected else {
            throw TrainingError("\(role) \(displayName) has \(channels) channels, \(owner) has \(expected)")
        }
        try checkLabelled(as: role)
        var mapping = [Int?](repeating: nil, count: classNames.count)
        for (index, name) in classNames.enumerated() { mapping[index] = reference.firstIndex(of: name) }
        var relabelled = samples
        var present = [Bool](repeating: false, count: reference.count)
        for (index, sample) in samples.enumerated() {
            let name = classNames[sample.label!]
            guard let target = mapping[sample.label!] else {
                throw TrainingError(
                    "\(location(of: index))\(sampleName(index)) of the \(role) has class '\(name)', which \(owner) "
                        + "does not have (its classes: \(reference.joined(separator: ", ")))")
            }
            relabelled[index].label = target
            present[target] = true
        }
        let missing = reference.indices.filter { !present[$0] }.map { reference[$0] }
        return (
            Dataset(
                samples: relabelled, channels: channels, classNames: reference, problemName: problemName,
                source: source),
            missing
        )
    }
}
