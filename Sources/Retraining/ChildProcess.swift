import Foundation

/// A child process started with `posix_spawn` and reaped with `waitpid` on the caller's thread.
///
/// Not Foundation's `Process`: on Linux it watches children through libdispatch, whose manager
/// thread logs "Failed to set thread priority" under `DynamicUser=` (see the daemon's
/// `ThreadExecutor`).
public struct ChildProcess: Sendable {
    /// How a child ended.
    public enum Exit: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)
        /// Killed by us at the deadline.
        case timedOut

        public var description: String {
            switch self {
            case .exited(let code): "exited with status \(code)"
            case .signalled(let signal): "killed by signal \(signal)\(signal == SIGKILL ? " (SIGKILL: out of memory, or killed)" : "")"
            case .timedOut: "timed out and was killed"
            }
        }
    }

    public let pid: pid_t

    /// Starts `executable` with `arguments` (without argv[0]), the current environment plus
    /// `environment`, stdout and stderr going to `outputPath` (appended).
    /// - Throws: `RetrainingError(.io)` when the process cannot be started.
    public static func spawn(
        executable: String, arguments: [String], environment: [String: String] = [:], outputPath: String
    ) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o640)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child starts with default signal handling and nothing blocked (we may block some).
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard status == 0 else {
            throw RetrainingError(.io, "cannot start \(executable): \(String(cString: strerror(status)))")
        }
        return ChildProcess(pid: pid)
    }

    /// Waits until the child ends, killing it (SIGKILL) once `deadline` (CLOCK_MONOTONIC ns)
    /// passes, or at once when `cancelled()` turns true. Polls every 50 ms.
    public func wait(deadline: UInt64, cancelled: () -> Bool = { false }) -> Exit {
        var killedAtDeadline = false
        while true {
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                if killedAtDeadline { return .timedOut }
                // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import (macros).
                if status & 0x7f == 0 { return .exited((status >> 8) & 0xff) }
                return .signalled(status & 0x7f)
            }
            if result < 0, errno != EINTR { return .exited(-1) }
            if !killedAtDeadline, Self.monotonicNanoseconds() > deadline || cancelled() {
                kill(pid, SIGKILL)
                killedAtDeadline = true
            }
            usleep(50_000)
        }
    }

    static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
