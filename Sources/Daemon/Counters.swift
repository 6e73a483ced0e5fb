/// What the serving loop has done since start. Owned by the serving thread; snapshots go out
/// through control replies.
struct Counters {
    var frames = 0
    var timesteps = 0
    var labels = 0
    var labelledFrames = 0
    var gaps = 0
    var evicted = 0
    var reloads = 0
    var drops = [Int](repeating: 0, count: DropReason.allCases.count)

    mutating func drop(_ reason: DropReason) {
        drops[DropReason.allCases.firstIndex(of: reason)!] += 1
    }

    func drops(_ reason: DropReason) -> Int {
        drops[DropReason.allCases.firstIndex(of: reason)!]
    }

    var totalDrops: Int { drops.reduce(0, +) }
}

/// Per-second rates, refreshed by housekeeping.
struct Rates {
    var framesPerSecond = 0.0
    var timestepsPerSecond = 0.0
    var labelsPerSecond = 0.0
    private var last: (time: UInt64, frames: Int, timesteps: Int, labels: Int)?

    mutating func update(now: UInt64, counters: Counters) {
        if let last, now > last.time + 500_000_000 {
            let seconds = Double(now - last.time) / 1e9
            framesPerSecond = Double(counters.frames - last.frames) / seconds
            timestepsPerSecond = Double(counters.timesteps - last.timesteps) / seconds
            labelsPerSecond = Double(counters.labels - last.labels) / seconds
        } else if last != nil {
            return
        }
        last = (now, counters.frames, counters.timesteps, counters.labels)
    }
}
