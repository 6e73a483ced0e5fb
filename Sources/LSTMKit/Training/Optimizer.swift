import Foundation

/// A first-order optimiser over one flat parameter buffer, with L1/L2 penalties and gradient
/// clipping by global norm. Update rules are PyTorch's (`torch.optim`), so a step can be checked
/// against it in closed form.
///
/// One `step`: (1) add the penalties' gradients to the weight matrices (`l1·sign(w) + 2·l2·w`,
/// Keras' `l1`/`l2` regularisers; biases are never penalised), (2) if `clipNorm > 0` scale the
/// whole gradient so its L2 norm is at most `clipNorm`, (3) apply the rule with the step's
/// learning rate. Nothing allocates after `init`.
public struct Optimizer: Sendable {
    /// The update rule.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// Adam (Kingma & Ba) with bias correction; `weightDecay` is added to the gradient (L2, PyTorch `Adam`).
        case adam
        /// AdamW: decoupled weight decay `w -= lr·weightDecay·w` before the Adam step.
        case adamw
        /// RMSprop: `v = rho·v + (1-rho)·g²`, `w -= lr·g/(√v + ε)` (`rho` is PyTorch's `alpha`).
        case rmsprop
        /// SGD with momentum `buf = momentum·buf + g` (`buf = g` on the first step), optionally Nesterov.
        case sgd
    }

    /// Hyper-parameters, validated by `validate()`.
    public struct Settings: Sendable, Equatable, Hashable, Codable {
        public var kind: Kind
        public var learningRate: Float
        public var beta1: Float
        public var beta2: Float
        public var epsilon: Float
        /// Decoupled for `adamw`, added to the gradient (coupled) otherwise.
        public var weightDecay: Float
        public var momentum: Float
        public var nesterov: Bool
        public var rho: Float
        /// L1 and L2 penalty factors on weight matrices.
        public var l1: Float
        public var l2: Float
        /// Maximum global gradient norm; 0 disables clipping.
        public var clipNorm: Float

        public init(
            kind: Kind = .adam, learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
            epsilon: Float = 1e-8, weightDecay: Float = 0, momentum: Float = 0.9, nesterov: Bool = false,
            rho: Float = 0.9, l1: Float = 0, l2: Float = 0, clipNorm: Float = 0
        ) {
            self.kind = kind
            self.learningRate = learningRate
            self.beta1 = beta1
            self.beta2 = beta2
            self.epsilon = epsilon
            self.weightDecay = weightDecay
            self.momentum = momentum
            self.nesterov = nesterov
            self.rho = rho
            self.l1 = l1
            self.l2 = l2
            self.clipNorm = clipNorm
        }

        /// - Throws: `ModelError(.architecture)`-style message naming the bad setting.
        public func validate() throws {
            func check(_ ok: Bool, _ message: String) throws {
                if !ok { throw OptimizerError(message: message) }
            }
            try check(learningRate > 0 && learningRate.isFinite, "learning rate \(learningRate) must be positive")
            try check((0..<1).contains(beta1), "beta1 \(beta1) must be in [0, 1)")
            try check((0..<1).contains(beta2), "beta2 \(beta2) must be in [0, 1)")
            try check(epsilon > 0, "epsilon \(epsilon) must be positive")
            try check(weightDecay >= 0 && weightDecay.isFinite, "weight decay \(weightDecay) must be ≥ 0")
            try check((0..<1).contains(momentum), "momentum \(momentum) must be in [0, 1)")
            try check((0..<1).contains(rho), "rho \(rho) must be in [0, 1)")
            try check(l1 >= 0 && l1.isFinite, "l1 \(l1) must be ≥ 0")
            try check(l2 >= 0 && l2.isFinite, "l2 \(l2) must be ≥ 0")
            try check(clipNorm >= 0 && clipNorm.isFinite, "clip norm \(clipNorm) must be ≥ 0")
        }
    }

    /// The settings.
    public let settings: Settings
    /// Steps taken so far.
    public private(set) var steps = 0
    private var first: [Float]
    private var second: [Float]
    private let penaltyMask: [Float]
    /// Entries the optimiser never changes and leaves out of the gradient norm (a front end's
    /// running statistics), in increasing order.
    private let frozen: [Range<Int>]

    /// Creates an optimiser for `count` parameters.
    /// - Parameters:
    ///   - penaltyMask: 1 where L1/L2 apply (see `ParameterLayout.weightMask`), or empty for none.
    ///   - frozen: ranges that are not trained (`ParameterLayout.frozenRanges`): no penalty,
    ///     decay, clipping contribution or update touches them.
    /// - Throws: `OptimizerError` when a setting is out of range.
    public init(_ settings: Settings, count: Int, penaltyMask: [Float], frozen: [Range<Int>] = []) throws {
        try settings.validate()
        precondition(penaltyMask.isEmpty || penaltyMask.count == count, "penalty mask must cover every parameter")
        precondition(
            zip([0..<0] + frozen, frozen + [count..<count]).allSatisfy { $0.upperBound <= $1.lowerBound },
            "frozen ranges must lie in the buffer, in increasing order, without overlap")
        self.frozen = frozen
        self.settings = settings
        first = [Float](repeating: 0, count: count)
        second = [Float](repeating: 0, count: settings.kind == .adam || settings.kind == .adamw ? count : (settings.kind == .rmsprop ? count : 0))
        self.penaltyMask = penaltyMask.isEmpty ? [Float](repeating: 0, count: count) : penaltyMask
    }

    /// Penalties, clipping and one update.
    /// - Parameters:
    ///   - learningRate: this step's rate (the schedule's value).
    /// - Returns: the gradient's global L2 norm before clipping (penalties included).
    @discardableResult
    public mutating func step(parameters: inout [Float], gradients: inout [Float], learningRate lr: Float) -> Float {
        precondition(parameters.count == first.count && gradients.count == first.count, "buffer sizes differ")
        steps += 1
        let s = settings
        let t = Float(steps)
        return parameters.withUnsafeMutableBufferPointer { w in
            gradients.withUnsafeMutableBufferPointer { g in
                first.withUnsafeMutableBufferPointer { m in
                    second.withUnsafeMutableBufferPointer { v in
                        penaltyMask.withUnsafeBufferPointer { mask in
                            let n = w.count
                            if s.l1 > 0 || s.l2 > 0 {
                                for i in 0..<n where mask[i] != 0 {
                                    let sign: Float = w[i] > 0 ? 1 : (w[i] < 0 ? -1 : 0)
                                    g[i] += s.l1 * sign + 2 * s.l2 * w[i]
                                }
                            }
                            if s.weightDecay > 0 && s.kind != .adamw {
                                for i in 0..<n { g[i] += s.weightDecay * w[i] }
                            }
                            // Frozen entries: no gradient, so no norm share, moment or update.
                            for range in frozen {
                                for i in range { g[i] = 0 }
                            }
                            var squares = 0.0
                            for i in 0..<n { squares += Double(g[i]) * Double(g[i]) }
                            let norm = Float(squares.squareRoot())
                            if s.clipNorm > 0 && norm > s.clipNorm {
                                // PyTorch clip_grad_norm_: scale by max_norm / (norm + 1e-6).
                                let scale = s.clipNorm / (norm + 1e-6)
                                for i in 0..<n { g[i] *= scale }
                            }
                            switch s.kind {
                            case .adam, .adamw:
                                if s.kind == .adamw && s.weightDecay > 0 {
                                    let decay = 1 - lr * s.weightDecay
                                    // Every entry outside the frozen ranges.
                                    var start = 0
                                    for range in frozen {
                                        for i in start..<range.lowerBound { w[i] *= decay }
                                        start = range.upperBound
                                    }
                                    for i in start..<n { w[i] *= decay }
                                }
                                let correction1 = 1 - Float(Foundation.pow(Double(s.beta1), Double(t)))
                                let correction2 = 1 - Float(Foundation.pow(Double(s.beta2), Double(t)))
                                let stepSize = lr / correction1
                                let root2 = correction2.squareRoot()
                                for i in 0..<n {
                                    m[i] = s.beta1 * m[i] + (1 - s.beta1) * g[i]
                                    v[i] = s.beta2 * v[i] + (1 - s.beta2) * g[i] * g[i]
                                    w[i] -= stepSize * m[i] / (v[i].squareRoot() / root2 + s.epsilon)
                                }
                            case .rmsprop:
                                for i in 0..<n {
                                    v[i] = s.rho * v[i] + (1 - s.rho) * g[i] * g[i]
                                    w[i] -= lr * g[i] / (v[i].squareRoot() + s.epsilon)
                                }
                            case .sgd:
                                for i in 0..<n {
                                    m[i] = steps == 1 ? g[i] : s.momentum * m[i] + g[i]
                                    w[i] -= lr * (s.nesterov ? g[i] + s.momentum * m[i] : m[i])
                                }
                            }
                            return norm
                        }
                    }
                }
            }
        }
    }
}

/// A bad optimiser setting.
public struct OptimizerError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
