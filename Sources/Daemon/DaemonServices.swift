import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import Systemd

/// A value handed from the thread that builds it to the one thread that uses it from then on.
struct HandedOver<Value>: @unchecked Sendable {
    // @unchecked: the builder never touches `value` after handing it over, and exactly one
    // thread (the service's own) uses it afterwards.
    let value: Value
}

/// The serving loop as a service: runs it on a thread of its own ("lstmd-serve"); graceful
/// shutdown asks it, through the wake pipe, to finish the frames already received and return.
struct ServingService: Service {
    let loop: HandedOver<ServingLoop>
    let waker: Waker

    func run() async {
        await withGracefulShutdownHandler {
            await runOnThread(named: "lstmd-serve", stackSize: 8 << 20) { [loop] in
                loop.value.run()
                loop.value.sockets.close()  // the label socket lingers until the context terminates
            }
        } onGracefulShutdown: {
            waker.send(.stop)
        }
    }
}

/// The ZAP handler on a thread of its own ("lstmd-zap"), so that CURVE handshakes never wait
/// for the serving loop; graceful shutdown stops it through its wake pipe.
struct ZAPService: Service {
    let handler: HandedOver<ZAPHandler>

    func run() async {
        let waker = handler.value.waker
        await withGracefulShutdownHandler {
            await runOnThread(named: "lstmd-zap") { [handler] in handler.value.serve() }
        } onGracefulShutdown: {
            waker.send(.stop)
        }
        waker.close()
    }
}

/// Retraining jobs on a thread of their own ("lstmd-retrain"); each job runs in a child process.
/// Graceful shutdown kills a running job's process (its candidate is simply not made).
struct RetrainService: Service {
    let retrainer: Retrainer

    func run() async {
        await withGracefulShutdownHandler {
            await runOnThread(named: "lstmd-retrain") { [retrainer] in retrainer.serve() }
        } onGracefulShutdown: { [retrainer] in
            retrainer.stop()
        }
        retrainer.buffer.close()
    }
}

/// Pings the systemd watchdog while the serving loop makes progress.
///
/// The policy is `WatchdogPacer`'s (a ping every half `WATCHDOG_USEC`, only when the serving loop
/// stamped progress since the previous one); this service's thread feeds it: it wakes every
/// eighth of the interval and, once a ping is due, records progress only when the loop's stamp
/// moved since the last ping and is at most a quarter interval old (the loop stamps it at least
/// every eighth of the interval), then sends what the pacer decides. A loop that hangs right after
/// a ping is pinged at most once more: systemd kills and restarts it at most 1.25 intervals after
/// it hung.
struct WatchdogService: Service {
    let notifier: SystemdNotifier
    let interval: Duration
    let state: DaemonState
    let clock: any ServingClock
    let logger: Logger

    func run() async {
        let stop = DispatchSemaphore(value: 0)
        await withGracefulShutdownHandler {
            await runOnThread(named: "lstmd-watchdog") { [self] in pace(until: stop) }
        } onGracefulShutdown: {
            stop.signal()
        }
    }

    private func pace(until stop: DispatchSemaphore) {
        let continuous = ContinuousClock()
        var pacer = WatchdogPacer(interval: interval, start: continuous.now)
        let wake = max(0.005, interval.seconds / 8)
        let freshness = UInt64(max(0, interval.seconds / 4) * 1e9)
        var stampAtLastPing = state.lastProgress
        var reportedStall = false
        while stop.wait(timeout: .now() + wake) == .timedOut {
            let now = continuous.now
            let stamp = state.lastProgress
            if now >= pacer.nextPingDue, stamp != stampAtLastPing, clock.monotonicNanoseconds() &- stamp <= freshness {
                pacer.recordProgress()
            }
            switch pacer.poll(now: now) {
            case .ping:
                notifier.watchdog()
                stampAtLastPing = stamp
                reportedStall = false
            case .wait:
                break
            case .stalled(let since):
                if !reportedStall {
                    logger.warning(
                        "the serving loop made no progress: watchdog pings withheld",
                        metadata: ["since_last_ping_s": "\(since.seconds)"])
                    reportedStall = true
                }
            }
        }
    }
}

/// Tells systemd how the daemon is: READY=1 once serving (the sockets are bound before the
/// group runs), a STATUS= line every 2 s, STOPPING=1 first thing at shutdown.
struct NotifyService: Service {
    let notifier: SystemdNotifier
    let state: DaemonState
    /// Run at shutdown right after STOPPING=1 (the metrics endpoint's /healthz turns 503).
    let onStopping: @Sendable () -> Void

    func run() async {
        notifier.ready()
        if let snapshot = state.latestSnapshot { notifier.status("serving model \(snapshot.model.version)") }
        let stop = DispatchSemaphore(value: 0)
        await withGracefulShutdownHandler {
            await runOnThread(named: "lstmd-notify") { [state, notifier] in
                while stop.wait(timeout: .now() + 2) == .timedOut {
                    if let snapshot = state.latestSnapshot { notifier.status(snapshot.statusLine) }
                }
            }
        } onGracefulShutdown: { [notifier, onStopping] in
            notifier.stopping()
            onStopping()
            stop.signal()
        }
    }
}

/// The Prometheus endpoint (bound at build time) until shutdown; it goes last, so scrapes work
/// while the serving loop drains.
struct MetricsService: Service {
    let server: MetricsServer

    func run() async {
        let stopped = Latch()
        await withGracefulShutdownHandler {
            await stopped.wait()
        } onGracefulShutdown: {
            stopped.open()
        }
        // Without stopping NIO's threads: that goes through libdispatch (see `ThreadExecutor`).
        server.shutdown(stoppingThreads: false)
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
