/// What was wrong with a dropped frame, beyond its `DropReason`: plain values, so the serving
/// loop builds one without allocating; text is made only when the drop is logged.
public enum DropDetail: Sendable, Equatable {
    case none
    /// The message had this many parts (a frame has 3).
    case parts(Int)
    /// The stream id had this many bytes (1...255 allowed).
    case idLength(Int)
    /// The stream id is not UTF-8.
    case notUTF8
    /// The header part had this many bytes.
    case headerBytes(Int)
    case channels(got: Int, model: Int)
    case timesteps(got: Int, maximum: Int)
    case payload(got: Int, expected: Int)
    case oversize(got: Int, maximum: Int)
    case label(got: Int, classes: Int)
    case sequence(got: UInt64, last: UInt64)
    /// The stream table holds this many streams (`max_streams`).
    case streams(Int)
    /// The sender's CURVE key holds this many streams (`max_streams_per_key`).
    case keyStreams(Int)
    /// The stream was made by another CURVE key.
    case otherOwner

    /// A sentence for the log, e.g. `got 3 channels, model has 6`; nil for `.none`.
    public var text: String? {
        switch self {
        case .none: nil
        case .parts(let count): "got \(count) message part\(count == 1 ? "" : "s")\(count >= 4 ? " or more" : ""), a frame has 3 (id, header, payload)"
        case .idLength(let count): "stream id of \(count) bytes, allowed 1...255"
        case .notUTF8: "stream id is not UTF-8"
        case .headerBytes(let count): "header of \(count) bytes (32 expected) with unknown flags, reserved bits or version"
        case .channels(let got, let model): "got \(got) channels, model has \(model)"
        case .timesteps(let got, let maximum): "got \(got) timesteps, allowed 1...\(maximum) (max_timesteps_per_frame)"
        case .payload(let got, let expected): "payload of \(got) bytes, expected \(expected) (timesteps × channels × 4)"
        case .oversize(let got, let maximum): "payload of \(got) bytes, allowed \(maximum) (max_message_bytes)"
        case .label(let got, let classes): "class index \(got), the model has \(classes) classes (0...\(classes - 1))"
        case .sequence(let got, let last): "sequence \(got) after \(last)"
        case .streams(let count): "the stream table is full (\(count) streams, max_streams)"
        case .keyStreams(let count): "the sender's key holds \(count) streams (max_streams_per_key)"
        case .otherOwner: "the stream belongs to another key"
        }
    }

    /// The stream id for a log line: UTF-8 as is, other bytes as `\xNN`, cut at 64 bytes.
    public static func printableStreamID(_ bytes: UnsafeRawBufferPointer) -> String {
        let prefix = UnsafeRawBufferPointer(rebasing: bytes.prefix(64))
        var text: String
        if let valid = String(validating: prefix, as: UTF8.self) {
            text = valid
        } else {
            text = prefix.map { $0 >= 0x20 && $0 < 0x7f ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16).leftPadded(to: 2) }
                .joined()
        }
        if bytes.count > 64 { text += "…" }
        return text
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
