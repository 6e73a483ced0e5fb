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
/// The shards run on `threads - 1` worker threads the runner owns plus the calling thread; a step
/// wakes them with semaphores, so it allocates nothing (no closures, no task objects).
///
/// `@unchecked Sendable`: `job` is written only by the calling thread while the workers wait on
/// their semaphores; during a step each shard writes only its own workspace, gradient, scratch
/// and result slot; the semaphores order those writes before the caller reads them.
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

    /// What the shards run next; written by the calling thread before it wakes the workers.
    private struct Job {
        var training = false
        /// Training-mode forward only (`recomputeRunningStatistics`).
        var statisticsOnly = false
        var parameters = UnsafePointer<Float>(bitPattern: 0x10)!
        var samples: [Dataset.Sample] = []
        var batch: ArraySlice<Int> = []
        var classWeights: UnsafePointer<Float>?
        var augmentation = Augmentation.none
        var seed: UInt64 = 0
        var normalizer: Float = 1
    }

    private var job = Job()
    private let results: UnsafeMutablePointer<Totals>
    private let start: [DispatchSemaphore]
    private let done = DispatchSemaphore(value: 0)
    private var stopping = false

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
        results = .allocate(capacity: threads)
        results.initialize(repeating: Totals(), count: threads)
        start = (0..<threads).map { _ in DispatchSemaphore(value: 0) }
        BLAS.useCallingThreadOnly()
        for shard in 1..<threads {
            let thread = Thread { [self] in workerLoop(shard: shard) }
            thread.name = "lstmd-train-\(shard)"
            thread.start()
        }
    }

    deinit {
        for pointer in gradients + sampleScratch + augmentationScratch { pointer.deallocate() }
        results.deallocate()
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
        classWeights: UnsafePointer<Float>?, augmentation: Augmentation, seed: UInt64
    ) -> Totals {
        // The loss normaliser is the whole batch's weight sum, so shards add up to the batch mean.
        var normalizer: Float = 0
        for index in batch { normalizer += classWeights?[samples[index].label!] ?? 1 }
        job = Job(
            training: true, parameters: parameters, samples: samples, batch: batch, classWeights: classWeights,
            augmentation: augmentation, seed: seed, normalizer: normalizer)
        let totals = dispatch()
        for shard in 1..<threads {
            let source = gradients[shard], target = gradients[0]
            for i in 0..<layout.count { target[i] += source[i] }
        }
        return totals
    }

    /// Folds the batch statistics of the last `trainStep` (or statistics pass) into the front
    /// end's running statistics (`ParameterLayout.updateRunningStatistics`), from the shards that
    /// held samples: a prefix, as `slice` cuts the batch.
    func updateRunningStatistics(_ parameters: inout [Float], momentum: Double = 0.1) {
        guard !layout.architecture.frontEnd.isEmpty else { return }
        var active = 0
        while active < threads && !slice(active).isEmpty { active += 1 }
        layout.updateRunningStatistics(&parameters, workspaces: workspaces[0..<active], momentum: momentum)
    }

    /// Training-mode forward passes (augmentation and dropout as in training, no backward) over
    /// `samples` in batches of `batchSize`, in order, that set the front end's running statistics
    /// to the cumulative average of the batches' statistics: what averaged weights (`swa`) need,
    /// as PyTorch's `swa_utils.update_bn` does.
    func recomputeRunningStatistics(
        _ parameters: inout [Float], samples: [Dataset.Sample], batchSize: Int, augmentation: Augmentation, seed: UInt64
    ) {
        guard !layout.architecture.frontEnd.isEmpty else { return }
        layout.clearRunningStatistics(&parameters)
        let all = Array(samples.indices)
        var start = 0, batches = 0
        while start < samples.count {
            let end = min(samples.count, start + batchSize)
            parameters.withUnsafeBufferPointer { p in
                job = Job(
                    training: true, statisticsOnly: true, parameters: p.baseAddress!, samples: samples,
                    batch: all[start..<end], classWeights: nil, augmentation: augmentation,
                    seed: seed &+ UInt64(batches), normalizer: 1)
                _ = dispatch()
            }
            batches += 1
            updateRunningStatistics(&parameters, momentum: 1 / Double(batches))
            start = end
        }
    }

    /// Inference-mode forward over every sample; returns probabilities [N, K] and the summed
    /// unweighted loss.
    func evaluate(parameters: UnsafePointer<Float>, samples: [Dataset.Sample], chunk: Int = 256) -> (probabilities: [Float], loss: Double) {
        let k = layout.architecture.numClasses
        var probabilities = [Float](repeating: 0, count: samples.count * k)
        var loss = 0.0
        let all = Array(samples.indices)
        var start = 0
        while start < samples.count {
            let end = min(samples.count, start + chunk)
            job = Job(
                training: false, parameters: parameters, samples: samples, batch: all[start..<end], classWeights: nil,
                augmentation: .none, seed: 0, normalizer: 1)
            loss += dispatch().weightedLoss
            // Copy each shard's probabilities out in order.
            var position = start
            for shard in 0..<threads {
                let slice = self.slice(shard)
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

    /// Stops the worker threads; call once when done.
    func close() {
        stopping = true
        for semaphore in start.dropFirst() { semaphore.signal() }
    }

    /// The contiguous part of the job's batch that `shard` takes.
    private func slice(_ shard: Int) -> ArraySlice<Int> {
        let batch = job.batch
        let per = (batch.count + threads - 1) / threads
        let lower = batch.startIndex + min(batch.count, shard * per)
        let upper = batch.startIndex + min(batch.count, (shard + 1) * per)
        return batch[lower..<upper]
    }

    /// Runs the job on every shard (shard 0 on the calling thread) and adds up the totals in
    /// shard order.
    private func dispatch() -> Totals {
        for shard in 1..<threads { start[shard].signal() }
        execute(shard: 0)
        for _ in 1..<threads { done.wait() }
        var totals = Totals()
        for shard in 0..<threads {
            totals.weightedLoss += results[shard].weightedLoss
            totals.weightSum += results[shard].weightSum
            totals.correct += results[shard].correct
        }
        return totals
    }

    private func workerLoop(shard: Int) {
        while true {
            start[shard].wait()
            if stopping { return }
            execute(shard: shard)
            done.signal()
        }
    }

    /// One shard's part of the current job.
    private func execute(shard: Int) {
        let slice = self.slice(shard)
        results[shard] = Totals()
        guard !slice.isEmpty else { return }
        let workspace = workspaces[shard]
        let job = self.job
        if job.training {
            var generator = SplitMix64(seed: job.seed &+ UInt64(shard) &* 0x9E37_79B9_7F4A_7C15)
            fill(workspace, shard: shard, samples: job.samples, slice: slice, augmentation: job.augmentation, generator: &generator)
            workspace.forward(parameters: job.parameters, training: true, generator: &generator)
            if job.statisticsOnly { return }
            let gradient = gradients[shard]
            gradient.update(repeating: 0, count: layout.count)
            let loss = workspace.loss(classWeights: job.classWeights)
            workspace.backward(
                parameters: job.parameters, gradients: gradient, classWeights: job.classWeights, normalizer: job.normalizer)
            results[shard] = Totals(weightedLoss: loss.weightedSum, weightSum: loss.weightSum, correct: loss.correct)
        } else {
            var generator = SplitMix64(seed: 0)
            fill(workspace, shard: shard, samples: job.samples, slice: slice, augmentation: .none, generator: &generator)
            workspace.forward(parameters: job.parameters, training: false, generator: &generator)
            guard slice.allSatisfy({ job.samples[$0].label != nil }) else { return }
            let loss = workspace.loss(classWeights: nil)
            results[shard] = Totals(weightedLoss: loss.weightedSum, weightSum: loss.weightSum, correct: loss.correct)
        }
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
