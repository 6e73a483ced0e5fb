import Foundation
import Testing

@testable import LSTMKit

@Suite("GEMM path (BLIS) and CPU dispatch")
struct GEMMTests {
    /// `C = alpha·op(A)·op(B) + beta·C` in Double, element by element: the oracle.
    static func naive(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: [Float], lda: Int,
        b: [Float], ldb: Int, beta: Float, c: inout [Float], ldc: Int
    ) -> [Double] {
        var bound = [Double](repeating: 0, count: c.count)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0, magnitude = 0.0
                for p in 0..<k {
                    let x = Double(transposeA ? a[p * lda + i] : a[i * lda + p])
                    let y = Double(transposeB ? b[j * ldb + p] : b[p * ldb + j])
                    sum += x * y
                    magnitude += abs(x * y)
                }
                let old = Double(c[i * ldc + j])
                c[i * ldc + j] = Float(Double(alpha) * sum + (beta == 0 ? 0 : Double(beta) * old))
                bound[i * ldc + j] = abs(Double(alpha)) * magnitude + abs(Double(beta) * old)
            }
        }
        return bound
    }

    /// The shapes lstmd multiplies (window forward with B=32 and 64, T=100, C=6, H=64 and a
    /// padded odd H; the batched step; training forward and backward), each with row strides
    /// wider than the matrix so a mixed-up leading dimension shows.
    static let shapes: [(name: String, ta: Bool, tb: Bool, m: Int, n: Int, k: Int, beta: Float)] = [
        ("window input projection, layer 1", false, false, 3200, 256, 6, 1),
        ("window input projection, layer 2", false, false, 640, 256, 64, 1),
        ("window recurrent product", false, false, 32, 256, 64, 0),
        ("batched step, odd streams", false, false, 5, 80, 21, 1),
        ("training input projection (Wᵀ)", false, true, 640, 256, 64, 0),
        ("training recurrent product (Wᵀ)", false, true, 32, 192, 48, 1),
        ("training weight gradient (Gᵀ·X)", true, false, 256, 64, 640, 1),
        ("training input-weight gradient, C=6", true, false, 256, 6, 640, 1),
        ("training input gradient", false, false, 640, 64, 256, 1),
        ("dense head gradient", true, false, 4, 64, 32, 1),
        ("both transposed", true, true, 17, 33, 9, 0.5),
        ("empty k", false, false, 3, 5, 0, 0.5),
    ]

    @Test("BLAS.sgemm equals a naive reference on the shapes lstmd uses, transposes and strides included")
    func matchesNaiveReference() {
        var generator = SplitMix64(seed: 13)
        for shape in Self.shapes {
            let (rowsA, columnsA) = shape.ta ? (shape.k, shape.m) : (shape.m, shape.k)
            let (rowsB, columnsB) = shape.tb ? (shape.n, shape.k) : (shape.k, shape.n)
            let lda = columnsA + 3, ldb = columnsB + 5, ldc = shape.n + 7
            let a = (0..<(rowsA * lda)).map { _ in generator.normal() }
            let b = (0..<(rowsB * ldb)).map { _ in generator.normal() }
            let c0 = (0..<(shape.m * ldc)).map { _ in generator.normal() }
            let alpha: Float = shape.name == "both transposed" ? -0.75 : 1
            var ours = c0, reference = c0
            ours.withUnsafeMutableBufferPointer { c in
                BLAS.sgemm(
                    transposeA: shape.ta, transposeB: shape.tb, m: shape.m, n: shape.n, k: shape.k, alpha: alpha, a: a,
                    lda: lda, b: b, ldb: ldb, beta: shape.beta, c: c.baseAddress!, ldc: ldc)
            }
            let bound = Self.naive(
                transposeA: shape.ta, transposeB: shape.tb, m: shape.m, n: shape.n, k: shape.k, alpha: alpha, a: a, lda: lda,
                b: b, ldb: ldb, beta: shape.beta, c: &reference, ldc: ldc)
            // Float32 accumulation: each term rounds at most once per add, so the error is below
            // (k + 2)·2⁻²⁴ of the sum of magnitudes; the padding columns must stay untouched.
            var failures = 0
            for row in 0..<shape.m {
                for column in 0..<ldc {
                    let index = row * ldc + column
                    if column >= shape.n {
                        if ours[index] != c0[index] { failures += 1 }
                        continue
                    }
                    let tolerance = Double(shape.k + 2) * 0x1p-24 * bound[index] + 1e-30
                    if abs(Double(ours[index]) - Double(reference[index])) > tolerance { failures += 1 }
                }
            }
            #expect(failures == 0, "\(shape.name): \(failures) elements off")
        }
    }

    @Test("The GEMM runs on the calling thread with the kernels named in its path")
    func pathNamesLibraryAndKernels() {
        #expect(BLAS.path.hasPrefix("BLIS "))
        #expect(BLAS.path.contains("1 thread per caller"))
        #expect(BLAS.measuredRate(seconds: 0.05) > 0.1)
    }

    static let epyc = CPU(cpuinfo: """
        processor\t: 0
        vendor_id\t: AuthenticAMD
        cpu family\t: 23
        model\t\t: 1
        model name\t: AMD EPYC
        flags\t\t: fpu sse sse2 avx avx2 fma bmi2

        processor\t: 1
        model name\t: something else
        """)
    static let emeraldRapids = CPU(cpuinfo: """
        vendor_id\t: GenuineIntel
        cpu family\t: 6
        model\t\t: 207
        model name\t: INTEL(R) XEON(R) PLATINUM 8581C CPU @ 2.10GHz
        flags\t\t: avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_bf16 amx_tile amx_bf16
        """)

    @Test("/proc/cpuinfo: the first processor's model name, vendor, family and flags")
    func parsesCPUInfo() {
        #expect(Self.epyc.modelName == "AMD EPYC")
        #expect(Self.epyc.vendor == "AuthenticAMD")
        #expect(Self.epyc.family == 23 && Self.epyc.model == 1)
        #expect(Self.epyc.hasAVX2 && !Self.epyc.hasAVX512 && Self.epyc.vectorSummary == "AVX2+FMA")
        #expect(Self.emeraldRapids.hasAVX512 && Self.emeraldRapids.hasAMX && Self.emeraldRapids.vectorSummary == "AVX-512+AMX")
        #expect(CPU(cpuinfo: "").modelName == "unknown")
    }

    @Test("LSTMD_ISA: the widest path by default, an override only when the CPU has it, anything else an error")
    func selectsInstructionSet() throws {
        #expect(try ISA.select(cpu: Self.epyc, environment: [:]) == .avx2)
        #expect(try ISA.select(cpu: Self.emeraldRapids, environment: [:]) == .avx512)
        #expect(try ISA.select(cpu: Self.emeraldRapids, environment: ["LSTMD_ISA": "avx2"]) == .avx2)
        #expect(try ISA.select(cpu: Self.emeraldRapids, environment: ["LSTMD_ISA": "AVX512"]) == .avx512)
        #expect(throws: ISA.Unavailable.self) { try ISA.select(cpu: Self.epyc, environment: ["LSTMD_ISA": "avx512"]) }
        #expect(throws: ISA.Unavailable.self) { try ISA.select(cpu: Self.epyc, environment: ["LSTMD_ISA": "sse"]) }
        do {
            _ = try ISA.select(cpu: Self.epyc, environment: ["LSTMD_ISA": "avx512"])
        } catch {
            #expect("\(error)".contains("lacks AVX-512"))
        }
    }

    @Test("BLIS kernels by flags, not model numbers: skx for AVX-512, haswell for AVX2, BLIS's choice on AMD it knows")
    func choosesKernelSet() {
        #expect(BLAS.kernelSet(cpu: Self.emeraldRapids, isa: .avx512) == "skx")
        #expect(BLAS.kernelSet(cpu: Self.emeraldRapids, isa: .avx2) == "haswell")
        #expect(BLAS.kernelSet(cpu: Self.epyc, isa: .avx2) == nil)
        let zen5 = CPU(cpuinfo: "vendor_id : AuthenticAMD\ncpu family : 26\nflags : avx avx2 fma\n")
        #expect(BLAS.kernelSet(cpu: zen5, isa: .avx2) == "zen3")
    }
}
