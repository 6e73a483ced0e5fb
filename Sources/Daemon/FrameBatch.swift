/// Frames accepted but not yet classified: in continuous mode the loop collects one frame per
/// stream and advances all their states together (`StreamClassifier.processBatch`).
struct FrameBatch {
    /// Most frames in one batch.
    static let maximum = 512

    private(set) var slots: [Int] = []
    private(set) var headers: [FrameHeader] = []
    /// Where each frame's values start in `values`.
    private(set) var offsets: [Int] = []
    private(set) var values: [Float] = []
    /// Monotonic ns at which each frame was received.
    private(set) var received: [UInt64] = []
    /// Per stream-table slot, the batch number its frame is waiting in.
    private var waitingIn: [Int] = []
    private var number = 1

    var count: Int { slots.count }
    var isEmpty: Bool { slots.isEmpty }

    /// Whether a frame of the stream in `slot` waits in this batch (a second one must wait for
    /// the first to be classified).
    func contains(slot: Int) -> Bool { slot < waitingIn.count && waitingIn[slot] == number }

    mutating func append(slot: Int, header: FrameHeader, values frame: ArraySlice<Float>, received now: UInt64) {
        if slot >= waitingIn.count { waitingIn.append(contentsOf: repeatElement(0, count: slot + 1 - waitingIn.count)) }
        waitingIn[slot] = number
        slots.append(slot)
        headers.append(header)
        offsets.append(values.count)
        values.append(contentsOf: frame)
        received.append(now)
    }

    /// Empties the batch (keeping its capacity) and starts the next.
    mutating func removeAll() {
        slots.removeAll(keepingCapacity: true)
        headers.removeAll(keepingCapacity: true)
        offsets.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        received.removeAll(keepingCapacity: true)
        number += 1
    }
}
