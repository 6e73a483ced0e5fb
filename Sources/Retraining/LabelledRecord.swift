/// One labelled example in the buffer: `T` timesteps of `C` channels with the name of its class.
///
/// The class is stored by **name**, never by the wire's class index: an index means nothing once
/// the model (and perhaps its class order) changes.
public struct LabelledRecord: Sendable, Equatable {
    /// Where a record came from. The source also fixes the record's unit for the validation split
    /// (see `ValidationSplit`).
    public enum Source: Sendable, Equatable, Hashable {
        /// A window cut from a labelled stream. Windows cut from the same stretch of a stream
        /// overlap, so they share one split unit: (stream id, time block).
        case window
        /// A complete training sample sent as one frame (wire flag bit 1). `id` is unique per
        /// sample and is its split unit.
        case sample(id: UInt64)
        /// An operator's correction of a stream's last window. `id` is unique per correction and
        /// is its split unit.
        case correction(id: UInt64)

        /// The stable on-disk code: 0 window, 1 sample, 2 correction.
        var code: UInt8 {
            switch self {
            case .window: 0
            case .sample: 1
            case .correction: 2
            }
        }

        /// The unit id of a sample or correction; 0 for a window.
        var unitID: UInt64 {
            switch self {
            case .window: 0
            case .sample(let id), .correction(let id): id
            }
        }

        /// The source for an on-disk code and unit id, or nil for an unknown code.
        init?(code: UInt8, unitID: UInt64) {
            switch code {
            case 0: self = .window
            case 1: self = .sample(id: unitID)
            case 2: self = .correction(id: unitID)
            default: return nil
            }
        }

        /// A short name for logs and status: `window`, `sample` or `correction`.
        public var name: String {
            switch self {
            case .window: "window"
            case .sample: "sample"
            case .correction: "correction"
            }
        }
    }

    /// The identity that decides a record's side of the validation split.
    public enum Identity: Sendable, Equatable, Hashable {
        /// A window: its stream and the timestamp of its first timestep (ns).
        case window(streamID: String, timestamp: Int64)
        /// A sample or a correction: its unique id.
        case unit(UInt64)
    }

    /// The stream the record came from; for a training sample, the sender's name for it (may be
    /// empty).
    public var streamID: String
    /// Nanoseconds (the sender's clock): for a window, the timestamp of the frame holding its
    /// first timestep; for a sample or correction, when it was received or sent.
    public var timestamp: Int64
    /// The name of the record's class, as in the model's `classes`.
    public var className: String
    /// Where the record came from.
    public var source: Source
    /// The number of timesteps `T` (≥ 1).
    public var timesteps: Int
    /// The number of channels `C` (≥ 1).
    public var channels: Int
    /// `T × C` values, timestep-major: `values[t * C + c]`.
    public var values: [Float]

    /// Creates a record.
    ///
    /// - Parameters:
    ///   - streamID: The stream (or sender) name.
    ///   - timestamp: Nanoseconds; see `timestamp`.
    ///   - className: The class name.
    ///   - source: Where the record came from.
    ///   - timesteps: `T`.
    ///   - channels: `C`.
    ///   - values: `T × C` values, timestep-major.
    /// - Precondition: `timesteps ≥ 1`, `channels ≥ 1` and `values.count == timesteps × channels`.
    public init(
        streamID: String, timestamp: Int64, className: String, source: Source,
        timesteps: Int, channels: Int, values: [Float]
    ) {
        precondition(timesteps >= 1 && channels >= 1, "LabelledRecord: shape \(timesteps)×\(channels) is empty")
        precondition(
            values.count == timesteps * channels,
            "LabelledRecord: \(values.count) values for shape \(timesteps)×\(channels)")
        self.streamID = streamID
        self.timestamp = timestamp
        self.className = className
        self.source = source
        self.timesteps = timesteps
        self.channels = channels
        self.values = values
    }

    /// The identity that decides the record's side of the validation split: stream id and
    /// timestamp for a window, the unique id for a sample or correction.
    public var identity: Identity {
        switch source {
        case .window: .window(streamID: streamID, timestamp: timestamp)
        case .sample(let id), .correction(let id): .unit(id)
        }
    }

    /// A fresh random id for a sample or correction (64 random bits from the system generator).
    public static func newUnitID() -> UInt64 {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }
}
