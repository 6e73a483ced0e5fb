import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A tiny HTTP/1.1 server (SwiftNIO, one event-loop thread) for Prometheus and health checks.
///
/// - `GET /metrics`: ``MetricsRecorder/exposition()`` as `text/plain; version=0.0.4`, after
///   calling `refresh` (which copies the daemon's `StatusSnapshot` into the recorder);
/// - `GET /healthz`: 200 `ready` while ``isReady``, else 503 `not ready`;
/// - anything else: 404 (405 for a method other than GET or HEAD).
///
/// Every response closes the connection. Thread-safe.
public final class MetricsServer: Sendable {
    private let host: String
    private let port: Int
    private let recorder: MetricsRecorder
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let channel = Mutex<(any Channel)?>(nil)
    private let ready = Atomic<Bool>(false)
    private let refresh = Mutex<(@Sendable () -> Void)?>(nil)

    /// Creates the server; binds nothing yet.
    /// - Parameters:
    ///   - host: an IP address or `localhost`.
    ///   - port: the TCP port; 0 picks a free one (see ``boundPort``).
    public init(host: String, port: Int, recorder: MetricsRecorder, logger: Logger) {
        self.host = host
        self.port = port
        self.recorder = recorder
        self.logger = logger
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// Binds and starts serving.
    /// - Throws: `DaemonError` when the address cannot be bound.
    public func start() throws {
        let recorder = recorder
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        MetricsHTTPHandler(recorder: recorder, server: self))
                }
            }
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
        do {
            let bound = try bootstrap.bind(host: host, port: port).wait()
            channel.withLock { $0 = bound }
        } catch {
            // In use, or not (yet) configured at boot: worth a retry (exit 1), not a setting's fault.
            let transient = [EADDRINUSE, EADDRNOTAVAIL].contains((error as? IOError)?.errnoCode ?? 0)
            throw DaemonError("cannot serve metrics on \(host):\(port): \(error)", key: transient ? nil : "metrics")
        }
        logger.info("metrics endpoint listening", metadata: ["address": "\(host):\(boundPort ?? port)"])
    }

    /// The TCP port bound, once started.
    public var boundPort: Int? {
        channel.withLock { $0?.localAddress?.port }
    }

    /// Whether `/healthz` answers 200: set once the daemon serves, cleared when it stops.
    public var isReady: Bool {
        get { ready.load(ordering: .acquiring) }
        set { ready.store(newValue, ordering: .releasing) }
    }

    /// Sets the closure run before each `/metrics` response (typically
    /// `{ recorder.update(snapshot) }`).
    public func onScrape(_ body: @escaping @Sendable () -> Void) {
        refresh.withLock { $0 = body }
    }

    /// Runs the scrape hook and renders the metrics.
    func scrape() -> [UInt8] {
        refresh.withLock { $0 }?()
        return recorder.exposition()
    }

    /// Closes the listening socket and, with `stoppingThreads`, stops the event loop.
    ///
    /// - Parameter stoppingThreads: `false` when the process exits next: NIO stops its group
    ///   through libdispatch, whose workers (without CAP_SYS_NICE, as under `DynamicUser=`) log
    ///   "Failed to set thread priority for worker thread" to syslog.
    public func shutdown(stoppingThreads: Bool = true) {
        let bound = channel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try? bound?.close().wait()
        if stoppingThreads { try? group.syncShutdownGracefully() }
    }
}
