import LSTMKit

/// The typed status of the serving loop (`StatusSnapshot`).
extension ServingLoop {
    /// The typed status the control reply, STATUS= and the metrics are made from.
    func snapshot() -> StatusSnapshot {
        let model = served.model
        var status = StatusSnapshot(
            uptimeSeconds: Double(clock.monotonicNanoseconds() &- started) / 1e9,
            model: .init(
                path: served.path, version: model.file.version, digest: model.file.digest, classes: model.classes,
                window: classifier.window, hop: classifier.hop, mode: classifier.mode.rawValue, channels: model.channels),
            streams: .init(
                active: table.count, max: configuration.maxStreams, evicted: evicted, rejected: rejectedStreams,
                bytes: classifier.byteCount + tap.byteCount + table.count * 160),
            counts: counts, rates: rates.rates, retraining: retrainingStatus())
        status.connections.open = connections.open
        status.connections.max = connections.maxConnections
        status.connections.refused = connections.refused
        status.connections.acceptFailures = connections.acceptFailures
        status.connections.descriptorLimit = descriptorLimit
        status.security =
            authenticator?.security(insecureTCP: configuration.insecureTCP)
            ?? StatusSnapshot.Security(curve: false, insecureTCP: configuration.insecureTCP)
        return status
    }

    private func retrainingStatus() -> StatusSnapshot.Retraining? {
        guard let retrainer else { return nil }
        let buffer = retrainer.buffer.status
        let summary = retrainer.summary
        var status = StatusSnapshot.Retraining()
        (status.records, status.durableRecords, status.bytes) = (buffer.records, buffer.durableRecords, buffer.bytes)
        (status.classes, status.evicted) = (buffer.classes, buffer.evicted)
        status.refused = buffer.refused + tap.counters.refused.load(ordering: .relaxed)
        status.windows = tap.counters.windows.load(ordering: .relaxed)
        status.corrections = tap.counters.corrections.load(ordering: .relaxed)
        status.newSinceLastJob = tap.counters.sinceLastJob.load(ordering: .relaxed)
        (status.jobs, status.promoted, status.rejected, status.failed) = (summary.runs, summary.promoted, summary.rejected, summary.failed)
        status.running = summary.running
        return status
    }
}
