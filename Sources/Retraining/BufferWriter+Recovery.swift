#if canImport(Glibc)
import Glibc
#endif

extension BufferWriter {
    /// Opens the directory before the writer thread starts: reads every segment up to its first
    /// invalid record, truncates torn tails, renames segments with an invalid header aside,
    /// removes empty segments and leftover temporary files, rebuilds the chains and evicts if the
    /// segments exceed `maxBytes`.
    ///
    /// - Returns: The report and the initial counters.
    /// - Throws: `RetrainingError(.io)` when a file cannot be read, truncated, synced or renamed.
    func recover() throws -> (LabelledBuffer.RecoveryReport, LabelledBuffer.Status) {
        try POSIX.makeDirectory(directory)
        try takeLock()
        var report = LabelledBuffer.RecoveryReport()
        var segments: [(UInt64, String)] = []
        var changedDirectory = false
        for name in try POSIX.entries(of: directory) {
            if name.hasPrefix("."), name.hasSuffix(".\(SegmentFormat.fileExtension).tmp") {
                try POSIX.unlink(directory + "/" + name)
                changedDirectory = true
                continue
            }
            guard let number = SegmentFormat.number(inFileName: name) else { continue }
            nextSegmentNumber = max(nextSegmentNumber, number + 1)
            if name == SegmentFormat.fileName(number: number) { segments.append((number, name)) }
        }

        var classes: [String: Int] = [:]
        for (number, name) in segments.sorted(by: { $0.0 < $1.0 }) {
            let path = directory + "/" + name
            guard let bytes = try POSIX.readFile(path) else { continue }
            let parsed = bytes.withUnsafeBytes { raw -> Result<(SegmentFormat.Header, SegmentFormat.Scan), SegmentFormat.HeaderProblem> in
                SegmentFormat.parseHeader(raw).map { ($0, SegmentFormat.scan(raw, header: $0, decode: false)) }
            }
            switch parsed {
            case .failure(let problem):
                let renamed = try renameAside(name)
                changedDirectory = true
                report.renamedSegments.append(.init(name: name, renamedTo: renamed, reason: problem.reason))
                logger.warning("labelled buffer: segment \(name) has an invalid header (\(problem.reason)); renamed to \(renamed)")
            case .success(let (header, scan)):
                if scan.recordCount == 0 {
                    try POSIX.unlink(path)
                    changedDirectory = true
                    report.removedEmptySegments += 1
                    if let problem = scan.tailProblem {
                        report.truncatedSegments += 1
                        report.truncatedBytes += bytes.count - scan.validLength
                        logger.warning("labelled buffer: segment \(name) held no valid record (\(problem)); removed")
                    }
                    continue
                }
                let fd = try POSIX.open(path, O_RDWR)
                defer { POSIX.close(fd) }
                if let problem = scan.tailProblem {
                    let cut = bytes.count - scan.validLength
                    try POSIX.truncate(fd, to: scan.validLength, path: path)
                    report.truncatedSegments += 1
                    report.truncatedBytes += cut
                    logger.warning(
                        "labelled buffer: segment \(name): \(problem); truncated \(cut) bytes after \(scan.recordCount) records")
                }
                // A killed process leaves written pages unsynced: sync them before counting them durable.
                try POSIX.sync(fd, path: path)
                let segment = Segment(number: number, path: path, length: scan.validLength, records: scan.recordCount)
                chains[header.className, default: Chain()].sealed.append(segment)
                chains[header.className]!.bytes += segment.length
                totalBytes += segment.length
                classes[header.className, default: 0] += scan.recordCount
                report.segments += 1
                report.records += scan.recordCount
            }
        }
        if changedDirectory { try POSIX.syncDirectory(directory) }

        evict()
        report.evictedRecords = pendingEvicted
        for (name, count) in classDecrements {
            let left = (classes[name] ?? 0) - count
            classes[name] = left > 0 ? left : nil
        }
        let records = report.records - pendingEvicted
        let status = LabelledBuffer.Status(
            records: records, durableRecords: records, bytes: totalBytes, classes: classes,
            evicted: pendingEvicted, refused: 0, lost: 0)
        pendingEvicted = 0
        classDecrements = [:]
        return (report, status)
    }

    /// Renames the segment `name` to `name.corrupt` (or `name.corrupt.N` when taken).
    /// - Returns: The new name.
    private func renameAside(_ name: String) throws -> String {
        var candidate = name + ".corrupt"
        var suffix = 1
        while access(directory + "/" + candidate, F_OK) == 0 {
            candidate = name + ".corrupt.\(suffix)"
            suffix += 1
        }
        try POSIX.rename(directory + "/" + name, directory + "/" + candidate)
        return candidate
    }
}
