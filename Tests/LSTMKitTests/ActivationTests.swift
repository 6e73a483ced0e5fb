import Foundation
import Testing

@testable import LSTMKit

/// The vectorised nonlinearities against `Double` references, with the bounds the doc states.
@Suite struct ActivationTests {
    /// Evaluates `f` on a dense grid over [-lo, hi] plus extremes, 16 lanes at a time.
    func maxError(
        _ f: (Vector16) -> Vector16, reference: (Double) -> Double, range: ClosedRange<Float>,
        relative: Bool = false, extremes: Bool = true
    ) -> Double {
        var points: [Float] = []
        var x = range.lowerBound
        while x <= range.upperBound {
            points.append(x)
            x += 1.0 / 4096
        }
        if extremes { points += [0, -0.0, .leastNonzeroMagnitude, 1e-30, -1e-30, 100, -100, 1e30, -1e30, .greatestFiniteMagnitude, -.greatestFiniteMagnitude] }
        while points.count % 16 != 0 { points.append(0) }
        var worst = 0.0
        for start in stride(from: 0, to: points.count, by: 16) {
            var lanes = Vector16()
            for lane in 0..<16 { lanes[lane] = points[start + lane] }
            let result = f(lanes)
            for lane in 0..<16 {
                let exact = reference(Double(lanes[lane]))
                var error = abs(Double(result[lane]) - exact)
                if relative { error /= max(abs(exact), .leastNormalMagnitude) }
                worst = max(worst, error)
            }
        }
        return worst
    }

    @Test func sigmoidWithinStatedBound() {
        let error = maxError(Activations.sigmoid, reference: { 1 / (1 + Foundation.exp(-$0)) }, range: -30...30)
        #expect(error <= 1e-7, "sigmoid max abs error \(error)")
    }

    @Test func tanhWithinStatedBound() {
        let error = maxError(Activations.tanh, reference: { Foundation.tanh($0) }, range: -20...20)
        #expect(error <= 3e-7, "tanh max abs error \(error)")
    }

    @Test func expRelativeErrorWithinBound() {
        let error = maxError(Activations.exp, reference: { Foundation.exp($0) }, range: -87...88, relative: true, extremes: false)
        #expect(error <= 3e-7, "exp max relative error \(error)")
    }

    @Test func exactAtZeroSoPaddedUnitsStayZero() {
        #expect(Activations.tanh(Vector16(repeating: 0)) == Vector16(repeating: 0))
        #expect(Activations.sigmoid(Vector16(repeating: 0)) == Vector16(repeating: 0.5))
    }

    @Test func saturatesWithoutNaN() {
        let big = Vector16(repeating: 1e30)
        #expect(Activations.sigmoid(big) == Vector16(repeating: 1))
        #expect(Activations.sigmoid(-big) == Vector16(repeating: 0) || Activations.sigmoid(-big).max() < 1e-37)
        #expect(Activations.tanh(big) == Vector16(repeating: 1))
        #expect(Activations.tanh(-big) == Vector16(repeating: -1))
    }
}

/// The cell update against a `Double` reference, with and without saving the gate activations.
@Suite struct PointwiseTests {
    @Test func cellUpdateWithinBound() {
        var generator = SplitMix64(seed: 77)
        var worstCell = 0.0, worstHidden = 0.0, worstActivation = 0.0
        for round in 0..<4000 {
            let scale: Float = round % 4 == 0 ? 40 : 6
            var lanes = (Vector16(), Vector16(), Vector16(), Vector16(), Vector16())
            for lane in 0..<16 {
                lanes.0[lane] = generator.uniform(-scale, scale)
                lanes.1[lane] = generator.uniform(-scale, scale)
                lanes.2[lane] = generator.uniform(-scale, scale)
                lanes.3[lane] = generator.uniform(-scale, scale)
                lanes.4[lane] = generator.uniform(-scale, scale)
            }
            var cell = lanes.4
            let hidden = lstmCellIFGO(lanes.0, lanes.1, lanes.2, lanes.3, cell: &cell)
            var savedCell = lanes.4
            var saved = LSTMGateActivations()
            let savedHidden = lstmCellIFGO(lanes.0, lanes.1, lanes.2, lanes.3, cell: &savedCell, saving: &saved)
            // Saving the activations does not change the result.
            #expect(savedCell == cell && savedHidden == hidden)
            for lane in 0..<16 {
                let sigmoid = { (x: Float) in 1 / (1 + Foundation.exp(-Double(x))) }
                let c = sigmoid(lanes.1[lane]) * Double(lanes.4[lane]) + sigmoid(lanes.0[lane]) * Foundation.tanh(Double(lanes.2[lane]))
                let h = sigmoid(lanes.3[lane]) * Foundation.tanh(c)
                #expect(cell[lane].isFinite && hidden[lane].isFinite)
                worstCell = max(worstCell, abs(Double(cell[lane]) - c) / max(1, abs(c)))
                worstHidden = max(worstHidden, abs(Double(hidden[lane]) - h))
                let references = [
                    (saved.input[lane], sigmoid(lanes.0[lane])), (saved.forget[lane], sigmoid(lanes.1[lane])),
                    (saved.candidate[lane], Foundation.tanh(Double(lanes.2[lane]))), (saved.output[lane], sigmoid(lanes.3[lane])),
                    (saved.tanhCell[lane], Foundation.tanh(c)),
                ]
                for (ours, reference) in references { worstActivation = max(worstActivation, abs(Double(ours) - reference)) }
            }
        }
        #expect(worstCell <= 1e-6, "cell error \(worstCell)")
        #expect(worstHidden <= 1e-6, "hidden error \(worstHidden)")
        #expect(worstActivation <= 1e-6, "activation error \(worstActivation)")
    }
}
