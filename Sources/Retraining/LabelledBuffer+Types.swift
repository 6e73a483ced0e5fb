extension LabelledBuffer {
    /// When appended records are `fsync`ed, which is when they count as durable.
    public enum FsyncPolicy: Sendable, Equatable {
        /// Every batch the writer takes is fsynced before its records count as durable (group
        /// commit: appends that arrive while a sync runs share the next one). For tests, and for
        /// operators who prefer durability to disk wear.
        case always
        /// Written records are fsynced at most `seconds` after the previous sync, and at once
        /// when someone waits for durability or the buffer closes. `seconds` > 0.
        case interval(seconds: Double)

        /// The default: every 100 ms.
        public static let `default` = FsyncPolicy.interval(seconds: 0.1)
    }

    /// Sizes and the fsync policy of a buffer.
    public struct Configuration: Sendable, Equatable {
        /// The bound on the bytes of all segment files (headers included): beyond it whole
        /// segments are evicted (see `LabelledBuffer`). Default 256 MiB.
        public var maxBytes: Int
        /// The size at which a class's segment is sealed and a new one started; also the
        /// granularity of eviction. Default `maxBytes / 64`, clamped to 64 KiB … 4 MiB.
        public var segmentBytes: Int
        /// When records are fsynced. Default every 100 ms.
        public var fsync: FsyncPolicy
        /// The bound on records accepted but not yet written (their encoded bytes): beyond it
        /// `append` refuses. Default 16 MiB (several seconds of a busy stream's windows).
        public var maxQueuedBytes: Int
        /// The largest encoded record accepted, in bytes. Default 16 MiB.
        public var maxRecordBytes: Int

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - maxBytes: The bound on the segment files' bytes; default 256 MiB.
        ///   - segmentBytes: The segment size; default `maxBytes / 64` clamped to 64 KiB … 4 MiB.
        ///   - fsync: The fsync policy; default every 100 ms.
        ///   - maxQueuedBytes: The bound on queued bytes; default 16 MiB.
        ///   - maxRecordBytes: The largest record; default 16 MiB.
        /// - Precondition: `maxBytes ≥ 2 × segmentBytes`, `segmentBytes ≥ 1024`, a positive
        ///   interval, positive queue and record bounds.
        public init(
            maxBytes: Int = 256 << 20, segmentBytes: Int? = nil, fsync: FsyncPolicy = .default,
            maxQueuedBytes: Int = 16 << 20, maxRecordBytes: Int = 16 << 20
        ) {
            let segmentBytes = segmentBytes ?? min(4 << 20, max(64 << 10, maxBytes / 64))
            precondition(segmentBytes >= 1024, "LabelledBuffer: segmentBytes \(segmentBytes) < 1024")
            precondition(
                maxBytes >= 2 * segmentBytes,
                "LabelledBuffer: maxBytes \(maxBytes) < 2 × segmentBytes \(segmentBytes)")
            if case .interval(let seconds) = fsync {
                precondition(seconds > 0 && seconds.isFinite, "LabelledBuffer: fsync interval \(seconds) s")
            }
            precondition(maxQueuedBytes > 0 && maxRecordBytes > 0, "LabelledBuffer: queue and record bounds must be > 0")
            self.maxBytes = maxBytes
            self.segmentBytes = segmentBytes
            self.fsync = fsync
            self.maxQueuedBytes = maxQueuedBytes
            self.maxRecordBytes = maxRecordBytes
        }
    }

    /// The answer of `append`.
    public enum AppendResult: Sendable, Equatable {
        /// Queued for the writer. `sequence` numbers accepted records from 1 in this process;
        /// pass it to `waitUntilDurable(through:)`.
        case accepted(sequence: UInt64)
        /// Not stored, and counted in `Status.refused`.
        case refused(Refusal)

        /// Whether the record was accepted.
        public var isAccepted: Bool {
            if case .accepted = self { return true }
            return false
        }
    }

    /// Why `append` refused a record.
    public enum Refusal: String, Sendable, Equatable {
        /// The writer is behind by `maxQueuedBytes` (the disk is slow or stalled).
        case queueFull = "queue_full"
        /// The encoded record exceeds `maxRecordBytes`, or its stream id or class name exceeds
        /// 65,535 UTF-8 bytes.
        case tooLarge = "too_large"
        /// The buffer is closed.
        case closed
    }

    /// A snapshot of the buffer's counters, for `status` and metrics.
    ///
    /// `records` and `classes` count live records (accepted, not evicted, not lost), including
    /// those still queued for the writer; `durableRecords` counts the live ones that have been
    /// fsynced, so `durableRecords ≤ records`.
    public struct Status: Sendable, Equatable, Codable {
        /// Live records: accepted (or recovered at open) and neither evicted nor lost.
        public var records: Int
        /// Live records that are fsynced.
        public var durableRecords: Int
        /// The bytes of the live segment files, headers included.
        public var bytes: Int
        /// Live records per class name.
        public var classes: [String: Int]
        /// Records evicted since the buffer opened (to stay within `maxBytes`).
        public var evicted: Int
        /// Appends refused since the buffer opened.
        public var refused: Int
        /// Accepted records lost to I/O errors since the buffer opened (each one logged).
        public var lost: Int

        enum CodingKeys: String, CodingKey {
            case records, bytes, classes, evicted, refused, lost
            case durableRecords = "durable_records"
        }
    }

    /// What `LabelledBuffer.init` found and repaired.
    public struct RecoveryReport: Sendable, Equatable {
        /// A segment whose header was not valid, renamed aside.
        public struct RenamedSegment: Sendable, Equatable {
            /// The segment's file name.
            public var name: String
            /// Its new file name, in the same directory.
            public var renamedTo: String
            /// Why its header was refused.
            public var reason: String
        }

        /// Valid segments kept.
        public var segments = 0
        /// Records recovered.
        public var records = 0
        /// Segments whose torn or garbled tail was truncated.
        public var truncatedSegments = 0
        /// Bytes cut off those tails.
        public var truncatedBytes = 0
        /// Segments with an invalid header, renamed to `<name>.corrupt` (never deleted).
        public var renamedSegments: [RenamedSegment] = []
        /// Valid segments without records (a crash right after creating one), removed.
        public var removedEmptySegments = 0
        /// Records evicted at open because the segments exceeded `maxBytes`.
        public var evictedRecords = 0
    }
}
