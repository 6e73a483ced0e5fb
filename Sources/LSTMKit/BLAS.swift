import Foundation
internal import COpenBLAS

/// The BLAS routines the engine uses (OpenBLAS through CBLAS). No C type leaves this file.
public enum BLAS {
    /// `C = alpha·A·B + beta·C`, all row-major: A [m×k] (lda), B [k×n] (ldb), C [m×n] (ldc).
    @inline(__always)
    static func sgemm(
        m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), alpha,
            a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// `C = alpha·op(A)·op(B) + beta·C`, row-major, where `op(X)` is `X` or `Xᵀ`: op(A) [m×k],
    /// op(B) [k×n], C [m×n]. `lda`/`ldb` are the row strides of A and B as stored.
    @inline(__always)
    public static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Makes every BLAS call single-threaded unless `OPENBLAS_NUM_THREADS` is set: callers that
    /// parallelise across samples themselves (the inference engine, the trainer) call this first.
    public static func useCallingThreadOnly() { _ = singleThreaded }

    /// lstmd parallelises across samples itself, so each BLAS call runs on the calling thread
    /// (unless `OPENBLAS_NUM_THREADS` says otherwise). Done once, when the first model is built.
    static let singleThreaded: Void = {
        if ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] == nil {
            openblas_set_num_threads(1)
        }
    }()

    /// Sets the number of threads OpenBLAS uses for one call (1 for per-stream work).
    public static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(count))
    }

    /// The number of threads OpenBLAS currently uses.
    public static var threads: Int { Int(openblas_get_num_threads()) }
}
