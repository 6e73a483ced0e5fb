import LSTMKernelsC
import Testing

@testable import LSTMKit

@Suite("Training cell kernels")
struct CellKernelTests {
    /// Gate pre-activations, biases and cells spread past the ±20 gate clamp and the exp clamp.
    static func values(_ count: Int, scale: Float, generator: inout SplitMix64) -> [Float] {
        (0..<count).map { index in index % 29 == 0 ? (index % 2 == 0 ? 40 : -40) : scale * generator.normal() }
    }

    @Test(
        "The AVX-512 C cell forward gives the Swift reference's bits",
        .enabled(if: CPU.current.hasAVX512, "this CPU has no AVX-512 (F/DQ/BW/VL): the AVX-512 kernel cannot run here"))
    func forwardMatchesSwift() {
        var generator = SplitMix64(seed: 21)
        for h in [16, 32, 64, 128] {
            for scale: Float in [0.5, 3, 12] {
                let gates0 = Self.values(4 * h, scale: scale, generator: &generator)
                let bias = Self.values(4 * h, scale: 0.3, generator: &generator)
                let previous = Self.values(h, scale: scale, generator: &generator)
                var gatesSwift = gates0, gatesC = gates0
                var outSwift = [Float](repeating: .nan, count: 3 * h), outC = outSwift
                outSwift.withUnsafeMutableBufferPointer { o in
                    gatesSwift.withUnsafeMutableBufferPointer { g in
                        lstmCellForwardSIMD(
                            hidden: o.baseAddress!, cell: o.baseAddress! + h, tanhCell: o.baseAddress! + 2 * h,
                            gates: g.baseAddress!, bias: bias, previousCell: previous, hiddenSize: h)
                    }
                }
                outC.withUnsafeMutableBufferPointer { o in
                    gatesC.withUnsafeMutableBufferPointer { g in
                        lstmd_cell_forward_avx512(
                            o.baseAddress!, o.baseAddress! + h, o.baseAddress! + 2 * h, g.baseAddress!, bias, previous,
                            Int64(h))
                    }
                }
                #expect(outSwift.map(\.bitPattern) == outC.map(\.bitPattern), "h \(h) scale \(scale): h', c', tanh c'")
                #expect(gatesSwift.map(\.bitPattern) == gatesC.map(\.bitPattern), "h \(h) scale \(scale): activations")
                #expect(outSwift.allSatisfy { $0.isFinite })
            }
        }
    }

    @Test(
        "The AVX-512 C cell backward gives the Swift reference's bits",
        .enabled(if: CPU.current.hasAVX512, "this CPU has no AVX-512 (F/DQ/BW/VL): the AVX-512 kernel cannot run here"))
    func backwardMatchesSwift() {
        var generator = SplitMix64(seed: 22)
        for h in [16, 48, 64] {
            // Saved activations in their ranges: σ in (0, 1), tanh in (-1, 1).
            let gates = (0..<(4 * h)).map { index in
                index / h == 2 ? Float.random(in: -1...1, using: &generator) : Float.random(in: 0...1, using: &generator)
            }
            let tanhCell = (0..<h).map { _ in Float.random(in: -1...1, using: &generator) }
            let previous = (0..<h).map { _ in 2 * generator.normal() }
            let hiddenGradient = (0..<h).map { _ in generator.normal() }
            let cell0 = (0..<h).map { _ in generator.normal() }
            var gradientSwift = [Float](repeating: .nan, count: 4 * h), gradientC = gradientSwift
            var cellSwift = cell0, cellC = cell0
            gradientSwift.withUnsafeMutableBufferPointer { d in
                cellSwift.withUnsafeMutableBufferPointer { c in
                    lstmCellBackwardSIMD(
                        gateGradient: d.baseAddress!, cellGradient: c.baseAddress!, hiddenGradient: hiddenGradient,
                        gates: gates, tanhCell: tanhCell, previousCell: previous, hiddenSize: h)
                }
            }
            gradientC.withUnsafeMutableBufferPointer { d in
                cellC.withUnsafeMutableBufferPointer { c in
                    lstmd_cell_backward_avx512(
                        d.baseAddress!, c.baseAddress!, hiddenGradient, gates, tanhCell, previous, Int64(h))
                }
            }
            #expect(gradientSwift.map(\.bitPattern) == gradientC.map(\.bitPattern), "h \(h): gate gradient")
            #expect(cellSwift.map(\.bitPattern) == cellC.map(\.bitPattern), "h \(h): cell gradient")
            #expect(gradientSwift.allSatisfy { $0.isFinite })
        }
    }

    @Test(
        "The AVX-512 C cell update over packed blocks gives the Swift reference's bits, with and without a second term",
        .enabled(if: CPU.current.hasAVX512, "this CPU has no AVX-512 (F/DQ/BW/VL): the AVX-512 kernel cannot run here"))
    func blocksMatchSwift() {
        var generator = SplitMix64(seed: 23)
        for blocks in [1, 4, 8] {
            for withSecond in [false, true] {
                let a = Self.values(64 * blocks, scale: 4, generator: &generator)
                let b = Self.values(64 * blocks, scale: 4, generator: &generator)
                let cell0 = Self.values(16 * blocks, scale: 3, generator: &generator)
                var hiddenSwift = [Float](repeating: .nan, count: 16 * blocks), hiddenC = hiddenSwift
                var cellSwift = cell0, cellC = cell0
                b.withUnsafeBufferPointer { second in
                    let term = withSecond ? second.baseAddress! : nil
                    lstmCellBlocksSIMD(hidden: &hiddenSwift, cell: &cellSwift, a, term, blocks: blocks)
                    lstmd_cell_blocks_avx512(&hiddenC, &cellC, a, term, Int64(blocks))
                }
                #expect(hiddenSwift.map(\.bitPattern) == hiddenC.map(\.bitPattern), "\(blocks) blocks, second \(withSecond): h'")
                #expect(cellSwift.map(\.bitPattern) == cellC.map(\.bitPattern), "\(blocks) blocks, second \(withSecond): c'")
                #expect(hiddenSwift.allSatisfy { $0.isFinite })
            }
        }
    }

    @Test(
        "The fused AVX-512 batched step gives the bits of bias, two Swift products and the Swift cell update",
        .enabled(if: CPU.current.hasAVX512, "this CPU has no AVX-512 (F/DQ/BW/VL): the AVX-512 kernel cannot run here"))
    func fusedStepMatchesSwift() {
        var generator = SplitMix64(seed: 25)
        // Rows around the kernel's group of 6 and panel of 48; the input widths of a first layer
        // (few channels) and of a stacked layer; one and several blocks of 16 units.
        for (rows, inputWidth, hp) in [(1, 6, 16), (5, 6, 64), (6, 64, 64), (7, 3, 32), (13, 64, 16), (48, 6, 64), (49, 32, 32), (100, 64, 64)] {
            let input = Self.values(rows * inputWidth, scale: 1, generator: &generator)
            let inputWeights = Self.values(inputWidth * 4 * hp, scale: 0.3, generator: &generator)
            let recurrentWeights = Self.values(hp * 4 * hp, scale: 0.3, generator: &generator)
            let bias = Self.values(4 * hp, scale: 0.5, generator: &generator)
            let hidden0 = Self.values(rows * hp, scale: 0.8, generator: &generator)
            let cell0 = Self.values(rows * hp, scale: 3, generator: &generator)
            // The reference: gates = bias, += x·W_x, += h·W_h (the Swift register-blocked product),
            // then the Swift cell update per row.
            var gates = (0..<rows).flatMap { _ in bias }
            var hiddenSwift = hidden0, cellSwift = cell0
            gates.withUnsafeMutableBufferPointer { g in
                recurrentProductSIMD(
                    g.baseAddress!, ldc: 4 * hp, input, lda: inputWidth, inputWeights, ldb: 4 * hp, m: rows, k: inputWidth,
                    n: 4 * hp, accumulate: true)
                recurrentProductSIMD(
                    g.baseAddress!, ldc: 4 * hp, hidden0, lda: hp, recurrentWeights, ldb: 4 * hp, m: rows, k: hp, n: 4 * hp,
                    accumulate: true)
                hiddenSwift.withUnsafeMutableBufferPointer { h in
                    cellSwift.withUnsafeMutableBufferPointer { c in
                        for row in 0..<rows {
                            lstmCellBlocksSIMD(
                                hidden: h.baseAddress! + row * hp, cell: c.baseAddress! + row * hp,
                                g.baseAddress! + row * 4 * hp, nil, blocks: hp / 16)
                        }
                    }
                }
            }
            var hiddenC = hidden0, cellC = cell0
            var scratch = [Float](repeating: .nan, count: min(rows, 48) * hp)
            fusedStepRowsAVX512(
                hidden: &hiddenC, cell: &cellC, input: input, inputWidth: inputWidth, inputWeights: inputWeights,
                recurrentWeights: recurrentWeights, bias: bias, rows: rows, paddedHidden: hp, scratch: &scratch)
            let differentHidden = zip(hiddenSwift, hiddenC).filter { $0.bitPattern != $1.bitPattern }.count
            let differentCell = zip(cellSwift, cellC).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differentHidden == 0, "\(rows) rows, \(inputWidth) inputs, Hp \(hp): h' differs in \(differentHidden) values")
            #expect(differentCell == 0, "\(rows) rows, \(inputWidth) inputs, Hp \(hp): c' differs in \(differentCell) values")
            #expect(hiddenC.allSatisfy { $0.isFinite } && hiddenC != hidden0)
        }
    }

    @Test(
        "The fused AVX-512 window step gives the bits of the Swift recurrent product and the Swift cell update",
        .enabled(if: CPU.current.hasAVX512, "this CPU has no AVX-512 (F/DQ/BW/VL): the AVX-512 kernel cannot run here"))
    func fusedWindowStepMatchesSwift() {
        var generator = SplitMix64(seed: 27)
        for (rows, hp, first) in [(1, 16, true), (5, 64, false), (6, 32, false), (7, 64, true), (49, 16, false), (64, 64, false)] {
            // Pre-activations of more rows than are stepped, read in a scrambled order, as the
            // window forward reads them (sample b at timestep t).
            let pre = Self.values(2 * rows * 4 * hp, scale: 2, generator: &generator)
            let rowOf = (0..<rows).map { (7 * $0 + 3) % (2 * rows) }
            let recurrentWeights = Self.values(hp * 4 * hp, scale: 0.3, generator: &generator)
            let hidden0 = Self.values(rows * hp, scale: 0.8, generator: &generator)
            let cell0 = Self.values(rows * hp, scale: 3, generator: &generator)
            var hiddenSwift = hidden0, cellSwift = cell0
            var product = [Float](repeating: .nan, count: rows * 4 * hp)
            pre.withUnsafeBufferPointer { p in
                product.withUnsafeMutableBufferPointer { r in
                    recurrentProductSIMD(
                        r.baseAddress!, ldc: 4 * hp, hidden0, lda: hp, recurrentWeights, ldb: 4 * hp, m: rows, k: hp,
                        n: 4 * hp, accumulate: false)
                    hiddenSwift.withUnsafeMutableBufferPointer { h in
                        cellSwift.withUnsafeMutableBufferPointer { c in
                            for row in 0..<rows {
                                lstmCellBlocksSIMD(
                                    hidden: h.baseAddress! + row * hp, cell: c.baseAddress! + row * hp,
                                    p.baseAddress! + rowOf[row] * 4 * hp, first ? nil : UnsafePointer(r.baseAddress! + row * 4 * hp),
                                    blocks: hp / 16)
                            }
                        }
                    }
                }
            }
            var hiddenC = hidden0, cellC = cell0
            var scratch = [Float](repeating: .nan, count: min(rows, 48) * hp)
            pre.withUnsafeBufferPointer { p in
                let rowPointers: [UnsafePointer<Float>?] = rowOf.map { p.baseAddress! + $0 * 4 * hp }
                fusedWindowStepAVX512(
                    hidden: &hiddenC, cell: &cellC, pre: rowPointers, recurrentWeights: recurrentWeights, rows: rows,
                    paddedHidden: hp, first: first, scratch: &scratch)
            }
            let differentHidden = zip(hiddenSwift, hiddenC).filter { $0.bitPattern != $1.bitPattern }.count
            let differentCell = zip(cellSwift, cellC).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differentHidden == 0, "\(rows) rows, Hp \(hp), first \(first): h' differs in \(differentHidden) values")
            #expect(differentCell == 0, "\(rows) rows, Hp \(hp), first \(first): c' differs in \(differentCell) values")
            #expect(hiddenC.allSatisfy { $0.isFinite } && hiddenC != hidden0)
        }
    }
}
