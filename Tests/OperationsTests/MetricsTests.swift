import Daemon
import Foundation
import Glibc
import LSTMKit
import Synchronization
import Logging
import Testing
import ZeroMQ

/// The Prometheus endpoint: the recorder's series, the HTTP server, and the real daemon scraped
/// while frames flow.
@Suite struct MetricsTests {
    private func parse(_ recorder: MetricsRecorder) throws -> PrometheusText {
        try PrometheusText(String(decoding: recorder.exposition(), as: UTF8.self))
    }

    @Test func recorderCountsFramesLabelsDropsAndLatency() throws {
        let recorder = MetricsRecorder()
        let empty = try parse(recorder)
        #expect(empty.value("lstmd_frames_total") == 0)
        #expect(empty.types["lstmd_frame_processing_seconds"] == "histogram")
        for reason in DropReason.allCases {
            #expect(empty.value("lstmd_dropped_frames_total", ["reason": reason.rawValue]) == 0, "\(reason)")
        }
        #expect(empty.value("lstmd_retrain_runs_total") == 0)
        #expect(empty.value("lstmd_retrain_failures_total") == 0)

        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let receivedAt = UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec) - 3_000_000  // 3 ms ago
        recorder.frame(timesteps: 10, receivedAt: receivedAt)
        recorder.frame(timesteps: 5, receivedAt: receivedAt)
        recorder.label()
        recorder.drop(.nonFinite)
        recorder.drop(.nonFinite)
        recorder.drop(.wrongParts)
        let text = try parse(recorder)
        #expect(text.value("lstmd_frames_total") == 2)
        #expect(text.value("lstmd_timesteps_total") == 15)
        #expect(text.value("lstmd_labels_total") == 1)
        #expect(text.value("lstmd_dropped_frames_total", ["reason": "non_finite"]) == 2)
        #expect(text.value("lstmd_dropped_frames_total", ["reason": "wrong_parts"]) == 1)
        #expect(text.value("lstmd_frame_processing_seconds_count") == 2)
        #expect(text.value("lstmd_frame_processing_seconds_bucket", ["le": "0.001"]) == 0)
        #expect(text.value("lstmd_frame_processing_seconds_bucket", ["le": "0.1"]) == 2)
        let sum = try #require(text.value("lstmd_frame_processing_seconds_sum"))
        #expect(sum >= 0.006 && sum < 1)
    }

    private func status(active: Int, evicted: Int, reloads: Int, version: String) -> StatusSnapshot {
        StatusSnapshot(
            uptimeSeconds: 12.5,
            model: .init(path: "/m", version: version, digest: "", classes: ["a"], window: 1, hop: 1, mode: "window", channels: 1),
            streams: .init(active: active, max: 10, evicted: evicted, rejected: 1),
            counts: .init(labelledFrames: 4, gaps: 2, reloads: reloads), rates: .init())
    }

    @Test func statusFeedsGaugesSlowCountersAndTheModelVersion() throws {
        let recorder = MetricsRecorder()
        recorder.update(status(active: 3, evicted: 5, reloads: 0, version: "aaa"))
        var text = try parse(recorder)
        #expect(text.value("lstmd_active_streams") == 3)
        #expect(text.value("lstmd_evicted_streams_total") == 5)
        #expect(text.value("lstmd_rejected_streams_total") == 1)
        #expect(text.value("lstmd_labelled_frames_total") == 4)
        #expect(text.value("lstmd_sequence_gaps_total") == 2)
        #expect(text.value("lstmd_uptime_seconds") == 12.5)
        #expect(text.value("lstmd_model_info", ["version": "aaa"]) == 1)

        recorder.update(status(active: 1, evicted: 7, reloads: 1, version: "bbb"))
        recorder.update(status(active: 1, evicted: 7, reloads: 1, version: "bbb"))
        text = try parse(recorder)
        #expect(text.value("lstmd_active_streams") == 1)
        #expect(text.value("lstmd_evicted_streams_total") == 7)
        #expect(text.value("lstmd_model_reloads_total") == 1)
        #expect(text.value("lstmd_model_info", ["version": "bbb"]) == 1)
        #expect(text.value("lstmd_model_info", ["version": "aaa"]) == nil)
        #expect(text.samples.filter { $0.name == "lstmd_model_info" }.count == 1)
    }

    @Test func curveRefusalsAreCountedByRole() throws {
        let recorder = MetricsRecorder()
        var snapshot = status(active: 0, evicted: 0, reloads: 0, version: "aaa")
        #expect(try parse(recorder).value("lstmd_auth_refused_total", ["role": "operators"]) == 0)
        snapshot.security = .init(curve: true, refusedByRole: ["producers": 3, "operators": 1], refusedByKey: ["k": 4])
        recorder.update(snapshot)
        let text = try parse(recorder)
        #expect(text.value("lstmd_auth_refused_total", ["role": "producers"]) == 3)
        #expect(text.value("lstmd_auth_refused_total", ["role": "subscribers"]) == 0)
        #expect(text.value("lstmd_auth_refused_total", ["role": "operators"]) == 1)
    }

    @Test func serverAnswersMetricsHealthAndNotFound() throws {
        let recorder = MetricsRecorder()
        let server = MetricsServer(host: "127.0.0.1", port: 0, recorder: recorder, logger: Logger(label: "test"))
        try server.start()
        defer { server.shutdown() }
        let port = try #require(server.boundPort)
        #expect(try httpGet(port: port, path: "/healthz").status == 503)
        server.isReady = true
        let health = try httpGet(port: port, path: "/healthz")
        #expect(health.status == 200)
        #expect(health.body == "ready\n")
        let scraped = Mutex(0)
        server.onScrape {
            scraped.withLock { $0 += 1 }
            recorder.label()
        }
        let metrics = try httpGet(port: port, path: "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(try PrometheusText(metrics.body).value("lstmd_labels_total") == 1)
        #expect(scraped.withLock { $0 } == 1)
        #expect(try httpGet(port: port, path: "/metrics?x=1").status == 200)
        #expect(try httpGet(port: port, path: "/").status == 404)
        #expect(try httpGet(port: port, path: "/metrics", method: "POST").status == 405)
        let head = try httpGet(port: port, path: "/healthz", method: "HEAD")
        #expect(head.status == 200 && head.body.isEmpty)
        server.isReady = false
        #expect(try httpGet(port: port, path: "/healthz").status == 503)
    }

    @Test func daemonRefusesAMetricsPortInUse() throws {
        let recorder = MetricsRecorder()
        let first = MetricsServer(host: "127.0.0.1", port: 0, recorder: recorder, logger: Logger(label: "test"))
        try first.start()
        defer { first.shutdown() }
        let port = try #require(first.boundPort)
        let daemon = try DaemonProcess(arguments: ["--metrics", "127.0.0.1:\(port)"])
        #expect(daemon.waitForExit(timeout: 20) == 1)
        #expect(daemon.log.contains("cannot serve metrics on 127.0.0.1:\(port)"), "\(daemon.log)")
    }

    /// The real daemon, scraped while frames flow from a ZeroMQ PUSH socket.
    @Test func scrapesTheRunningDaemonWhileFramesFlow() throws {
        let port = try freeLoopbackPort()
        let daemon = try DaemonProcess(arguments: ["--metrics", "127.0.0.1:\(port)"])
        let health = eventually(timeout: 30) { () -> HTTPResponse? in
            guard let response = try? httpGet(port: port, path: "/healthz"), response.status == 200 else { return nil }
            return response
        }
        try #require(health != nil, "no 200 from /healthz; log:\n\(daemon.log)")
        let initial = try PrometheusText(httpGet(port: port, path: "/metrics").body)
        #expect(initial.value("lstmd_frames_total") == 0)
        let version = try #require(initial.samples.first { $0.name == "lstmd_model_info" }?.labels["version"])
        #expect(!version.isEmpty)

        let context = try ZMQContext()
        let push = try ZMQSocket(.push, context: context)
        try push.set(.linger, to: 2000)
        try push.connect(daemon.ingestEndpoint)
        let channels = 6  // the bundled BasicMotions model
        let timesteps = 10
        var generator = SystemRandomNumberGenerator()
        let frames = 60
        var scrapesWhileFlowing: [PrometheusText] = []
        for sequence in 0..<frames {
            let header = FrameHeader(channels: channels, timesteps: timesteps, sequence: UInt64(sequence), timestamp: 0)
            var payload: [UInt8] = []
            for _ in 0..<(channels * timesteps) {
                withUnsafeBytes(of: Float.random(in: -1...1, using: &generator).bitPattern.littleEndian) { payload += $0 }
            }
            try push.send(parts: [Array("metrics-stream".utf8), header.encoded, payload])
            if sequence % 20 == 19 {
                scrapesWhileFlowing.append(try PrometheusText(httpGet(port: port, path: "/metrics").body))
            }
        }
        try push.send(parts: [Array("one-part".utf8)])  // wrong_parts

        let final = try eventually(timeout: 30) { () -> PrometheusText? in
            let text = try PrometheusText(httpGet(port: port, path: "/metrics").body)
            let done =
                text.value("lstmd_frames_total") == Double(frames)
                && text.value("lstmd_dropped_frames_total", ["reason": "wrong_parts"]) == 1
                && text.value("lstmd_active_streams") == 1
            return done ? text : nil
        }
        let text = try #require(final, "counters did not reach their values; log:\n\(daemon.log)")
        #expect(text.value("lstmd_timesteps_total") == Double(frames * timesteps))
        #expect(text.value("lstmd_frame_processing_seconds_count") == Double(frames))
        // The default model's window is 100 timesteps: labels flow once 100 have arrived.
        #expect((text.value("lstmd_labels_total") ?? 0) > 0)
        #expect(text.value("lstmd_model_info", ["version": version]) == 1)
        #expect((text.value("lstmd_uptime_seconds") ?? 0) > 0)
        // Counters never go back between scrapes.
        let frameCounts = scrapesWhileFlowing.map { $0.value("lstmd_frames_total") ?? -1 } + [Double(frames)]
        #expect(frameCounts == frameCounts.sorted(), "\(frameCounts)")

        push.close()
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: 20) == 0, "\(daemon.log)")
    }
}
