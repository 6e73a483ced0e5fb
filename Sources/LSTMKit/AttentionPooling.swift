#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Attention pooling over time: `pooled = Σ_t a_t·y_t` with `a = softmax_t(w·y_t + b)`, for top-layer
/// outputs `y_t` of `width` features.
///
/// The one implementation used by the streaming step (one timestep at a time, the pool kept in
/// `LSTMState`), the window forward and the training forward. It is an online softmax: a pool holds
/// the running weighted sum `Σ e_t·y_t`, the largest score `m` seen so far and `Σ e_t`, where
/// `e_t = exp(score_t - m)`; a new larger score rescales what was accumulated. So a window needs
/// no second pass over its timesteps, and a stream needs no memory of past outputs.
struct AttentionPooling {
    /// Scoring weights `w` [width].
    let weights: UnsafePointer<Float>
    /// Scoring bias `b`.
    let bias: Float
    /// Features per timestep.
    let width: Int

    /// The score `w·y + b` of one timestep's output `y` [width].
    @inline(__always)
    func score(_ y: UnsafePointer<Float>) -> Float {
        var sum = bias
        for j in 0..<width { sum += weights[j] * y[j] }
        return sum
    }

    /// Folds one timestep's output `y` [width] into a pool.
    /// - Parameters:
    ///   - sum: the running `Σ e_t·y_t` [width].
    ///   - largest: the running maximum score `m`.
    ///   - total: the running `Σ e_t`.
    ///   - first: starts a new pool (the previous contents are ignored).
    /// - Returns: the score of `y`.
    @inline(__always)
    @discardableResult
    func fold(
        sum: UnsafeMutablePointer<Float>, largest: inout Float, total: inout Float, _ y: UnsafePointer<Float>,
        first: Bool
    ) -> Float {
        let score = self.score(y)
        if first {
            sum.update(from: y, count: width)
            largest = score
            total = 1
        } else {
            let next = max(largest, score)
            let decay = expf(largest - next), weight = expf(score - next)
            for j in 0..<width { sum[j] = sum[j] * decay + y[j] * weight }
            largest = next
            total = total * decay + weight
        }
        return score
    }

    /// The pooled features `Σ e_t·y_t / Σ e_t` [width] (zeros for an empty pool). `features` may
    /// alias `sum`.
    @inline(__always)
    func finish(_ features: UnsafeMutablePointer<Float>, sum: UnsafePointer<Float>, total: Float) {
        for j in 0..<width { features[j] = total > 0 ? sum[j] / total : 0 }
    }

    /// The softmax weight `a_t` of a timestep with score `score` in a finished pool.
    @inline(__always)
    func weight(score: Float, largest: Float, total: Float) -> Float {
        expf(score - largest) / total
    }
}
