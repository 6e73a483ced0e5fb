/// The bound a single stream's step cannot pass on this machine: with one stream there is one
/// multiply–add per weight per timestep, so the step is limited by how fast the core reads the
/// weights from its caches, not by its FMA units. `lstmctl bench e2e` prints this next to the
/// engine ceiling, so its one-stream rows can be read against what the hardware allows.
public enum WeightStreamRate {
    /// GFLOP/s of reading `floats` floats (a model's weights, cache-resident after the first pass)
    /// with one multiply–add each, in the step kernels' SIMD width: the best of repeated passes
    /// for about `seconds`.
    public static func measure(floats: Int, seconds: Double) -> Double {
        let count = max(64, floats / 64 * 64)
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 1e-6, count: count)
        let clock = ContinuousClock()
        let deadline = clock.now + .nanoseconds(Int64(seconds * 1e9))
        var best = 0.0
        var sink: Float = 0
        repeat {
            let start = clock.now
            var passes = 0
            repeat {
                sink += pass(buffer, count: count)
                passes += 1
            } while clock.now - start < .milliseconds(5)
            let elapsed = clock.now - start
            let time = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            best = max(best, 2 * Double(count * passes) / time / 1e9)
        } while clock.now < deadline
        return sink.isNaN ? 0 : best
    }

    /// One pass: four independent accumulators, one multiply–add per float.
    @inline(never)
    static func pass(_ weights: UnsafePointer<Float>, count: Int) -> Float {
        var s0 = Vector16(), s1 = Vector16(), s2 = Vector16(), s3 = Vector16()
        let x = Vector16(repeating: 1.0001)
        var index = 0
        while index < count {
            s0 = s0.addingProduct(x, load16(weights + index))
            s1 = s1.addingProduct(x, load16(weights + index + 16))
            s2 = s2.addingProduct(x, load16(weights + index + 32))
            s3 = s3.addingProduct(x, load16(weights + index + 48))
            index += 64
        }
        return (s0 + s1 + s2 + s3).sum()
    }
}
