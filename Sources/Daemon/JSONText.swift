import LSTMKit

/// Small helpers to write JSON by hand on hot paths (label messages).
enum JSONText {
    /// `text` as a quoted JSON string.
    static func quoted(_ text: String) -> String { JSONValue.quote(text) }

    /// A finite float as JSON (shortest representation that round-trips).
    static func number(_ value: Float) -> String {
        value.isFinite ? "\(value)" : "null"
    }
}
