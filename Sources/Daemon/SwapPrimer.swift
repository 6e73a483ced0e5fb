import Foundation
import Synchronization

/// Rebuilds every stream's state in a new model before it is swapped in
/// (`swap_continuity = replay`), on a thread of its own, while the old model keeps serving.
///
/// Replaying a stream's last `W` timesteps costs ⌈W/hop⌉·W/2 steps in window mode (about 1 ms
/// per stream at H=64, L=2, W=100, hop=10); done at each stream's next frame right after the
/// swap, 100 streams made a ~100 ms burst of late labels. Here the serving thread snapshots each
/// stream's history (`Snapshot`), this thread replays the snapshots into the new classifier, and
/// the swap then only catches each stream up on the few timesteps that arrived meanwhile (at its
/// next frame, `ServingLoop.Replay.catchUp`).
final class SwapPrimer: Sendable {
    /// One stream's history at the snapshot: its last `count` raw timesteps (`[count, C]`, oldest
    /// first) and its timesteps since reset under the old model (`total`).
    struct Snapshot: Sendable {
        var slot: Int
        var values: [Float]
        var count: Int
        var total: Int
    }

    /// The classifier crossing threads: the serving thread hands it over in `start` and does not
    /// touch it until `take()` returns it, so exactly one thread uses it at any time.
    private struct Handoff: @unchecked Sendable {
        let classifier: StreamClassifier
        var primed: Set<Int>
    }

    private let task: LoopTask<Handoff>
    private let gate: (@Sendable () -> Void)?

    /// - Parameter gate: called on the priming thread before it starts (a test seam: holding it
    ///   lets frames arrive in the middle of a swap).
    init(waker: Waker, gate: (@Sendable () -> Void)?) {
        task = LoopTask(waker: waker, command: .primed, name: "lstmd-swap-prime")
        self.gate = gate
    }

    /// Replays `snapshots` into `classifier` in their order on a new thread, for at most
    /// `budget` seconds (the swap, and a `reload`'s reply, wait for it; streams left over are
    /// replayed at their next frame), then wakes the loop (`Waker.Command.primed`). One priming
    /// runs at a time.
    func start(_ classifier: StreamClassifier, snapshots: [Snapshot], budget: Duration) {
        let handoff = Handoff(classifier: classifier, primed: [])
        let gate = self.gate
        task.start {
            gate?()
            let clock = ContinuousClock()
            let deadline = clock.now + budget
            var primed = Set<Int>()
            for snapshot in snapshots {
                if clock.now > deadline { break }
                handoff.classifier.prime(slot: snapshot.slot, values: snapshot.values, count: snapshot.count, total: snapshot.total)
                primed.insert(snapshot.slot)
            }
            return Handoff(classifier: handoff.classifier, primed: primed)
        }
    }

    /// The primed classifier and the slots it primed, once (nil while priming runs).
    func take() -> (classifier: StreamClassifier, primed: Set<Int>)? {
        task.take().map { ($0.classifier, $0.primed) }
    }
}
