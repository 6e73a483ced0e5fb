import Foundation
import LSTMKit

/// Runs forward and backward passes over batches on `threads` shards.
///
/// A batch is cut into `threads` contiguous slices; each slice runs on its own thread with its own
/// `TrainingWorkspace` and gradient buffer, and the gradients are summed in shard order. Every
/// random draw (augmentation, dropout) comes from a generator seeded by (seed, epoch, step,
/// shard), so a run depends on the thread count but never on timing. After the first step of
/// the longest batch nothing is allocated.
///
/// `@unchecked Sendable`: the buffers are written only inside `run`, where each shard touches its
/// own workspace, gradient and scratch buffers; `run` returns after every shard finished.
final class BatchRunner: @unchecked Sendable {
    let layout: ParameterLayout
    let threads: Int
    let channels: Int
    let workspaces: [TrainingWorkspace]
    private let gradients: [UnsafeMutablePointer<Float>]
    private let sampleScratch: [UnsafeMutablePointer<Float>]
    private let augmentationScratch: [UnsafeMutablePointer<Float>]
    private let longest: Int
    private let augmentationScratchCount: Int

    /// - Parameters:
    ///   - longest: the longest sample any batch will hold.
    init(layout: ParameterLayout, threads: Int, batchSize: Int, longest: Int) {
        self.layout = layout
        self.threads = threads
        channels = layout.architecture.inputSize
        self.longest = longest
        let perShard = (batchSize + threads - 1) / threads
        workspaces = (0..<threads).map { _ in
            TrainingWorkspace(layout: layout, batchCapacity: perShard, timestepCapacity: longest)
        }
        gradients = (0..<threads).map { _ in
            let pointer = UnsafeMutablePointer<Float>.allocate(capacity: layout.count)
            pointer.initialize(repeating: 0, count: layout.count)
            return pointer
        }
        sampleScratch = (0..<threads).map { _ in .allocate(capacity: max(1, longest * layout.architecture.inputSize)) }
        augmentationScratchCount = Augmentation.scratchCount(length: longest, channels: layout.architecture.inputSize)
        augmentationScratch = (0..<threads).map { [augmentationScratchCount] _ in .allocate(capacity: max(1, augmentationScratchCount)) }
        BLAS.useCallingThreadOnly()
    }

    deinit {
        for pointer in gradients + sampleScratch + augmentationScratch { pointer.deallocate() }
    }

    /// The summed gradient of the last `trainStep`.
    var gradient: UnsafeMutablePointer<Float> { gradients[0] }

    /// Per-shard outcome of a forward pass.
    struct Totals {
        var weightedLoss = 0.0
        var weightSum = 0.0
        var correct = 0
    }

    /// Forward and backward over `batch` (indices into `samples`); leaves the summed gradient of
    /// the batch's weighted-mean loss in `gradient`.
    func trainStep(
        parameters: UnsafePointer<Float>, samples: [Dataset.Sample], batch: ArraySlice<Int>,
        classWeights: [Float]?, augmentation: Augmentation, seed: UInt64
    ) -> Totals {
        // The loss normaliser is the whole batch's weight sum, so shards add up to the batch mean.
        var sum: Float = 0
        for index in batch { sum += classWeights.map { $0[samples[index].label!] } ?? 1 }
        let normalizer = sum
        let shared = SharedPointer(base: parameters)
        let totals = run(samples: samples, batch: batch) { shard, workspace, slice in
            let parameters = shared.base
            var generator = SplitMix64(seed: seed &+ UInt64(shard) &* 0x9E37_79B9_7F4A_7C15)
            self.fill(workspace, shard: shard, samples: samples, slice: slice, augmentation: augmentation, generator: &generator)
            workspace.forward(parameters: parameters, training: true, generator: &generator)
            let gradient = self.gradients[shard]
            gradient.update(repeating: 0, count: self.layout.count)
            return (classWeights ?? []).withUnsafeBufferPointer { weights in
                let w = classWeights == nil ? nil : weights.baseAddress
                let loss = workspace.loss(classWeights: w)
                workspace.backward(parameters: parameters, gradients: gradient, classWeights: w, normalizer: normalizer)
                return Totals(weightedLoss: loss.weightedSum, weightSum: loss.weightSum, correct: loss.correct)
            }
        }
        for shard in 1..<threads {
            let source = gradients[shard]
            for i in 0..<layout.count { gradients[0][i] += source[i] }
        }
        return totals
    }

    /// Inference-mode forward over every sample; returns probabilities [N, K] and the summed
    /// unweighted loss.
    func evaluate(parameters: UnsafePointer<Float>, samples: [Dataset.Sample], chunk: Int = 256) -> (probabilities: [Float], loss: Double) {
        let k = layout.architecture.numClasses
        var probabilities = [Float](repeating: 0, count: samples.count * k)
        var loss = 0.0
        var start = 0
        while start < samples.count {
            let end = min(samples.count, start + chunk)
            let batch = Array(start..<end)[...]
            let shared = SharedPointer(base: parameters)
            let totals = run(samples: samples, batch: batch) { shard, workspace, slice in
                let parameters = shared.base
                var generator = SplitMix64(seed: 0)
                self.fill(workspace, shard: shard, samples: samples, slice: slice, augmentation: .none, generator: &generator)
                workspace.forward(parameters: parameters, training: false, generator: &generator)
                let hasLabels = slice.allSatisfy { samples[$0].label != nil }
                guard hasLabels else { return Totals() }
                let result = workspace.loss(classWeights: nil)
                return Totals(weightedLoss: result.weightedSum, weightSum: result.weightSum, correct: result.correct)
            }
            loss += totals.weightedLoss
            // Copy each shard's probabilities out in order.
            var position = start
            for (shard, slice) in shards(of: batch).enumerated() where !slice.isEmpty {
                let workspace = workspaces[shard]
                for row in 0..<slice.count {
                    for j in 0..<k { probabilities[(position + row) * k + j] = workspace.probabilities[row * k + j] }
                }
                position += slice.count
            }
            start = end
        }
        return (probabilities, loss)
    }

    /// The contiguous slices of `batch` the shards take.
    func shards(of batch: ArraySlice<Int>) -> [ArraySlice<Int>] {
        let per = (batch.count + threads - 1) / threads
        return (0..<threads).map { shard in
            let lower = batch.startIndex + min(batch.count, shard * per)
            let upper = batch.startIndex + min(batch.count, (shard + 1) * per)
            return batch[lower..<upper]
        }
    }

    /// Runs `body` for every non-empty shard in parallel and adds up the totals in shard order.
    private func run(
        samples: [Dataset.Sample], batch: ArraySlice<Int>,
        body: @escaping @Sendable (Int, TrainingWorkspace, ArraySlice<Int>) -> Totals
    ) -> Totals {
        let slices = shards(of: batch)
        let results = ResultSlots(count: threads)
        DispatchQueue.concurrentPerform(iterations: threads) { shard in
            guard !slices[shard].isEmpty else { return }
            results.set(shard, body(shard, workspaces[shard], slices[shard]))
        }
        var totals = Totals()
        for shard in 0..<threads {
            guard let result = results.get(shard) else { continue }
            totals.weightedLoss += result.weightedLoss
            totals.weightSum += result.weightSum
            totals.correct += result.correct
        }
        return totals
    }

    /// Writes the slice's samples (augmented copies when enabled) into the workspace, time-major.
    private func fill(
        _ workspace: TrainingWorkspace, shard: Int, samples: [Dataset.Sample], slice: ArraySlice<Int>,
        augmentation: Augmentation, generator: inout SplitMix64
    ) {
        let c = channels
        let timesteps = slice.reduce(1) { max($0, samples[$1].length) }
        let n = slice.count
        workspace.prepare(batchSize: n, timesteps: timesteps)
        let input = workspace.input
        let scratch = sampleScratch[shard]
        for (slot, index) in slice.enumerated() {
            let sample = samples[index]
            let length = sample.length
            sample.values.withUnsafeBufferPointer { values in
                var source = values.baseAddress!
                if augmentation.isEnabled {
                    scratch.update(from: source, count: length * c)
                    augmentation.apply(
                        scratch, length: length, channels: c, scratch: augmentationScratch[shard], generator: &generator)
                    source = UnsafePointer(scratch)
                }
                for t in 0..<length {
                    (input + (t * n + slot) * c).update(from: source + t * c, count: c)
                }
            }
            for t in length..<timesteps {
                (input + (t * n + slot) * c).update(repeating: 0, count: c)
            }
            workspace.lengths[slot] = length
            workspace.labels[slot] = sample.label ?? 0
        }
    }
}

/// One result slot per shard, written by that shard's thread only.
///
/// `@unchecked Sendable`: slot `i` is written by exactly one task and read after all tasks joined.
private final class ResultSlots: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<BatchRunner.Totals?>
    private let count: Int
    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil, count: count)
    }
    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }
    func set(_ index: Int, _ value: BatchRunner.Totals) { slots[index] = value }
    func get(_ index: Int) -> BatchRunner.Totals? { slots[index] }
}

/// A pointer handed to shard threads that only read through it (parameters) while the caller
/// waits. `@unchecked Sendable`: nothing writes the memory until every shard has finished.
struct SharedPointer: @unchecked Sendable {
    let base: UnsafePointer<Float>
}
