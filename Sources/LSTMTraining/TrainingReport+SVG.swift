import Foundation

// Inline SVG charts for `TrainingReport`: line charts of the learning curves and a grouped bar
// chart of class counts. Output is well-formed XML with fixed-precision coordinates, so equal
// input gives identical bytes and no coordinate is ever NaN.

extension TrainingReport {
    /// One line of a `LineChart`: a value per epoch, `nil` (or non-finite) where there is none.
    struct Series {
        var name: String
        var color: String
        var dashed = false
        var values: [Double?]
    }

    /// The three learning-curve charts. A series without any value (validation curves of a run
    /// without validation data) is left out, legend included; the loss is on a log scale.
    func lineCharts() -> [LineChart] {
        let epochs = history.epochs
        let numbers = epochs.map(\.epoch)
        let loss = LineChart(
            title: "Loss per epoch", yLabel: "loss", epochs: numbers,
            series: [
                Series(name: "train loss", color: Self.blue, values: epochs.map(\.trainLoss)),
                Series(name: "validation loss", color: Self.orange, values: epochs.map(\.validationLoss)),
            ],
            bestEpoch: history.markedEpoch, bounds: 0...Double.greatestFiniteMagnitude, logScale: .always)
        let accuracy = LineChart(
            title: "Accuracy and macro-F1 per epoch", yLabel: "score", epochs: numbers,
            series: [
                Series(name: "train accuracy", color: Self.blue, dashed: true, values: epochs.map(\.trainAccuracy)),
                Series(name: "validation accuracy", color: Self.orange, values: epochs.map(\.validationAccuracy)),
                Series(name: "validation macro-F1", color: Self.green, values: epochs.map(\.validationMacroF1)),
            ],
            bestEpoch: history.markedEpoch, bounds: 0...1)
        let learningRate = LineChart(
            title: "Learning rate per epoch", yLabel: "learning rate", epochs: numbers,
            series: [Series(name: "learning rate", color: Self.purple, values: epochs.map(\.learningRate))],
            bestEpoch: history.markedEpoch, logScale: .whenWide)
        var charts = [loss, accuracy, learningRate]
        if members.count > 1 { charts.append(memberChart()) }
        return charts.map { chart in
            var chart = chart
            let present = chart.series.filter { $0.values.contains { $0?.isFinite == true } }
            if !present.isEmpty { chart.series = present }
            return chart
        }
    }

    /// One line per ensemble member: validation accuracy, or training loss (log scale) when no
    /// member has validation data. Members stop early at different epochs; a shorter one ends
    /// where it stopped.
    func memberChart() -> LineChart {
        let validated = members.contains { $0.epochs.contains { $0.validationAccuracy?.isFinite == true } }
        let longest = members.map(\.epochs.count).max() ?? 0
        let series = members.enumerated().map { index, member in
            let values = member.epochs.map { validated ? $0.validationAccuracy : $0.trainLoss }
            return Series(
                name: "member \(index + 1)", color: Self.palette[index % Self.palette.count],
                dashed: index >= Self.palette.count, values: values + [Double?](repeating: nil, count: longest - values.count))
        }
        return validated
            ? LineChart(
                title: "Validation accuracy per epoch, every ensemble member", yLabel: "validation accuracy",
                epochs: Array(1...max(1, longest)), series: series, bounds: 0...1)
            : LineChart(
                title: "Training loss per epoch, every ensemble member (no validation data)", yLabel: "train loss",
                epochs: Array(1...max(1, longest)), series: series, bounds: 0...Double.greatestFiniteMagnitude,
                logScale: .always)
    }

    /// Member colours, in order (then again, dashed).
    static let palette = [blue, orange, green, purple, "#d62728", "#8c564b", "#e377c2", "#17becf", "#bcbd22", grey]

    static let blue = "#1f77b4"
    static let orange = "#ff7f0e"
    static let green = "#2ca02c"
    static let purple = "#9467bd"
    static let grey = "#9e9e9e"

    /// A line chart of per-epoch values with axes, ticks, a legend and a best-epoch marker.
    struct LineChart {
        var title: String
        var yLabel: String
        var epochs: [Int]
        var series: [Series]
        var bestEpoch: Int?
        /// The y axis never extends past these bounds (e.g. 0...1 for scores).
        var bounds: ClosedRange<Double>? = nil
        /// When the y axis is logarithmic (only ever when every value is positive).
        var logScale = LogScale.never

        enum LogScale {
            /// Always linear.
            case never
            /// Logarithmic when the values span more than 10×.
            case whenWide
            /// Logarithmic (a loss: its later epochs would be a flat line near 0 on a linear axis).
            case always
        }

        static let width = 720.0
        static let height = 300.0
        static let left = 72.0
        static let right = 20.0
        static let top = 40.0
        static let bottom = 46.0

        func svg() -> String {
            let plotWidth = Self.width - Self.left - Self.right
            let plotHeight = Self.height - Self.top - Self.bottom
            let finite = series.flatMap { $0.values.compactMap { $0 }.filter(\.isFinite) }
            let positive = finite.filter { $0 > 0 }
            let allPositive = positive.count == finite.count && !positive.isEmpty
            let logarithmic = allPositive
                && (logScale == .always && positive.max()! > positive.min()! || logScale == .whenWide && positive.max()! > 10 * positive.min()!)
            let yAxis = logarithmic ? Axis.logarithmic(positive) : Axis.linear(finite, bounds: bounds)
            let xAxis = Axis.epochs(epochs)
            func x(_ value: Double) -> Double { Self.left + xAxis.fraction(value) * plotWidth }
            func y(_ value: Double) -> Double { Self.top + (1 - yAxis.fraction(value)) * plotHeight }

            var svg = SVG(width: Self.width, height: Self.height, title: title)
            // Grid and y ticks.
            for (tick, label) in zip(yAxis.ticks, yAxis.labels) {
                let position = y(tick)
                svg.line(Self.left, position, Self.left + plotWidth, position, stroke: "#e6e6e6")
                svg.line(Self.left - 5, position, Self.left, position, stroke: "#333333")
                svg.text(label, Self.left - 8, position + 4, anchor: "end")
            }
            for (tick, label) in zip(xAxis.ticks, xAxis.labels) {
                let position = x(tick)
                svg.line(position, Self.top + plotHeight, position, Self.top + plotHeight + 5, stroke: "#333333")
                svg.text(label, position, Self.top + plotHeight + 18, anchor: "middle")
            }
            svg.line(Self.left, Self.top, Self.left, Self.top + plotHeight, stroke: "#333333")
            svg.line(Self.left, Self.top + plotHeight, Self.left + plotWidth, Self.top + plotHeight, stroke: "#333333")
            svg.text("epoch", Self.left + plotWidth / 2, Self.height - 8, anchor: "middle")
            let yTitle = yLabel + (logarithmic ? " (log scale)" : "")
            svg.text(yTitle, 16, Self.top + plotHeight / 2, anchor: "middle", rotate: true)

            // Best-epoch marker.
            var legend = series.map { (name: $0.name, color: $0.color, dashed: $0.dashed) }
            if let bestEpoch, let index = epochs.firstIndex(of: bestEpoch) {
                let position = x(Double(epochs[index]))
                svg.line(position, Self.top, position, Self.top + plotHeight, stroke: "#555555", dashes: "3 3")
                legend.append((name: "best epoch (\(bestEpoch))", color: "#555555", dashed: true))
            }

            // Lines: a path per run of present values, a dot per point when there are few
            // points or the point stands alone.
            for line in series {
                var runs: [[(Double, Double)]] = [[]]
                for (epoch, value) in zip(epochs, line.values) {
                    if let value, value.isFinite, !logarithmic || value > 0 {
                        runs[runs.count - 1].append((x(Double(epoch)), y(value)))
                    } else if !runs[runs.count - 1].isEmpty {
                        runs.append([])
                    }
                }
                let drawn = runs.filter { !$0.isEmpty }
                let path = drawn.filter { $0.count > 1 }.map { run in
                    run.enumerated().map { "\($0 == 0 ? "M" : "L")\(SVG.number($1.0)) \(SVG.number($1.1))" }
                        .joined(separator: " ")
                }
                if !path.isEmpty {
                    svg.path(path.joined(separator: " "), stroke: line.color, dashes: line.dashed ? "6 4" : nil)
                }
                for run in drawn where run.count == 1 || epochs.count <= 40 {
                    for (px, py) in run { svg.circle(px, py, radius: 3, fill: line.color) }
                }
            }
            if finite.isEmpty {
                svg.text("no data", Self.left + plotWidth / 2, Self.top + plotHeight / 2, anchor: "middle")
            }
            svg.legend(legend, x: Self.left, y: 16)
            return svg.finished()
        }
    }

    /// A grouped horizontal bar chart of the class counts before and after balancing.
    func classCountChart(rowCount: Int) -> String {
        let barHeight = 12.0
        let groupHeight = 2 * barHeight + 10
        let left = 170.0
        let right = 60.0
        let top = 40.0
        let bottom = 40.0
        let width = 720.0
        let plotWidth = width - left - right
        let height = top + Double(rowCount) * groupHeight + bottom
        let largest = (countsBefore + countsAfter).max() ?? 0
        let axis = Axis.linear([0, Double(max(largest, 1))], bounds: 0...Double.greatestFiniteMagnitude)

        var svg = SVG(width: width, height: height, title: "Samples per class before and after balancing")
        let plotBottom = top + Double(rowCount) * groupHeight
        for (tick, label) in zip(axis.ticks, axis.labels) {
            let position = left + axis.fraction(tick) * plotWidth
            svg.line(position, top, position, plotBottom, stroke: "#e6e6e6")
            svg.line(position, plotBottom, position, plotBottom + 5, stroke: "#333333")
            svg.text(label, position, plotBottom + 18, anchor: "middle")
        }
        for index in 0..<rowCount {
            let groupTop = top + Double(index) * groupHeight + 5
            var name = className(index)
            if name.count > 24 { name = String(name.prefix(23)) + "…" }
            svg.text(name, left - 8, groupTop + barHeight + 4, anchor: "end")
            let bars = [(0.0, countsBefore, TrainingReport.grey), (barHeight, countsAfter, TrainingReport.blue)]
            for (offset, counts, color) in bars where index < counts.count {
                let length = max(axis.fraction(Double(counts[index])) * plotWidth, 0)
                let barTop = groupTop + offset
                svg.rect(left, barTop, length, barHeight - 1, fill: color)
                svg.text(String(counts[index]), left + length + 4, barTop + barHeight - 2, anchor: "start")
            }
        }
        svg.line(left, top, left, plotBottom, stroke: "#333333")
        svg.line(left, plotBottom, left + plotWidth, plotBottom, stroke: "#333333")
        svg.text("samples", left + plotWidth / 2, height - 8, anchor: "middle")
        svg.legend(
            [(name: "before balancing", color: TrainingReport.grey, dashed: false),
             (name: "after balancing", color: TrainingReport.blue, dashed: false)],
            x: left, y: 16)
        return svg.finished()
    }

    /// A chart axis: a domain, its ticks and tick labels, and the map to 0...1.
    struct Axis {
        var lower: Double
        var upper: Double
        var logarithmic = false
        var ticks: [Double] = []
        var labels: [String] = []

        /// Where `value` falls between `lower` (0) and `upper` (1).
        func fraction(_ value: Double) -> Double {
            if logarithmic { return (log10(value) - log10(lower)) / (log10(upper) - log10(lower)) }
            return (value - lower) / (upper - lower)
        }

        /// A linear axis covering `values` with "nice" ticks (steps of 1, 2 or 5 × 10ⁿ), clamped to
        /// `bounds`; 0...1 when there are no values.
        static func linear(_ values: [Double], bounds: ClosedRange<Double>? = nil) -> Axis {
            var low = values.min() ?? 0
            var high = values.max() ?? 1
            if low == high {
                let pad = low == 0 ? 1 : abs(low) * 0.1
                low -= pad
                high += pad
            }
            let step = niceStep(high / 5 - low / 5)
            let roundedLow = (low / step).rounded(.down) * step
            let roundedHigh = (high / step).rounded(.up) * step
            if roundedLow.isFinite, roundedHigh.isFinite {
                low = roundedLow
                high = roundedHigh
            }
            if let bounds {
                low = min(max(low, bounds.lowerBound), bounds.upperBound)
                high = max(min(high, bounds.upperBound), bounds.lowerBound)
                if low >= high { high = low + step }
            }
            let places = max(0, -Int(log10(step).rounded(.down)))
            var axis = Axis(lower: low, upper: high)
            var index = (low / step - 1e-9).rounded(.up)
            while index * step <= high + step * 1e-9, axis.ticks.count < 50 {
                let tick = abs(index * step) < step * 1e-9 ? 0 : index * step
                axis.ticks.append(tick)
                axis.labels.append(TrainingReport.decimal(tick, places: places))
                index += 1
            }
            return axis
        }

        /// A base-10 logarithmic axis from the power of ten at or below the smallest value to the
        /// one at or above the largest, with a tick per decade (per few decades when many).
        static func logarithmic(_ values: [Double]) -> Axis {
            let low = log10(values.min()!).rounded(.down)
            var high = log10(values.max()!).rounded(.up)
            if high <= low { high = low + 1 }
            var axis = Axis(lower: pow(10, low), upper: pow(10, high), logarithmic: true)
            let stride = max(1, Int(((high - low) / 6).rounded(.up)))
            for exponent in Swift.stride(from: Int(low), through: Int(high), by: stride) {
                let tick = pow(10, Double(exponent))
                axis.ticks.append(tick)
                axis.labels.append((-4...4).contains(exponent) ? String(format: "%g", tick) : "1e\(exponent)")
            }
            return axis
        }

        /// The epoch axis: from the first to the last epoch, padded by half an epoch when there is
        /// only one, with whole-number ticks.
        static func epochs(_ epochs: [Int]) -> Axis {
            let first = Double(epochs.min() ?? 1)
            let last = Double(epochs.max() ?? 1)
            var axis = first == last ? Axis(lower: first - 0.5, upper: last + 0.5) : Axis(lower: first, upper: last)
            let step = max(1, niceStep((last - first) / 8))
            var tick = (first / step).rounded(.up) * step
            if tick > first, first == 1 { axis.ticks.append(1); axis.labels.append("1") }
            while tick <= last {
                axis.ticks.append(tick)
                axis.labels.append(String(Int(tick)))
                tick += step
            }
            return axis
        }

        /// The smallest of 1, 2, 5 × 10ⁿ at or above `raw` (at least a tiny positive step).
        static func niceStep(_ raw: Double) -> Double {
            guard raw.isFinite, raw > 0 else { return 1 }
            let magnitude = pow(10, log10(raw).rounded(.down))
            let residual = raw / magnitude
            let nice: Double = residual <= 1 ? 1 : residual <= 2 ? 2 : residual <= 5 ? 5 : 10
            return nice * magnitude
        }
    }

    /// A minimal SVG writer: elements are appended as well-formed XML with escaped text.
    struct SVG {
        private var body = ""
        private let width: Double
        private let height: Double
        private let title: String

        init(width: Double, height: Double, title: String) {
            self.width = width
            self.height = height
            self.title = title
        }

        /// A coordinate with two decimals; never NaN because callers map finite values only.
        static func number(_ value: Double) -> String {
            precondition(value.isFinite, "SVG coordinate must be finite")
            return TrainingReport.decimal(value, places: 2)
        }

        mutating func line(
            _ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Int = 1,
            dashes: String? = nil
        ) {
            let dash = dashes.map { " stroke-dasharray=\"\($0)\"" } ?? ""
            body += "<line x1=\"\(Self.number(x1))\" y1=\"\(Self.number(y1))\" x2=\"\(Self.number(x2))\" "
                + "y2=\"\(Self.number(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(width)\"\(dash)/>\n"
        }

        mutating func path(_ data: String, stroke: String, dashes: String?) {
            let dash = dashes.map { " stroke-dasharray=\"\($0)\"" } ?? ""
            body += "<path d=\"\(data)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"2\" "
                + "stroke-linejoin=\"round\"\(dash)/>\n"
        }

        mutating func circle(_ cx: Double, _ cy: Double, radius: Double, fill: String) {
            body += "<circle cx=\"\(Self.number(cx))\" cy=\"\(Self.number(cy))\" r=\"\(Self.number(radius))\" "
                + "fill=\"\(fill)\"/>\n"
        }

        mutating func rect(_ x: Double, _ y: Double, _ width: Double, _ height: Double, fill: String) {
            body += "<rect x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" width=\"\(Self.number(width))\" "
                + "height=\"\(Self.number(height))\" fill=\"\(fill)\"/>\n"
        }

        mutating func text(_ content: String, _ x: Double, _ y: Double, anchor: String, rotate: Bool = false) {
            let transform = rotate ? " transform=\"rotate(-90 \(Self.number(x)) \(Self.number(y)))\"" : ""
            body += "<text x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" text-anchor=\"\(anchor)\"\(transform)>"
                + "\(TrainingReport.escape(content))</text>\n"
        }

        /// A row of legend entries (a short line and the name) starting at (`x`, `y`).
        mutating func legend(_ entries: [(name: String, color: String, dashed: Bool)], x: Double, y: Double) {
            var position = x
            for entry in entries {
                let dashes = entry.dashed ? "6 4" : nil
                line(position, y - 4, position + 22, y - 4, stroke: entry.color, width: 2, dashes: dashes)
                text(entry.name, position + 28, y, anchor: "start")
                position += 28 + Double(entry.name.count) * 7 + 18
            }
        }

        func finished() -> String {
            let w = Self.number(width)
            let h = Self.number(height)
            return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h)\" viewBox=\"0 0 \(w) \(h)\" "
                + "role=\"img\">\n<title>\(TrainingReport.escape(title))</title>\n" + body + "</svg>"
        }
    }
}
