import Foundation
import Synchronization

/// A `TaskExecutor` on one thread of ours: the daemon's `ServiceGroup` and its services run their
/// async code here (`Task(executorPreference:)`), never on Swift's global executor.
///
/// Why: on Linux the global executor is libdispatch's, whose manager thread asks for a
/// user-interactive nice value (-4) and, without CAP_SYS_NICE (any systemd service with
/// `DynamicUser=`), logs "Failed to set thread priority for worker thread … errno=13" to syslog.
/// Blocking work (ZeroMQ, the serving loop, sleeps) never runs here either: each service bridges
/// to a thread of its own.
///
/// Not every job can be kept here: an unstructured `Task {}` started outside a task (as
/// swift-service-lifecycle's `gracefulShutdown()` and `cancelWhenGracefulShutdown` do) goes to
/// the global executor. The services use `withGracefulShutdownHandler` only.
final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: `jobs` is guarded by `condition`; the thread is set once in init.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    /// Starts the thread.
    /// - Parameter name: the thread's name (`ps -L`, gdb).
    init(name: String) {
        let thread = Thread { [unowned self] in self.serve() }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func serve() {
        var batch: [UnownedJob] = []
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            swap(&batch, &jobs)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
            batch.removeAll(keepingCapacity: true)
        }
    }
}

/// A one-shot latch that an async service waits on and any thread opens.
final class Latch: Sendable {
    private let state = Mutex<(open: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    /// Opens the latch: the waiter (now or later) resumes.
    func open() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.open = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    var isOpen: Bool { state.withLock { $0.open } }

    /// Returns once the latch is open (at once if it already is). One waiter at a time.
    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if state.open { return true }
                state.waiter = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }
}

/// Runs `body` on a new thread of ours and returns when it has returned.
func runOnThread(named name: String, stackSize: Int = 1 << 20, _ body: @escaping @Sendable () -> Void) async {
    let done = Latch()
    let thread = Thread {
        body()
        done.open()
    }
    thread.name = name
    thread.stackSize = stackSize
    thread.start()
    await done.wait()
}
