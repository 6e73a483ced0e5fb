import Foundation
import Synchronization

/// Work the serving loop hands to a thread of its own — a model load (read, parse, verify,
/// validate, build), or the replay of every stream's history into a new model — so it keeps
/// classifying frames meanwhile. When the work is done its outcome is kept for `take()` and the
/// loop is woken through its wake pipe with `command`, the way promoted models arrive.
///
/// A plain `Thread` per task, not a libdispatch queue: see `ThreadExecutor` for why lstmd keeps
/// off libdispatch's threads.
final class LoopTask<Outcome: Sendable>: Sendable {
    private let waker: Waker
    private let command: Waker.Command
    private let name: String
    private let outcome = Mutex<Outcome?>(nil)

    init(waker: Waker, command: Waker.Command, name: String) {
        self.waker = waker
        self.command = command
        self.name = name
    }

    /// Runs `work` on a new thread; its outcome is kept for `take()` and the loop is woken.
    /// The caller starts one task at a time.
    func start(_ work: @escaping @Sendable () -> Outcome) {
        let thread = Thread { [self] in
            let result = work()
            outcome.withLock { $0 = result }
            waker.send(command)
        }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// The finished task's outcome, once (nil while it runs).
    func take() -> Outcome? {
        outcome.withLock { outcome in
            defer { outcome = nil }
            return outcome
        }
    }
}
