import Foundation
import Testing

/// `lstmctl bench` as an operator runs it: `bench e2e` interrupted (Ctrl-C, `timeout`) must not
/// leave the daemon it started running and holding its ports; `bench train --front-end` trains
/// the front end it names and rejects one it cannot parse.
@Suite struct BenchToolTests {
    /// The parent process id and state letter of `pid` (`/proc/<pid>/stat`), nil once it is gone.
    static func status(_ pid: Int32) -> (parent: Int32, state: Character)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm) ": state, then the parent's id.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let state = fields[0].first, let parent = Int32(fields[1]) else { return nil }
        return (parent, state)
    }

    /// The ids of `parent`'s children whose command is `name`.
    static func children(of parent: Int32, named name: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard status(pid)?.parent == parent,
                let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)
            else { return false }
            return comm.trimmingCharacters(in: .whitespacesAndNewlines) == name
        }
    }

    @Test func anInterruptedBenchStopsItsDaemon() throws {
        let lstmctl = try LSTMDBinary.url().deletingLastPathComponent().appendingPathComponent("lstmctl")
        let bench = Process()
        bench.executableURL = lstmctl
        // One case that would run for about a minute (phases of 20 s); the daemon binds 127.0.0.1 only.
        bench.arguments = ["bench", "e2e", "--modes", "continuous", "--streams", "1", "--frame", "1", "--seconds", "20"]
        bench.standardOutput = FileHandle.nullDevice
        bench.standardError = FileHandle.nullDevice
        try bench.run()
        defer { if bench.isRunning { bench.interrupt() } }
        // The engine ceiling comes first (a few seconds), then the daemon starts.
        let started = Date()
        var daemon: Int32?
        while daemon == nil && bench.isRunning && Date().timeIntervalSince(started) < 90 {
            daemon = Self.children(of: bench.processIdentifier, named: "lstmd").first
            if daemon == nil { usleep(50_000) }
        }
        let pid = try #require(daemon, "the bench started no daemon within 90 s")
        bench.terminate()  // SIGTERM, as `timeout` sends
        bench.waitUntilExit()
        #expect(bench.terminationReason == .uncaughtSignal && bench.terminationStatus == SIGTERM)
        // The daemon ends too: gone, or a zombie nobody reaps (no init in a container).
        let stopping = Date()
        func running() -> Bool { Self.status(pid).map { $0.state != "Z" } ?? false }
        while running() && Date().timeIntervalSince(stopping) < 20 { usleep(50_000) }
        let left = running()
        if left { kill(pid, SIGKILL) }
        #expect(!left, "the daemon \(pid) outlived the interrupted bench")
    }

    @Test func benchTrainRunsTheFrontEndItNames() throws {
        let lstmctl = try LSTMDBinary.url().deletingLastPathComponent().appendingPathComponent("lstmctl")
        let small = ["bench", "train", "--samples", "32", "--timesteps", "12", "--hidden", "8", "--layers", "1", "--epochs", "1", "--threads", "1"]
        let run = try runTool(lstmctl, small + ["--front-end", "16x3,8x2"])
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out.contains("Conv1d(16, k3) → Conv1d(8, k2) (+ batch norm + ReLU) → 1×LSTM(8)"), "\(run.out)")
        #expect(run.out.contains("lstmd:   median"), "\(run.out)")

        let bad = try runTool(lstmctl, small + ["--front-end", "16x"])
        #expect(bad.status != 0)
        #expect(bad.err.contains("--front-end"), "\(bad.err)")
        #expect(!bad.out.contains("lstmd:   median"))
    }
}
