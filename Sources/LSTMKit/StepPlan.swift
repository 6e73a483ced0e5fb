/// Raw views of everything the single-stream step touches, laid out once per model in one
/// 64-byte-aligned arena, so the hot loop does no reference counting, bounds checks or copies.
///
/// `@unchecked Sendable`: the arena is written only in `init` and read-only afterwards; it lives
/// exactly as long as the plan, which the immutable `LSTMModel` owns.
final class StepPlan: @unchecked Sendable {
    struct Layer {
        /// Fused [W_ih | W_hh] blocks (see `LSTMKernels`).
        let fused: UnsafePointer<Float>
        /// [4Hp] summed biases.
        let bias: UnsafePointer<Float>
        /// Padded input width `N_in`.
        let inputWidth: Int
        /// Floats between blocks in `fused`.
        let blockStride: Int
    }

    let layers: UnsafeMutableBufferPointer<Layer>
    let scaleOffset: UnsafePointer<Float>
    let scaleDivisor: UnsafePointer<Float>
    /// The head's attention pooling over the padded features, or nil for the `last` head.
    let attention: AttentionPooling?
    private let arena: UnsafeMutableRawPointer

    init(directions: [PackedDirection], scaler: Scaler, attention: (weights: [Float], bias: Float)?) {
        let arrays = directions.flatMap { [$0.fused, $0.bias] } + [scaler.offset, scaler.divisor] + (attention.map { [$0.weights] } ?? [])
        let rounded = { (count: Int) in (count + 15) / 16 * 16 }
        let total = arrays.reduce(0) { $0 + rounded($1.count) }
        arena = UnsafeMutableRawPointer.allocate(byteCount: max(total, 16) * 4, alignment: 64)
        let floats = arena.bindMemory(to: Float.self, capacity: max(total, 16))
        var pointers: [UnsafePointer<Float>] = []
        var offset = 0
        for array in arrays {
            (floats + offset).initialize(from: array, count: array.count)
            pointers.append(UnsafePointer(floats + offset))
            offset += rounded(array.count)
        }
        layers = .allocate(capacity: directions.count)
        for (index, direction) in directions.enumerated() {
            (layers.baseAddress! + index).initialize(
                to: Layer(
                    fused: pointers[2 * index], bias: pointers[2 * index + 1],
                    inputWidth: direction.inputWidth, blockStride: direction.blockStride))
        }
        scaleOffset = pointers[2 * directions.count]
        scaleDivisor = pointers[2 * directions.count + 1]
        self.attention = attention.map {
            AttentionPooling(weights: pointers[2 * directions.count + 2], bias: $0.bias, width: $0.weights.count)
        }
    }

    deinit {
        layers.deallocate()
        arena.deallocate()
    }
}
