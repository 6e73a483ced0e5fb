import Wire

/// libFuzzer entry (built only with LSTMD_FUZZ=1, see Tests/Fuzz/run.sh): the frame decoder
/// against arbitrary messages. The input is split into a part count and three parts by its first
/// three bytes; the decoder must return a header or a rejection, never crash, and a header it
/// accepts must describe exactly the payload it was given.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrameDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 3 else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let parts = Int(bytes[0] % 5)
    let idLength = Int(bytes[1])
    let headerLength = Int(bytes[2] % 40)
    var rest = Array(bytes[3...])
    let id = Array(rest.prefix(idLength))
    rest.removeFirst(min(idLength, rest.count))
    let header = Array(rest.prefix(headerLength))
    rest.removeFirst(min(headerLength, rest.count))
    let limits = FrameLimits(channels: 3, classCount: 4, maxTimesteps: 64, maxPayloadBytes: 4096)
    var values: [Float] = []
    let result = id.withUnsafeBytes { id in
        header.withUnsafeBytes { header in
            rest.withUnsafeBytes { payload in
                FrameDecoder.decode(parts: parts, id: id, header: header, payload: payload, limits: limits, into: &values)
            }
        }
    }
    switch result {
    case .success(let decoded):
        precondition(parts == 3 && decoded.channels == 3 && decoded.timesteps * 3 * 4 == rest.count, "accepted a frame that does not add up")
        precondition(values.prefix(decoded.timesteps * 3).allSatisfy(\.isFinite), "accepted a non-finite value")
    case .failure(let rejection):
        _ = "\(rejection.reason.rawValue) \(rejection.detail)"
    }
    return 0
}
