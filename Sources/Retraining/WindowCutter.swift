/// Cuts one stream's labelled timesteps into labelled windows: a pure state machine, one per
/// stream, fed frames and gap/reset events in stream order.
///
/// A window is `W` consecutive timesteps of **one** class, with no gap and no reset inside: a
/// labelled run starts at the first timestep of a class after a different class, an unlabelled
/// timestep, a gap or a reset, and its windows end at run positions `W, W + stride, W + 2·stride,
/// …`. So no window crosses a class change, a gap or a reset, and a run shorter than `W` gives
/// none. The cutter keeps the last `W` timesteps (`W × C` floats and `W` timestamps) whatever their
/// labels, so an operator's correction can label the stream's latest window (`latestWindow`).
///
/// Timestamps: a frame's timestamp applies to each of its timesteps; a window's timestamp is that
/// of the frame holding its first timestep.
public struct WindowCutter: Sendable {
    /// The stream the windows are cut from.
    public let streamID: String
    /// `W`, timesteps per window (≥ 1).
    public let window: Int
    /// Timesteps between the ends of consecutive windows of a run (≥ 1).
    public let stride: Int
    /// `C`, channels per timestep (≥ 1).
    public let channels: Int

    /// The last `W` timesteps, a ring: timestep slot `s` holds `ring[s·C ..< (s+1)·C]`.
    private var ring: [Float]
    private var timestamps: [Int64]
    /// The slot the next timestep goes to.
    private var head = 0
    /// Timesteps since the last gap or reset (saturating at `W`).
    private var contiguous = 0
    /// The class of the current labelled run, nil when there is none.
    private var runClass: String?
    /// Timesteps in the current labelled run.
    private var runLength = 0

    /// Creates a cutter for one stream.
    ///
    /// - Parameters:
    ///   - streamID: The stream's id, copied into every window.
    ///   - window: `W`, the model's window.
    ///   - stride: Timesteps between windows (the daemon's `label_stride`, default the model's hop).
    ///   - channels: `C`.
    /// - Precondition: `window`, `stride` and `channels` are ≥ 1.
    public init(streamID: String, window: Int, stride: Int, channels: Int) {
        precondition(window >= 1 && stride >= 1 && channels >= 1,
                     "WindowCutter: window \(window), stride \(stride), channels \(channels) must be ≥ 1")
        self.streamID = streamID
        self.window = window
        self.stride = stride
        self.channels = channels
        ring = [Float](repeating: 0, count: window * channels)
        timestamps = [Int64](repeating: 0, count: window)
    }

    /// The class and length of the current labelled run, or nil.
    public var run: (className: String, length: Int)? {
        runClass.map { ($0, runLength) }
    }

    /// Feeds one frame: `T = values.count / C` timesteps, all with `className` (nil when the frame
    /// is unlabelled).
    ///
    /// - Parameters:
    ///   - values: `T × C` values, timestep-major.
    ///   - timestamp: The frame's timestamp, ns.
    ///   - className: The frame's class, or nil.
    /// - Returns: The windows completed by this frame, oldest first (source `.window`).
    /// - Precondition: `values.count` is a multiple of `C`.
    public mutating func feed(_ values: ArraySlice<Float>, timestamp: Int64, className: String?) -> [LabelledRecord] {
        precondition(values.count % channels == 0, "WindowCutter: \(values.count) values for \(channels) channels")
        var windows: [LabelledRecord] = []
        var offset = values.startIndex
        while offset < values.endIndex {
            let slot = head * channels
            for channel in 0..<channels { ring[slot + channel] = values[offset + channel] }
            timestamps[head] = timestamp
            head = head + 1 == window ? 0 : head + 1
            contiguous = min(contiguous + 1, window)
            offset += channels

            if let className {
                if className == runClass {
                    runLength += 1
                } else {
                    runClass = className
                    runLength = 1
                }
                if runLength >= window, (runLength - window) % stride == 0 {
                    windows.append(cut(className: className, source: .window))
                }
            } else {
                endRun()
            }
        }
        return windows
    }

    /// Feeds one frame; see `feed(_:timestamp:className:)`.
    public mutating func feed(_ values: [Float], timestamp: Int64, className: String?) -> [LabelledRecord] {
        feed(values[...], timestamp: timestamp, className: className)
    }

    /// A sequence gap (frames were lost): the next window starts after it.
    public mutating func gap() {
        endRun()
        contiguous = 0
    }

    /// A stream reset (the sender restarted): the next window starts after it.
    public mutating func reset() {
        gap()
        head = 0
    }

    /// The last `W` timesteps as a record of `className`, for an operator's correction; nil when
    /// fewer than `W` timesteps arrived since the last gap or reset.
    ///
    /// - Parameters:
    ///   - className: The class the operator says the window holds.
    ///   - source: The record's source; default a correction with a fresh id.
    public func latestWindow(
        className: String, source: LabelledRecord.Source = .correction(id: LabelledRecord.newUnitID())
    ) -> LabelledRecord? {
        contiguous >= window ? cut(className: className, source: source) : nil
    }

    /// The timesteps since the last gap or reset, at most `W`, oldest first (`count × C`
    /// values): what a new model replays to take over the stream where the old one was.
    public var history: (values: [Float], count: Int) {
        let count = contiguous
        guard count > 0 else { return ([], 0) }
        let split = head * channels
        var all = [Float]()
        all.reserveCapacity(window * channels)
        all += ring[split...]
        all += ring[..<split]
        return (Array(all.suffix(count * channels)), count)
    }

    private mutating func endRun() {
        runClass = nil
        runLength = 0
    }

    /// The last `W` timesteps, oldest first, as a record.
    private func cut(className: String, source: LabelledRecord.Source) -> LabelledRecord {
        let split = head * channels
        var values = [Float]()
        values.reserveCapacity(window * channels)
        values += ring[split...]
        values += ring[..<split]
        return LabelledRecord(
            streamID: streamID, timestamp: timestamps[head], className: className, source: source,
            timesteps: window, channels: channels, values: values)
    }
}
