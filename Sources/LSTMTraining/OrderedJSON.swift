import LSTMKit

/// JSON whose objects keep their members in the order given, for output where order carries
/// meaning (class → probability in the model's class order). `JSONValue.jsonText` sorts keys.
public indirect enum OrderedJSON: Sendable {
    /// Any value, rendered by `JSONValue.jsonText` (its objects with sorted keys).
    case value(JSONValue)
    /// An object whose members render in this order.
    case object([(key: String, value: OrderedJSON)])

    /// Compact JSON text: members in the given order, values as `JSONValue.jsonText` renders them.
    public var jsonText: String {
        switch self {
        case .value(let value):
            return value.jsonText
        case .object(let members):
            return "{" + members.map { JSONValue.quote($0.key) + ":" + $0.value.jsonText }.joined(separator: ",") + "}"
        }
    }
}
