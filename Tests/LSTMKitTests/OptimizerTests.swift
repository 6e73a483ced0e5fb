import Foundation
import Testing

@testable import LSTMKit

/// One step of each rule against its closed form (PyTorch `torch.optim` semantics), computed here
/// in `Double` from the same inputs.
@Suite("Optimisers")
struct OptimizerTests {
    static let w0: [Float] = [0.5, -1.25, 2.0, 0.0]
    static let g0: [Float] = [0.1, -0.3, 0.02, 1.5]
    static let mask: [Float] = [1, 1, 0, 1]

    static func run(_ settings: Optimizer.Settings, steps: Int = 1, lr: Float = 0.01) throws -> [Float] {
        var optimizer = try Optimizer(settings, count: w0.count, penaltyMask: mask)
        var w = w0
        for _ in 0..<steps {
            var g = g0
            optimizer.step(parameters: &w, gradients: &g, learningRate: lr)
        }
        return w
    }

    static func close(_ a: [Float], _ b: [Double], tolerance: Double = 1e-6) -> Bool {
        zip(a, b).allSatisfy { abs(Double($0) - $1) <= tolerance * max(1, abs($1)) }
    }

    /// A front end's running statistics are frozen: whatever gradient arrives for them, with
    /// coupled or decoupled weight decay, clipping and every rule, they keep their values, and
    /// the clipping norm (returned) is that of the other entries alone; the other entries move
    /// exactly as they would with the frozen ones absent.
    @Test("Frozen entries are never changed and stay out of the clipping norm", arguments: Optimizer.Kind.allCases)
    func frozenEntries(_ kind: Optimizer.Kind) throws {
        let settings = Optimizer.Settings(kind: kind, learningRate: 0.05, weightDecay: 0.5, clipNorm: 0.2)
        var frozenOptimizer = try Optimizer(settings, count: 6, penaltyMask: [], frozen: [4..<6])
        var plainOptimizer = try Optimizer(settings, count: 4, penaltyMask: [])
        var frozen: [Float] = Self.w0 + [0.75, 1.5], plain = Self.w0
        for _ in 0..<3 {
            var g = Self.g0 + [3, -4], h = Self.g0
            let norm = frozenOptimizer.step(parameters: &frozen, gradients: &g, learningRate: 0.05)
            let expected = plainOptimizer.step(parameters: &plain, gradients: &h, learningRate: 0.05)
            #expect(norm == expected)
        }
        #expect(Array(frozen[4...]) == [0.75, 1.5])
        #expect(Array(frozen[..<4]) == plain)
    }

    @Test("Adam: two steps with bias correction")
    func adam() throws {
        let got = try Self.run(.init(kind: .adam), steps: 2)
        var w = Self.w0.map(Double.init), m = [Double](repeating: 0, count: 4), v = m
        for t in 1...2 {
            for i in 0..<4 {
                let g = Double(Self.g0[i])
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                let mHat = m[i] / (1 - pow(0.9, Double(t))), vHat = v[i] / (1 - pow(0.999, Double(t)))
                w[i] -= 0.01 * mHat / (vHat.squareRoot() + 1e-8)
            }
        }
        #expect(Self.close(got, w), "\(got) vs \(w)")
    }

    @Test("AdamW decays weights before the Adam step")
    func adamw() throws {
        let got = try Self.run(.init(kind: .adamw, weightDecay: 0.1))
        let expected = zip(Self.w0, Self.g0).map { w, g -> Double in
            let decayed = Double(w) * (1 - 0.01 * 0.1)
            // First Adam step: m̂ = g, v̂ = g², so the update is lr·g/(|g| + ε).
            return decayed - 0.01 * Double(g) / (abs(Double(g)) + 1e-8)
        }
        #expect(Self.close(got, expected))
    }

    @Test("RMSprop")
    func rmsprop() throws {
        let got = try Self.run(.init(kind: .rmsprop, rho: 0.9))
        let expected = zip(Self.w0, Self.g0).map { w, g -> Double in
            let v = 0.1 * Double(g) * Double(g)
            return Double(w) - 0.01 * Double(g) / (v.squareRoot() + 1e-8)
        }
        #expect(Self.close(got, expected))
    }

    @Test("SGD with momentum and Nesterov, two steps")
    func sgd() throws {
        for nesterov in [false, true] {
            let got = try Self.run(.init(kind: .sgd, momentum: 0.9, nesterov: nesterov), steps: 2)
            let expected = zip(Self.w0, Self.g0).map { w, g -> Double in
                let g = Double(g)
                var w = Double(w), buffer = g
                w -= 0.01 * (nesterov ? g + 0.9 * buffer : buffer)
                buffer = 0.9 * buffer + g
                w -= 0.01 * (nesterov ? g + 0.9 * buffer : buffer)
                return w
            }
            #expect(Self.close(got, expected), "nesterov \(nesterov)")
        }
    }

    @Test("L1 and L2 penalties apply to masked weights only, then clipping by global norm")
    func penaltiesAndClipping() throws {
        let settings = Optimizer.Settings(kind: .sgd, momentum: 0, l1: 0.01, l2: 0.1, clipNorm: 0.5)
        var optimizer = try Optimizer(settings, count: 4, penaltyMask: Self.mask)
        var w = Self.w0, g = Self.g0
        let norm = optimizer.step(parameters: &w, gradients: &g, learningRate: 1)
        var penalised = zip(zip(Self.w0, Self.g0), Self.mask).map { pair, m -> Double in
            let (w, g) = pair
            let sign: Double = w > 0 ? 1 : (w < 0 ? -1 : 0)
            return Double(g) + Double(m) * (0.01 * sign + 2 * 0.1 * Double(w))
        }
        let expectedNorm = penalised.reduce(0) { $0 + $1 * $1 }.squareRoot()
        #expect(abs(Double(norm) - expectedNorm) < 1e-5)
        penalised = penalised.map { $0 * 0.5 / (expectedNorm + 1e-6) }
        let expected = zip(Self.w0, penalised).map { Double($0) - $1 }
        #expect(Self.close(w, expected))
    }

    @Test("Bad settings are refused with a message")
    func validation() {
        #expect(throws: OptimizerError.self) { try Optimizer(.init(learningRate: 0), count: 1, penaltyMask: []) }
        #expect(throws: OptimizerError.self) { try Optimizer(.init(beta2: 1), count: 1, penaltyMask: []) }
        #expect(throws: OptimizerError.self) { try Optimizer(.init(clipNorm: -1), count: 1, penaltyMask: []) }
    }
}
