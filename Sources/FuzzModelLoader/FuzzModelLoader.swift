import LSTMKit

/// libFuzzer entry (built only with LSTMD_FUZZ=1, see Tests/Fuzz/run.sh): the model loader
/// (safetensors header, tensors, metadata, architecture checks) against arbitrary bytes. It must
/// refuse or load, never crash; a model it loads must run one step.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelLoader(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? SafeTensors(bytes: bytes)
    guard let file = try? ModelFile(bytes: bytes), let model = try? LSTMModel(file) else { return 0 }
    let timesteps = max(1, min(file.window, 8))
    let input = [Float](repeating: 0.5, count: model.channels * timesteps)
    _ = try? model.forward(input, batchSize: 1, timesteps: timesteps, threads: 1)
    return 0
}
