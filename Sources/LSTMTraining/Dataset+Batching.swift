extension Dataset {
    /// A batch of samples padded to the longest: values [B, T, C] (zeros after each sample's
    /// end), the per-sample lengths, and `T`.
    public func paddedBatch(_ indices: some Collection<Int>) -> (values: [Float], lengths: [Int], timesteps: Int) {
        let timesteps = indices.map { samples[$0].length }.max() ?? 1
        var values = [Float](repeating: 0, count: indices.count * timesteps * channels)
        var lengths: [Int] = []
        lengths.reserveCapacity(indices.count)
        for (slot, index) in indices.enumerated() {
            let sample = samples[index]
            let base = slot * timesteps * channels
            values.replaceSubrange(base..<(base + sample.values.count), with: sample.values)
            lengths.append(sample.length)
        }
        return (values, lengths, timesteps)
    }
}
