import Testing
@testable import Retraining

@Suite struct WindowCutterTests {
    /// One channel whose value is the timestep's global index, so a window's values name its
    /// timesteps.
    static func frame(_ range: Range<Int>) -> [Float] { range.map(Float.init) }

    static func starts(_ windows: [LabelledRecord]) -> [Int] { windows.map { Int($0.values[0]) } }

    @Test func windowsEveryStrideWithinARun() {
        var cutter = WindowCutter(streamID: "s", window: 4, stride: 2, channels: 1)
        let windows = cutter.feed(Self.frame(0..<10), timestamp: 7, className: "A")
        #expect(Self.starts(windows) == [0, 2, 4, 6])
        for window in windows {
            let start = Int(window.values[0])
            #expect(window.values == Self.frame(start..<(start + 4)))
            #expect(window.className == "A")
            #expect(window.source == .window)
            #expect(window.streamID == "s")
            #expect(window.timesteps == 4 && window.channels == 1)
            #expect(window.timestamp == 7)
        }
        #expect(cutter.run?.className == "A")
        #expect(cutter.run?.length == 10)
    }

    /// Cutting does not depend on how timesteps are grouped into frames.
    @Test func frameBoundariesDoNotMatter() {
        var whole = WindowCutter(streamID: "s", window: 5, stride: 3, channels: 2)
        var pieces = WindowCutter(streamID: "s", window: 5, stride: 3, channels: 2)
        let values = (0..<60).map(Float.init)  // 30 timesteps × 2 channels
        let expected = whole.feed(values, timestamp: 0, className: "A")
        var got: [LabelledRecord] = []
        var offset = 0
        for size in [1, 2, 3, 7, 1, 4, 5, 7] {
            got += pieces.feed(values[(offset * 2)..<((offset + size) * 2)], timestamp: 0, className: "A")
            offset += size
        }
        #expect(offset == 30)
        #expect(got == expected)
        #expect(expected.count == 9)  // ends at 5, 8, …, 29
        #expect(expected.last?.values == Array(values[48..<58]))  // timesteps 24…28
    }

    @Test func classChangeStartsANewRun() {
        var cutter = WindowCutter(streamID: "s", window: 3, stride: 1, channels: 1)
        var windows = cutter.feed(Self.frame(0..<4), timestamp: 0, className: "A")  // windows at 0, 1
        windows += cutter.feed(Self.frame(4..<6), timestamp: 0, className: "B")  // run of 2: none
        windows += cutter.feed(Self.frame(6..<7), timestamp: 0, className: "B")  // window 4…6
        #expect(Self.starts(windows) == [0, 1, 4])
        #expect(windows.map(\.className) == ["A", "A", "B"])
        // No window mixes classes.
        for window in windows {
            let indices = window.values.map(Int.init)
            #expect(indices.allSatisfy { window.className == ($0 < 4 ? "A" : "B") })
        }
    }

    @Test func unlabelledTimestepsBreakARun() {
        var cutter = WindowCutter(streamID: "s", window: 3, stride: 1, channels: 1)
        var windows = cutter.feed(Self.frame(0..<2), timestamp: 0, className: "A")
        windows += cutter.feed(Self.frame(2..<3), timestamp: 0, className: nil)
        windows += cutter.feed(Self.frame(3..<5), timestamp: 0, className: "A")
        #expect(windows.isEmpty)
        #expect(cutter.run?.length == 2)
        windows += cutter.feed(Self.frame(5..<6), timestamp: 0, className: "A")
        #expect(Self.starts(windows) == [3])
    }

    @Test func gapAndResetBreakARun() {
        for breakRun in [{ (cutter: inout WindowCutter) in cutter.gap() }, { (cutter: inout WindowCutter) in cutter.reset() }] {
            var cutter = WindowCutter(streamID: "s", window: 3, stride: 1, channels: 1)
            var windows = cutter.feed(Self.frame(0..<2), timestamp: 0, className: "A")
            breakRun(&cutter)
            #expect(cutter.run == nil)
            windows += cutter.feed(Self.frame(10..<12), timestamp: 0, className: "A")
            #expect(windows.isEmpty)
            windows += cutter.feed(Self.frame(12..<14), timestamp: 0, className: "A")
            #expect(Self.starts(windows) == [10, 11])
            #expect(windows[0].values == [10, 11, 12])
        }
    }

    @Test func strideLongerThanWindow() {
        var cutter = WindowCutter(streamID: "s", window: 2, stride: 5, channels: 1)
        let windows = cutter.feed(Self.frame(0..<13), timestamp: 0, className: "A")
        #expect(Self.starts(windows) == [0, 5, 10])
    }

    @Test func windowOfOne() {
        var cutter = WindowCutter(streamID: "s", window: 1, stride: 1, channels: 1)
        let windows = cutter.feed(Self.frame(0..<3), timestamp: 0, className: "A")
        #expect(windows.map(\.values) == [[0], [1], [2]])
    }

    @Test func shortRunsGiveNothing() {
        var cutter = WindowCutter(streamID: "s", window: 4, stride: 1, channels: 1)
        var windows: [LabelledRecord] = []
        for (index, name) in ["A", "A", "A", "B", "B", "B", "A", "A", "A"].enumerated() {
            windows += cutter.feed(Self.frame(index..<(index + 1)), timestamp: 0, className: name)
        }
        #expect(windows.isEmpty)
    }

    /// A window's timestamp is that of the frame holding its first timestep.
    @Test func timestamps() {
        var cutter = WindowCutter(streamID: "s", window: 4, stride: 2, channels: 1)
        var windows: [LabelledRecord] = []
        for frame in 0..<5 {  // frames of 3 timesteps, timestamps 100, 200, …
            windows += cutter.feed(Self.frame((3 * frame)..<(3 * frame + 3)), timestamp: Int64(100 * (frame + 1)), className: "A")
        }
        #expect(Self.starts(windows) == [0, 2, 4, 6, 8, 10])
        #expect(windows.map(\.timestamp) == [100, 100, 200, 300, 300, 400])
    }

    @Test func multiChannelValuesStayTimestepMajor() {
        var cutter = WindowCutter(streamID: "s", window: 3, stride: 3, channels: 2)
        let windows = cutter.feed([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5], timestamp: 0, className: "A")
        #expect(windows.map(\.values) == [[0, 0.5, 1, 1.5, 2, 2.5], [3, 3.5, 4, 4.5, 5, 5.5]])
    }

    /// A correction labels the last W timesteps, labelled or not, but never across a gap.
    @Test func latestWindowForCorrections() {
        var cutter = WindowCutter(streamID: "s", window: 3, stride: 1, channels: 1)
        #expect(cutter.latestWindow(className: "B") == nil)
        _ = cutter.feed(Self.frame(0..<2), timestamp: 5, className: nil)
        _ = cutter.feed(Self.frame(2..<4), timestamp: 6, className: "A")
        let correction = cutter.latestWindow(className: "B", source: .correction(id: 9))
        #expect(correction?.values == [1, 2, 3])
        #expect(correction?.className == "B")
        #expect(correction?.source == .correction(id: 9))
        #expect(correction?.timestamp == 5)
        cutter.gap()
        _ = cutter.feed(Self.frame(4..<6), timestamp: 7, className: nil)
        #expect(cutter.latestWindow(className: "B") == nil)
        _ = cutter.feed(Self.frame(6..<7), timestamp: 8, className: nil)
        #expect(cutter.latestWindow(className: "B")?.values == [4, 5, 6])
        if case .correction = cutter.latestWindow(className: "B")?.source {} else {
            Issue.record("the default source is a correction")
        }
    }
}
