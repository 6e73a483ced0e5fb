import Foundation
import Synchronization

/// Runs model loads (read, parse, verify, validate, build) on a thread of its own, one at a
/// time, so the serving loop keeps classifying frames meanwhile; the outcome is handed back
/// through the loop's wake pipe (`Waker.Command.loaded`), the way promoted models arrive.
///
/// A plain `Thread` per load, not a libdispatch queue: see `ThreadExecutor` for why lstmd keeps
/// off libdispatch's threads.
final class ModelLoader: Sendable {
    private let waker: Waker
    private let outcome = Mutex<Result<PreparedReload, any Error>?>(nil)

    init(waker: Waker) {
        self.waker = waker
    }

    /// Runs `work` on a new thread; its outcome is kept for `take()` and the loop is woken.
    /// The caller starts one load at a time.
    func start(_ work: @escaping @Sendable () throws -> PreparedReload) {
        let thread = Thread { [self] in
            let result = Result { try work() }
            outcome.withLock { $0 = result }
            waker.send(.loaded)
        }
        thread.name = "lstmd-model-load"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// The finished load's outcome, once (nil while it runs).
    func take() -> Result<PreparedReload, any Error>? {
        outcome.withLock { outcome in
            defer { outcome = nil }
            return outcome
        }
    }
}
