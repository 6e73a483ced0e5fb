import Foundation
internal import CBLIS

/// The matrix products the engine hands to a library: single-precision GEMM from BLIS (one thread
/// per caller; lstmd parallelises across samples itself). No C type leaves this file.
///
/// BLIS's kernels are compiled in (no JIT, so the hardened units' `MemoryDenyWriteExecute=yes`
/// holds), and lstmd picks its kernel set from the CPU's feature flags (`ISA.current`) rather
/// than from BLIS's own model-number tables, which know no CPU newer than the library.
public enum BLAS {
    /// `C = alpha·A·B + beta·C`, all row-major: A [m×k] (lda), B [k×n] (ldb), C [m×n] (ldc).
    @inline(__always)
    static func sgemm(
        m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        sgemm(
            transposeA: false, transposeB: false, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
            beta: beta, c: c, ldc: ldc)
    }

    /// `C = alpha·op(A)·op(B) + beta·C`, row-major, where `op(X)` is `X` or `Xᵀ`: op(A) [m×k],
    /// op(B) [k×n], C [m×n]. `lda`/`ldb` are the row strides of A and B as stored. Runs on the
    /// calling thread; the result depends only on the operands and the kernel set (`path`).
    @inline(__always)
    public static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        _ = configured
        var alpha = alpha, beta = beta
        // BLIS takes a row and a column stride per operand: a transpose is a swap of the two.
        let (rowA, columnA) = transposeA ? (1, lda) : (lda, 1)
        let (rowB, columnB) = transposeB ? (1, ldb) : (ldb, 1)
        bli_sgemm(
            0, 0, Int64(m), Int64(n), Int64(k), &alpha,
            UnsafeMutablePointer(mutating: a), Int64(rowA), Int64(columnA),
            UnsafeMutablePointer(mutating: b), Int64(rowB), Int64(columnB),
            &beta, c, Int64(ldc), 1)
    }

    /// Kept for callers that parallelise across samples: every GEMM already runs on the calling
    /// thread only, so this just configures the library early.
    public static func useCallingThreadOnly() { _ = configured }

    /// Which GEMM runs here, e.g. "BLIS 0.9.0 sgemm, skx kernels (from the CPU flags), 1 thread per caller".
    public static var path: String { configured }

    /// The BLIS kernel set ("sub-configuration") for a CPU and instruction-set path, or nil to
    /// leave the choice to BLIS. BLIS 0.9 picks by vendor, family and, for AVX-512 Xeons, by
    /// parsing the model name: Xeons whose name it does not know get its AVX2 kernels, AMD
    /// families after 0x19 its unoptimised generic ones. lstmd knows the flags, so it chooses:
    /// skx for AVX-512, haswell for AVX2 (zen3 on AMD families BLIS does not know; BLIS's own
    /// zen/zen2/zen3 choice on those it does).
    static func kernelSet(cpu: CPU, isa: ISA) -> String? {
        switch isa {
        case .avx512: return "skx"
        case .avx2 where cpu.vendor == "AuthenticAMD": return cpu.family > 0x19 ? "zen3" : nil
        case .avx2: return "haswell"
        }
    }

    /// BLIS 0.9.0's arch_t ids of the kernel sets lstmd may ask for (checked against
    /// `bli_arch_string` before use, so another BLIS build is never given a wrong id).
    private static let architectureIDs = ["skx": 0, "haswell": 3, "zen3": 6]

    /// Chooses the kernel set (through `BLIS_ARCH_TYPE`, which BLIS reads at its first call,
    /// unless the user set it) and one thread per call; returns the `path` text.
    private static let configured: String = {
        let environment = ProcessInfo.processInfo.environment
        var how = "BLIS's own detection"
        if environment["BLIS_ARCH_TYPE"] != nil {
            how = "BLIS_ARCH_TYPE from the environment"
        } else if let set = kernelSet(cpu: .current, isa: ISA.current), let id = architectureIDs[set],
            String(cString: bli_arch_string(Int32(id))) == set
        {
            setenv("BLIS_ARCH_TYPE", String(id), 1)
            how = "chosen from the CPU flags"
        }
        bli_thread_set_num_threads(1)
        let version = String(cString: bli_info_get_version_str())
        let kernels = String(cString: bli_arch_string(bli_arch_query_id()))
        return "BLIS \(version) sgemm, \(kernels) kernels (\(how)), 1 thread per caller"
    }()

    /// The one-core rate of this GEMM, in GFLOP/s: square products of 128, 256 and 512 repeated
    /// for a third of `seconds` each, total FLOPs over total time (sustained, as the engine
    /// ceiling it is compared with is measured), the best of the three sizes.
    public static func measuredRate(seconds: Double) -> Double {
        var best = 0.0
        for size in [128, 256, 512] {
            let a = [Float](repeating: 0.5, count: size * size), b = [Float](repeating: 0.25, count: size * size)
            var c = [Float](repeating: 0, count: size * size)
            let clock = ContinuousClock()
            var products = 0
            let start = clock.now
            let deadline = start + .nanoseconds(Int64(seconds / 3 * 1e9))
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        repeat {
                            sgemm(
                                m: size, n: size, k: size, a: a.baseAddress!, lda: size, b: b.baseAddress!, ldb: size,
                                beta: 0, c: c.baseAddress!, ldc: size)
                            products += 1
                        } while clock.now < deadline
                    }
                }
            }
            let elapsed = clock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            best = max(best, Double(products) * 2 * Double(size * size * size) / seconds / 1e9)
        }
        return best
    }
}
