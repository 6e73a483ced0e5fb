import LSTMKit

extension ClassificationMetrics {
    /// Classifies every labelled sample of `dataset` with `model` (each sample whole, as one
    /// window, scaled by the model's scaler) and scores the predictions.
    ///
    /// Labels are matched to the model's classes by name, so a file whose `@classLabel` order
    /// differs from the model's is scored correctly.
    /// - Throws: `TrainingError` when the channels differ, there are no samples, a sample is
    ///   unlabelled or a label is not one of the model's classes (naming the file, line and sample).
    public init(evaluating model: LSTMModel, on dataset: Dataset) throws {
        let (aligned, _) = try dataset.relabelled(
            to: model.classes, channels: model.channels, role: "evaluation data", owner: "the model")
        var predictions: [Int] = []
        predictions.reserveCapacity(dataset.samples.count)
        do {
            try model.forwardEach(dataset) { _, result, slot in predictions.append(result.predictedClass(of: slot)) }
        } catch let error as ModelError {
            throw TrainingError(error.message)
        }
        self.init(predictions: predictions, labels: aligned.samples.map { $0.label! }, classNames: model.classes)
    }
}

extension LSTMModel {
    /// Runs every sample of `dataset` whole, as one window, in batches of `forwardChunk` padded
    /// to their longest sample, and calls `body(index, result, slot)` per sample in order: the
    /// sample's outputs are `result`'s row `slot`.
    /// - Throws: `ModelError` when the data does not fit the model, or what `body` throws.
    public func forwardEach(
        _ dataset: Dataset, _ body: (_ index: Int, _ result: ForwardResult, _ slot: Int) throws -> Void
    ) throws {
        for start in stride(from: 0, to: dataset.samples.count, by: Self.forwardChunk) {
            let indices = start..<min(start + Self.forwardChunk, dataset.samples.count)
            let batch = dataset.paddedBatch(indices)
            let result = try forward(batch.values, batchSize: indices.count, timesteps: batch.timesteps, lengths: batch.lengths)
            for (slot, index) in indices.enumerated() { try body(index, result, slot) }
        }
    }
}
