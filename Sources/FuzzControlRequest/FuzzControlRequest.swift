import LSTMKit

/// libFuzzer entry (built only with LSTMD_FUZZ=1, see Tests/Fuzz/run.sh): the control-request
/// parser (`JSONValue.parse` with the control handler's depth limit) against arbitrary text.
/// It must refuse or parse, never crash; what it parses must survive a round trip through the
/// JSON it renders.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzControlRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let value = try? JSONValue.parse(text, maxDepth: 32) else { return 0 }
    let rendered = value.jsonText
    guard let again = try? JSONValue.parse(rendered, maxDepth: 33) else {
        preconditionFailure("rendered JSON does not parse: \(rendered.prefix(200))")
    }
    precondition(again == value, "round trip changed the value: \(rendered.prefix(200))")
    return 0
}
