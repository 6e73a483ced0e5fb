import Foundation

/// Which code computes what on this machine, as `lstmctl inspect` and the benchmarks print it.
public enum ComputePath {
    /// The hand-written kernels (gate products of the single-stream step, cell updates,
    /// activations, the training kernels): Swift SIMD compiled for the package's `-march`.
    public static var kernels: String {
        let built = "Swift SIMD kernels built for x86-64-v3 (AVX2+FMA)"
        return avx512Kernels ? "\(built), AVX-512 C kernels for the training recurrent product and cell updates, and fused per-timestep steps (products and cell update in registers) for many streams and the window forward" : built
    }

    /// Whether the kernels with an AVX-512 variant run it (`ISA.current`, decided once).
    static let avx512Kernels = ISA.current == .avx512

    /// One line: the CPU, the instruction-set path, the kernels and the GEMM.
    public static var summary: String {
        let cpu = CPU.current
        return "cpu \(cpu.modelName) (\(cpu.vectorSummary)); ISA path \(ISA.current.rawValue); kernels \(kernels); GEMM \(BLAS.path)"
    }

    /// What each engine path of a model with hidden size `hiddenSize` runs, one line each.
    public static func engineLines(hiddenSize: Int) -> [String] {
        [
            "single-stream step: lstmd's fused gate kernel over [W_ih | W_hh] (no GEMM)",
            "batched step (many streams at once): GEMM for the gate products, lstmd's cell update",
            "window forward: GEMM for the input projection and each timestep's recurrent product, lstmd's cell update",
            "training: GEMM for the input projections"
                + (hiddenSize % 4 == 0
                    ? " (a layer with under 16 inputs multiplies them with the state in the per-timestep product instead)"
                    : "")
                + ", the weight gradients ([dW_ih | dW_hh] in one product) and the input gradients; per-timestep recurrent products "
                + (hiddenSize % 16 == 0
                    ? "in lstmd's register-blocked kernel"
                    : hiddenSize % 4 == 0
                        ? "in lstmd's register-blocked kernel forward, GEMM backward (H is not a multiple of 16)"
                        : "by GEMM (H is not a multiple of 4)"),
        ]
    }
}
