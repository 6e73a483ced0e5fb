import LSTMKernelsC
import Testing

@testable import LSTMKit

@Suite("Recurrent product kernel")
struct RecurrentProductTests {
    @Test("Matches BLAS sgemm for every row remainder, with and without accumulation")
    func matchesBLAS() {
        var generator = SplitMix64(seed: 5)
        for (m, k, n) in [(1, 3, 16), (3, 8, 32), (4, 64, 256), (7, 20, 48), (9, 256, 64), (32, 64, 256)] {
            for accumulate in [false, true] {
                let lda = k + 3, ldb = n + 16, ldc = n + 5
                let a = (0..<(m * lda)).map { _ in generator.normal() }
                let b = (0..<(k * ldb)).map { _ in generator.normal() }
                let c0 = (0..<(m * ldc)).map { _ in generator.normal() }
                var ours = c0, reference = c0
                ours.withUnsafeMutableBufferPointer { c in
                    recurrentProduct(c.baseAddress!, ldc: ldc, a, lda: lda, b, ldb: ldb, m: m, k: k, n: n, accumulate: accumulate)
                }
                reference.withUnsafeMutableBufferPointer { c in
                    BLAS.sgemm(
                        transposeA: false, transposeB: false, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                        beta: accumulate ? 1 : 0, c: c.baseAddress!, ldc: ldc)
                }
                // Only the m×n block changes; the padding columns keep their values.
                var worst: Float = 0
                for row in 0..<m {
                    for column in 0..<ldc {
                        let index = row * ldc + column
                        if column >= n { #expect(ours[index] == c0[index]) }
                        worst = max(worst, abs(ours[index] - reference[index]))
                    }
                }
                #expect(worst <= 1e-4 * Float(k).squareRoot(), "m \(m) k \(k) n \(n) accumulate \(accumulate): \(worst)")
            }
        }
    }

    @Test(
        "The AVX-512 C kernel gives the Swift kernel's bits (within 1e-6), every row and column remainder",
        .enabled(if: CPU.current.hasAVX512, "this CPU has no AVX-512 (F/DQ/BW/VL): the AVX-512 kernel cannot run here"))
    func avx512MatchesSwift() {
        var generator = SplitMix64(seed: 9)
        for (m, k, n) in [(1, 3, 16), (3, 8, 32), (8, 64, 256), (9, 20, 48), (15, 256, 64), (32, 64, 256), (17, 64, 80)] {
            for accumulate in [false, true] {
                let lda = k + 3, ldb = n + 16, ldc = n + 5
                let a = (0..<(m * lda)).map { _ in generator.normal() }
                let b = (0..<(k * ldb)).map { _ in generator.normal() }
                let c0 = (0..<(m * ldc)).map { _ in generator.normal() }
                var simd = c0, avx512 = c0
                simd.withUnsafeMutableBufferPointer { c in
                    recurrentProductSIMD(c.baseAddress!, ldc: ldc, a, lda: lda, b, ldb: ldb, m: m, k: k, n: n, accumulate: accumulate)
                }
                avx512.withUnsafeMutableBufferPointer { c in
                    lstmd_recurrent_product_avx512(
                        c.baseAddress!, Int64(ldc), a, Int64(lda), b, Int64(ldb), Int64(m), Int64(k), Int64(n), accumulate ? 1 : 0)
                }
                let worst = zip(simd, avx512).map { abs($0 - $1) }.max() ?? 0
                #expect(worst <= 1e-6, "m \(m) k \(k) n \(n) accumulate \(accumulate): \(worst)")
            }
        }
    }
}
