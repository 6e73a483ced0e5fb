import Foundation
import LSTMKit
import Retraining
import Synchronization

/// The stage between the stream table and the retraining buffer: keeps each stream's last `W`
/// timesteps (`WindowCutter`, by table slot), cuts labelled frames into labelled windows every
/// `label_stride` timesteps, turns training-sample frames and operator corrections into records,
/// and appends them to the buffer without waiting for the disk. The same history is what a new
/// model replays after a swap (`history(slot:)`).
///
/// Owned by the serving thread; its counters are read by others through `counters`.
final class LabelTap {
    /// What the tap did, for `status` and the retraining scheduler (read from any thread).
    final class Counters: Sendable {
        let windows = Atomic<Int>(0)
        let trainingSamples = Atomic<Int>(0)
        let corrections = Atomic<Int>(0)
        /// Records the buffer refused (queue full, too large) or that had no buffer.
        let refused = Atomic<Int>(0)
        /// Labelled windows and samples stored since the last retraining job started.
        let sinceLastJob = Atomic<Int>(0)
    }

    let buffer: LabelledBuffer?
    let counters = Counters()
    private(set) var classes: [String]
    private(set) var window: Int
    private(set) var channels: Int
    private(set) var stride: Int
    private var cutters: [WindowCutter?] = []

    init(buffer: LabelledBuffer?, model: LSTMModel, stride: Int?) {
        self.buffer = buffer
        classes = model.classes
        window = model.file.window
        channels = model.channels
        self.stride = stride ?? model.file.hop
    }

    /// A new model serves: class names follow it; a new window or channel count starts every
    /// stream's history afresh.
    func modelChanged(_ model: LSTMModel, stride: Int?) {
        classes = model.classes
        self.stride = stride ?? model.file.hop
        if model.file.window != window || model.channels != channels {
            window = model.file.window
            channels = model.channels
            cutters.removeAll()
        }
    }

    /// Makes the stream's cutter if it has none yet.
    private func ensureCutter(slot: Int, id: String) {
        if slot >= cutters.count { cutters.append(contentsOf: repeatElement(nil, count: slot + 1 - cutters.count)) }
        if cutters[slot] == nil { cutters[slot] = WindowCutter(streamID: id, window: window, stride: stride, channels: channels) }
    }

    /// A frame of the stream in `slot` (values `[T, C]`), labelled with class index `label` or not.
    func feed(slot: Int, id: String, values: ArraySlice<Float>, timestamp: Int64, label: Int?) {
        ensureCutter(slot: slot, id: id)
        let className = label.flatMap { $0 < classes.count ? classes[$0] : nil }
        // In place: a copy of the cutter would copy its ring (copy-on-write) at every frame.
        let windows = cutters[slot]!.feed(values, timestamp: timestamp, className: className)
        guard buffer != nil, !windows.isEmpty else { return }
        for record in windows where store(record) { counters.windows.add(1, ordering: .relaxed) }
    }

    /// Memory held by the streams' histories, bytes (values, timestamps, record).
    var byteCount: Int {
        cutters.reduce(0) { $0 + ($1 == nil ? 8 : 8 + 96 + window * (channels * 4 + 8)) }
    }

    /// A sequence gap in the stream in `slot`: no window spans it.
    func gap(slot: Int) {
        if slot < cutters.count { cutters[slot]?.gap() }
    }

    /// The stream was reset (control) or its state starts over.
    func reset(slot: Int) {
        if slot < cutters.count { cutters[slot]?.reset() }
    }

    /// The stream is gone (evicted, closed).
    func remove(slot: Int) {
        if slot < cutters.count { cutters[slot] = nil }
    }

    /// The stream's timesteps since its last gap or reset (at most `W`), oldest first.
    func history(slot: Int) -> (values: [Float], count: Int) {
        slot < cutters.count ? cutters[slot]?.history ?? ([], 0) : ([], 0)
    }

    /// A training-sample frame (one whole labelled sample, `[T, C]`).
    /// - Returns: nil when stored, else why not.
    func sample(streamID: String, values: ArraySlice<Float>, timesteps: Int, timestamp: Int64, label: Int) -> String? {
        guard buffer != nil else {
            counters.refused.add(1, ordering: .relaxed)
            return "retraining is off (no state_directory)"
        }
        let record = LabelledRecord(
            streamID: streamID, timestamp: timestamp, className: classes[label], source: .sample(id: LabelledRecord.newUnitID()),
            timesteps: timesteps, channels: channels, values: Array(values))
        guard store(record) else { return "the buffer refused it (its queue is full)" }
        counters.trainingSamples.add(1, ordering: .relaxed)
        return nil
    }

    /// An operator's correction: the stream's last `W` timesteps are of class `className`.
    /// - Returns: the buffer's sequence number of the stored record.
    /// - Throws: `DaemonError` saying why nothing was stored.
    func correct(slot: Int, className: String) throws -> UInt64 {
        guard let buffer else { throw DaemonError("retraining is off: set state_directory") }
        guard classes.contains(className) else {
            counters.refused.add(1, ordering: .relaxed)
            throw DaemonError("unknown class '\(className)' (the model's classes: \(classes.joined(separator: ", ")))")
        }
        guard slot < cutters.count, let record = cutters[slot]?.latestWindow(className: className) else {
            counters.refused.add(1, ordering: .relaxed)
            throw DaemonError("the stream has fewer than \(window) timesteps since its last gap or reset")
        }
        switch buffer.append(record) {
        case .accepted(let sequence):
            counters.corrections.add(1, ordering: .relaxed)
            counters.sinceLastJob.add(1, ordering: .relaxed)
            return sequence
        case .refused(let reason):
            counters.refused.add(1, ordering: .relaxed)
            throw DaemonError("the buffer refused the window: \(reason)")
        }
    }

    private func store(_ record: LabelledRecord) -> Bool {
        guard let buffer, buffer.append(record).isAccepted else {
            counters.refused.add(1, ordering: .relaxed)
            return false
        }
        counters.sinceLastJob.add(1, ordering: .relaxed)
        return true
    }
}
