import Dispatch
import Foundation
import LSTMKit
import Logging
import Retraining
import Synchronization

/// When retraining jobs run: a state machine over the caller's clock (seconds). One job at a
/// time; a trigger while a job runs is coalesced into at most one follow-up.
struct RetrainSchedule {
    /// A job, as the control socket sees it.
    struct Job: Equatable {
        var id: String
        var trigger: String
        var state: State
        enum State: String { case queued, running, done, failed }
    }

    var interval: Double
    var minimumNew: Int
    private(set) var queued: Job?
    private(set) var running: Job?
    private var lastStart: Double
    private var number = 0

    init(interval: Double, minimumNew: Int, now: Double) {
        self.interval = interval
        self.minimumNew = minimumNew
        lastStart = now
    }

    private mutating func makeJob(trigger: String, now: Double) -> Job {
        number += 1
        return Job(id: "\(Int(now))-\(number)", trigger: trigger, state: .queued)
    }

    /// `lstmctl retrain`: the job that will include this trigger (queued or coalesced).
    mutating func request(now: Double) -> Job {
        if let queued { return queued }
        let job = makeJob(trigger: "manual", now: now)
        queued = job
        return job
    }

    /// The job to start now, if any: a queued one, else an interval job when `interval` seconds
    /// passed since the last start and at least `minimumNew` labelled windows arrived since.
    mutating func next(now: Double, newSinceLastJob: Int) -> Job? {
        guard running == nil else { return nil }
        if queued == nil, interval > 0, now - lastStart >= interval, newSinceLastJob >= max(1, minimumNew) {
            queued = makeJob(trigger: "interval", now: now)
        }
        guard var job = queued else { return nil }
        queued = nil
        job.state = .running
        running = job
        lastStart = now
        return job
    }

    /// The running job ended.
    mutating func finished() {
        running = nil
    }
}

/// A model the serving loop is asked to swap in (a promotion), with the event to publish.
struct SwapRequest: Sendable {
    var path: String
    var reason: String
    var job: JSONValue?
}

/// Retraining: the schedule, the jobs (each a child process, `lstmd retrain-worker`), the model
/// store and the hand-off of a promoted model to the serving loop. Shared between the serving
/// thread (control requests, swaps) and the retraining thread (`RetrainService`).
final class Retrainer: Sendable {
    let configuration: Configuration
    let buffer: LabelledBuffer
    let store: ModelStore
    let jobsDirectory: URL
    let workerExecutable: String
    let counters: LabelTap.Counters
    let logger: Logger
    /// Job timing (the interval trigger) follows the daemon's clock, so tests can inject one.
    let clock: any ServingClock
    /// Called between the steps of filing a candidate (`stored`, `promoted`): a test seam for
    /// crashing in the middle of a promotion.
    let promotionHook: (@Sendable (String) -> Void)?
    private let waker: Waker
    private let schedule: Mutex<RetrainSchedule>
    private let results = Mutex<[String: JSONValue]>([:])
    private let swaps = Mutex<[SwapRequest]>([])
    private let served = Mutex<String>("")
    private let totals = Mutex<(runs: Int, promoted: Int, rejected: Int, failed: Int)>((0, 0, 0, 0))
    let wake = DispatchSemaphore(value: 0)
    /// Set at shutdown: the retraining thread returns, killing a running job's process.
    let stopping = Atomic<Bool>(false)

    init(
        configuration: Configuration, buffer: LabelledBuffer, store: ModelStore, jobsDirectory: URL, workerExecutable: String,
        counters: LabelTap.Counters, waker: Waker, logger: Logger, clock: any ServingClock = SystemServingClock(),
        promotionHook: (@Sendable (String) -> Void)? = nil
    ) {
        self.clock = clock
        self.promotionHook = promotionHook
        self.configuration = configuration
        self.buffer = buffer
        self.store = store
        self.jobsDirectory = jobsDirectory
        self.workerExecutable = workerExecutable
        self.counters = counters
        self.waker = waker
        self.logger = logger
        schedule = Mutex(RetrainSchedule(interval: configuration.retrainInterval, minimumNew: configuration.retrainMinNew, now: Double(clock.monotonicNanoseconds()) / 1e9))
    }

    /// The clock's monotonic time in seconds.
    func now() -> Double { Double(clock.monotonicNanoseconds()) / 1e9 }

    /// The serving loop says which file serves now (jobs start from it).
    func serving(_ path: String) { served.withLock { $0 = path } }

    /// Control `retrain`.
    func request() -> RetrainSchedule.Job {
        let job = schedule.withLock { $0.request(now: now()) }
        wake.signal()
        return job
    }

    /// Control `job`: the job's state and, once it ended, its result.
    func describe(job id: String) -> JSONValue? {
        let (queued, running) = schedule.withLock { ($0.queued, $0.running) }
        for job in [queued, running].compactMap({ $0 }) where job.id == id {
            return .object(["ok": .bool(true), "job": .string(id), "state": .string(job.state.rawValue)])
        }
        return results.withLock { $0[id] }
    }

    /// Promotions waiting for the serving loop.
    func takeSwaps() -> [SwapRequest] { swaps.withLock { swaps in defer { swaps.removeAll() }; return swaps } }

    /// Jobs run, promoted, rejected, failed; the running job's id.
    var summary: (runs: Int, promoted: Int, rejected: Int, failed: Int, running: String?) {
        let t = totals.withLock { $0 }
        return (t.runs, t.promoted, t.rejected, t.failed, schedule.withLock { $0.running?.id })
    }

    /// Stops the retraining thread (a running job's process is killed).
    func stop() {
        stopping.store(true, ordering: .releasing)
        wake.signal()
    }

    /// The retraining thread's loop: starts due jobs until `stop()`.
    func serve() {
        while !stopping.load(ordering: .acquiring) {
            let job = schedule.withLock { $0.next(now: now(), newSinceLastJob: counters.sinceLastJob.load(ordering: .relaxed)) }
            if let job {
                run(job)
                schedule.withLock { $0.finished() }
                continue
            }
            _ = wake.wait(timeout: .now() + 0.5)
        }
    }

    private func run(_ job: RetrainSchedule.Job) {
        let started = Date()
        totals.withLock { $0.runs += 1 }
        counters.sinceLastJob.store(0, ordering: .relaxed)
        let directory = jobsDirectory.appendingPathComponent(job.id)
        let outcome: JSONValue
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            // The worker reads the buffer's files: everything appended so far must be on disk.
            _ = buffer.blockUntilDurable(timeout: .seconds(30))
            let spec = RetrainJobSpec(
                job: job.id, trigger: job.trigger, modelPath: served.withLock { $0 }, bufferDirectory: buffer.directory.path,
                baseDataPath: configuration.retrainBaseData, recipePath: configuration.retrainRecipe,
                warmStart: configuration.retrainStart == .warm, threads: configuration.retrainThreads,
                splitBlockSeconds: configuration.retrainSplitBlock, validationFraction: configuration.retrainValidationFraction,
                promoteMargin: configuration.retrainPromoteMargin, maxRecallDrop: configuration.retrainMaxRecallDrop,
                minValidationPerClass: configuration.retrainMinValidationPerClass)
            try JSONEncoder().encode(spec).write(to: directory.appendingPathComponent("spec.json"))
            let child = try ChildProcess.spawn(
                executable: workerExecutable, arguments: ["retrain-worker", directory.path],
                environment: ["LSTMD_DAEMON_PID": "\(getpid())"], outputPath: directory.appendingPathComponent("worker.log").path)
            logger.info("retraining job started", metadata: ["job": "\(job.id)", "trigger": "\(job.trigger)", "pid": "\(child.pid)"])
            let deadline = SystemServingClock().monotonicNanoseconds() + UInt64(configuration.retrainTimeout * 1e9)
            let exit = child.wait(deadline: deadline) { stopping.load(ordering: .acquiring) }
            guard exit == .exited(0) else {
                let why = (try? String(contentsOf: directory.appendingPathComponent("error.txt"), encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                throw DaemonError("the job's process \(exit)\(why.map { ": \($0)" } ?? "")")
            }
            outcome = try finish(job, directory: directory)
        } catch {
            totals.withLock { $0.failed += 1 }
            logger.error(
                "retraining job failed; the current model keeps serving",
                metadata: ["job": "\(job.id)", "error": "\(error)", "duration_s": "\(Date().timeIntervalSince(started))"])
            outcome = .object([
                "ok": .bool(true), "job": .string(job.id), "state": .string("failed"),
                "result": .object(["job": .string(job.id), "error": .string("\(error)")]),
            ])
        }
        results.withLock {
            $0[job.id] = outcome
            if $0.count > Self.jobsKept, let oldest = $0.keys.min(by: Self.isOlder) { $0[oldest] = nil }
        }
        pruneJobDirectories()
    }

    /// How many jobs' directories (spec, worker log, result) and replies are kept for a post-mortem.
    static let jobsKept = 20

    /// Job ids are "<start seconds>-<number>": numeric order on both parts is start order.
    static func isOlder(_ a: String, _ b: String) -> Bool {
        let (x, y) = (a.split(separator: "-").compactMap { Int($0) }, b.split(separator: "-").compactMap { Int($0) })
        return x.lexicographicallyPrecedes(y)
    }

    /// Removes all but the newest `jobsKept` job directories; the candidates' reports live on in
    /// the model store.
    private func pruneJobDirectories() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: jobsDirectory.path)) ?? []
        for name in names.sorted(by: Self.isOlder).dropLast(Self.jobsKept) {
            try? FileManager.default.removeItem(at: jobsDirectory.appendingPathComponent(name))
        }
    }

    /// Reads the worker's result, files the candidate in the store and, when the gate promoted
    /// it, hands it to the serving loop.
    private func finish(_ job: RetrainSchedule.Job, directory: URL) throws -> JSONValue {
        let data = try Data(contentsOf: directory.appendingPathComponent("result.json"))
        let result = try JSONDecoder().decode(RetrainJobResult.self, from: data)
        let resultJSON = try JSONValue.parse(String(decoding: data, as: UTF8.self))
        let candidatePath = directory.appendingPathComponent("candidate.safetensors")
        let bytes = try [UInt8](Data(contentsOf: candidatePath))
        let version = result.candidate.version
        try store.add(
            modelBytes: bytes,
            metadata: .init(
                version: version, trigger: job.trigger, verdict: result.promoted ? .promoted : .rejected, reason: result.reason,
                gate: result.gate, job: resultJSON))
        promotionHook?("stored")
        if result.promoted {
            try store.promote(version)
            promotionHook?("promoted")
            swaps.withLock { $0.append(SwapRequest(path: store.modelURL(version: version).path, reason: "retrain", job: resultJSON)) }
            waker.send(.swap)
            totals.withLock { $0.promoted += 1 }
        } else {
            totals.withLock { $0.rejected += 1 }
        }
        _ = try? store.prune()
        logger.notice(
            "retraining job \(result.promoted ? "promoted" : "rejected") its candidate",
            metadata: [
                "job": "\(job.id)", "candidate": "\(version)", "reason": "\(result.reason)",
                "macro_f1": "\(result.candidate.macroF1) vs \(result.current.macroF1)",
                "windows": "\(result.trainWindows) train, \(result.validationWindows) validation",
                "duration_s": "\(String(format: "%.1f", result.durationS))",
            ])
        try? FileManager.default.removeItem(at: candidatePath)
        return .object(["ok": .bool(true), "job": .string(job.id), "state": .string("done"), "result": resultJSON])
    }
}
