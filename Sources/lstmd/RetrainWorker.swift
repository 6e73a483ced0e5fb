import Foundation
import Retraining

/// `lstmd retrain-worker DIR`: the retraining job's process. The daemon starts it (re-executing
/// its own binary) for each job with `DIR/spec.json`; it lowers its own CPU priority (SCHED_IDLE,
/// nice 19), trains, and writes `DIR/candidate.safetensors` and `DIR/result.json`. Exit status 0
/// with a result, 1 with `DIR/error.txt` saying why. Not meant to be run by hand.
enum RetrainWorker {
    static func run(directory: String) -> Int32 {
        // Only ever lowers the priority, which needs no privilege (the unit allows the calls).
        var parameters = sched_param()
        let idle = sched_setscheduler(0, 5 /* SCHED_IDLE */, &parameters) == 0
        let nice = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19) == 0
        print("retrain-worker: priority \(idle ? "SCHED_IDLE" : "normal (SCHED_IDLE refused: errno \(errno))"), \(nice ? "nice 19" : "nice unchanged")")
        // Under the unit's MemoryMax= the kernel's OOM killer must pick the job, not the daemon
        // (raising one's own score needs no privilege).
        let oom = (try? "1000".write(toFile: "/proc/self/oom_score_adj", atomically: false, encoding: .utf8)) != nil
        print("retrain-worker: oom_score_adj \(oom ? "1000" : "unchanged")")
        let url = URL(fileURLWithPath: directory)
        do {
            let spec = try JSONDecoder().decode(RetrainJobSpec.self, from: Data(contentsOf: url.appendingPathComponent("spec.json")))
            // A daemon killed with SIGKILL cannot kill its job: the job notices it was orphaned.
            // The daemon names itself: one killed before this line ran would otherwise leave
            // init (or a subreaper) as the parent this check compares with, forever.
            let daemon = ProcessInfo.processInfo.environment["LSTMD_DAEMON_PID"].flatMap { pid_t($0) } ?? getppid()
            let orphaned = {
                if getppid() != daemon {
                    print("retrain-worker: the daemon is gone; stopping")
                    Glibc.exit(3)
                }
            }
            orphaned()
            let result = try RetrainJob.run(spec, directory: url, progress: { print("retrain-worker: \($0)") }, heartbeat: orphaned)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let temporary = url.appendingPathComponent("result.json.tmp")
            try encoder.encode(result).write(to: temporary)
            _ = rename(temporary.path, url.appendingPathComponent("result.json").path)
            print("retrain-worker: done in \(String(format: "%.1f", result.durationS)) s, \(result.promoted ? "promote" : "reject"): \(result.reason)")
            return 0
        } catch {
            try? Data("\(error)\n".utf8).write(to: url.appendingPathComponent("error.txt"))
            print("retrain-worker: failed: \(error)")
            return 1
        }
    }
}
