import Foundation
import LSTMKit

/// The report written next to a trained model: the recipe, the learning curves, the class balance
/// and the validation metrics of the model that was kept, as one self-contained HTML page.
public struct TrainingReport: Sendable {
    /// The page title, e.g. the model file name.
    public var title: String
    /// The training recipe as key–value pairs, shown in this order.
    public var settings: [(key: String, value: String)]
    /// The epochs of the run.
    public var history: TrainingHistory
    /// The class names; index `k` names class `k` in `countsBefore`, `countsAfter` and `validation`.
    public var classNames: [String]
    /// The number of training-split samples per class before balancing.
    public var countsBefore: [Int]
    /// The number of training-split samples per class after balancing.
    public var countsAfter: [Int]
    /// The metrics of the restored best model on the validation split, or `nil` without one.
    public var validation: ClassificationMetrics?
    /// Free-form remarks shown near the top (warnings, provenance), one paragraph each.
    public var notes: [String]
    /// The training data's summary and suggestions (`DataSummary`), or `nil`.
    public var data: DataSummary?
    /// The `lstmctl tune` search that chose the recipe, shown beside the summary (nil for `train`).
    public var search: TuningResult? = nil
    /// Every ensemble member's history, member 0 first (empty for a single model). `history` is
    /// member 0's; these add a chart of every member's curve.
    public var members: [TrainingHistory] = []

    /// Creates a report.
    ///
    /// - Parameters:
    ///   - title: The page title, e.g. the model file name.
    ///   - settings: The training recipe, in display order.
    ///   - history: The epochs of the run.
    ///   - classNames: The class names.
    ///   - countsBefore: Training samples per class before balancing (may be empty).
    ///   - countsAfter: Training samples per class after balancing (may be empty).
    ///   - validation: Validation metrics of the kept model, or `nil`.
    ///   - notes: Remarks shown near the top.
    ///   - data: The training data's summary and suggestions.
    public init(
        title: String, settings: [(key: String, value: String)] = [], history: TrainingHistory,
        classNames: [String], countsBefore: [Int] = [], countsAfter: [Int] = [],
        validation: ClassificationMetrics? = nil, notes: [String] = [], data: DataSummary? = nil
    ) {
        self.title = title
        self.settings = settings
        self.history = history
        self.classNames = classNames
        self.countsBefore = countsBefore
        self.countsAfter = countsAfter
        self.validation = validation
        self.notes = notes
        self.data = data
    }

    /// One self-contained HTML5 page: no external resources and no JavaScript.
    ///
    /// In this order: the title and a summary, the notes (warnings first), inline SVG line charts
    /// of (1) train and validation loss (log scale), (2) train and validation accuracy and
    /// validation macro-F1, (3) the learning rate (log scale when it spans more than 10×), each
    /// with axes, ticks, a legend listing only the series the run has, and a marker at the best
    /// epoch; the validation confusion matrix as a table shaded by row-normalised value, with
    /// per-class precision, recall and F1; the training data's summary and suggestions; the class
    /// counts before and after balancing as a table and a bar chart; a table of all epochs; and
    /// last the settings table.
    ///
    /// All text is HTML-escaped. Missing or non-finite values leave gaps in the charts and show as
    /// "—" in tables, so no coordinate is NaN. Equal input gives byte-identical output: numbers
    /// have fixed precision and the page holds no dates.
    public func html() -> String {
        var page = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Training report: \(Self.escape(title))</title>
            <style>\(Self.styleSheet)</style>
            </head>
            <body>
            <h1>Training report: \(Self.escape(title))</h1>

            """
        page += summarySection()
        if let search { page += searchSection(search) }
        if !notes.isEmpty {
            page += "<section id=\"notes\">\n<h2>Notes</h2>\n"
            page += notes.map { "<p class=\"note\">\(Self.escape($0))</p>\n" }.joined()
            page += "</section>\n"
        }
        page += curvesSection()
        page += validationSection()
        page += dataSection()
        page += classBalanceSection()
        page += epochsSection()
        page += settingsSection()
        page += "</body>\n</html>\n"
        return page
    }

    /// Writes `html()` to `url` atomically (temporary file, `fsync`, `rename`), so readers see
    /// the old report or the new one, never half of one.
    ///
    /// - Throws: `ModelError(.io)` when the file cannot be written.
    public func write(to url: URL) throws {
        try AtomicFile.write(Array(html().utf8), to: url)
    }

    // MARK: - Sections

    private func summarySection() -> String {
        var rows: [(String, String)] = [("Epochs run", String(history.epochs.count))]
        if history.bestEpoch != nil { rows.append(("Kept weights", history.keptSummary)) }
        rows.append(("Stopped early", history.stoppedEarly ? "yes" : "no"))
        rows.append(("Classes", String(classNames.count)))
        if let last = history.epochs.last {
            rows.append(("Final train loss", Self.decimal(last.trainLoss)))
            rows.append(("Final train accuracy", Self.decimal(last.trainAccuracy)))
        }
        if let record = history.bestRecord ?? history.epochs.last {
            if let loss = record.validationLoss { rows.append(("Validation loss (kept epoch)", Self.decimal(loss))) }
        }
        if let validation {
            rows.append(("Validation accuracy", Self.decimal(validation.accuracy)))
            rows.append(("Validation balanced accuracy", Self.decimal(validation.balancedAccuracy)))
            rows.append(("Validation macro-F1", Self.decimal(validation.macroF1)))
            rows.append(("Validation samples", String(validation.count)))
        }
        let seconds = history.epochs.reduce(0) { $0 + ($1.seconds.isFinite ? $1.seconds : 0) }
        rows.append(("Training time", Self.decimal(seconds, places: 1) + " s"))
        var html = "<section id=\"summary\">\n<h2>Summary</h2>\n<table class=\"keyvalue\">\n"
        for (key, value) in rows {
            html += "<tr><th>\(Self.escape(key))</th><td>\(Self.escape(value))</td></tr>\n"
        }
        return html + "</table>\n</section>\n"
    }

    private func dataSection() -> String {
        guard let data else { return "" }
        var html = "<section id=\"data\">\n<h2>Training data</h2>\n<table class=\"keyvalue\">\n"
        for (key, value) in data.rows {
            html += "<tr><th>\(Self.escape(key))</th><td>\(Self.escape(value))</td></tr>\n"
        }
        html += "</table>\n"
        html += data.suggestions.map { "<p class=\"note\">Suggestion: \(Self.escape($0))</p>\n" }.joined()
        return html + "</section>\n"
    }

    private func settingsSection() -> String {
        var html = "<section id=\"settings\">\n<h2>Settings</h2>\n"
        guard !settings.isEmpty else { return html + "<p class=\"empty\">No settings recorded.</p>\n</section>\n" }
        html += "<table class=\"keyvalue\">\n"
        for setting in settings {
            html += "<tr><th>\(Self.escape(setting.key))</th><td>\(Self.escape(setting.value))</td></tr>\n"
        }
        return html + "</table>\n</section>\n"
    }

    private func curvesSection() -> String {
        var html = "<section id=\"curves\">\n<h2>Training curves</h2>\n"
        if members.count > 1 {
            html += "<p class=\"note\">An ensemble of \(members.count) members: the first charts and the epoch table "
                + "are member 1's; the last chart shows every member.</p>\n"
        }
        for chart in lineCharts() {
            html += "<figure>\n\(chart.svg())\n<figcaption>\(Self.escape(chart.title))</figcaption>\n</figure>\n"
        }
        return html + "</section>\n"
    }

    private func classBalanceSection() -> String {
        var html = "<section id=\"classes\">\n<h2>Class balance of the training split</h2>\n"
        let rowCount = max(classNames.count, countsBefore.count, countsAfter.count)
        guard rowCount > 0, !(countsBefore.isEmpty && countsAfter.isEmpty) else {
            return html + "<p class=\"empty\">No class counts recorded.</p>\n</section>\n"
        }
        html += "<table class=\"numbers\">\n<thead><tr><th>Class</th><th>Before balancing</th>"
            + "<th>After balancing</th></tr></thead>\n<tbody>\n"
        for index in 0..<rowCount {
            html += "<tr><th>\(Self.escape(className(index)))</th>"
                + "<td>\(Self.count(countsBefore, index))</td><td>\(Self.count(countsAfter, index))</td></tr>\n"
        }
        html += "<tr class=\"total\"><th>Total</th><td>\(countsBefore.reduce(0, +))</td>"
            + "<td>\(countsAfter.reduce(0, +))</td></tr>\n</tbody>\n</table>\n"
        html += "<figure>\n\(classCountChart(rowCount: rowCount))\n"
            + "<figcaption>Samples per class before and after balancing</figcaption>\n</figure>\n"
        return html + "</section>\n"
    }

    private func validationSection() -> String {
        var html = "<section id=\"validation\">\n<h2>Validation</h2>\n"
        guard let validation else {
            return html + "<p class=\"empty\">No validation metrics: training ran without a validation split.</p>\n"
                + "</section>\n"
        }
        html += "<p>Accuracy <b>\(Self.decimal(validation.accuracy))</b>, "
            + "balanced accuracy <b>\(Self.decimal(validation.balancedAccuracy))</b>, "
            + "macro-F1 <b>\(Self.decimal(validation.macroF1))</b> on \(validation.count) samples.</p>\n"
        html += "<h3>Confusion matrix</h3>\n<p class=\"hint\">Rows are true classes, columns predicted classes; "
            + "shading is the share of the row.</p>\n"
        html += confusionTable(validation)
        html += "<h3>Per class</h3>\n<table class=\"numbers\">\n<thead><tr><th>Class</th><th>Precision</th>"
            + "<th>Recall</th><th>F1</th><th>Support</th></tr></thead>\n<tbody>\n"
        for index in validation.classNames.indices {
            html += "<tr><th>\(Self.escape(validation.classNames[index]))</th>"
                + Self.cells([
                    Self.decimal(validation.precision[index]), Self.decimal(validation.recall[index]),
                    Self.decimal(validation.f1[index]), String(validation.support[index]),
                ])
                + "</tr>\n"
        }
        return html + "</tbody>\n</table>\n</section>\n"
    }

    private func confusionTable(_ metrics: ClassificationMetrics) -> String {
        let names = metrics.classNames.map(Self.escape)
        var html = "<table class=\"confusion\">\n<thead><tr><th>true \\ predicted</th>"
        html += names.map { "<th>\($0)</th>" }.joined() + "<th>Support</th></tr></thead>\n<tbody>\n"
        let shares = metrics.rowNormalizedConfusionMatrix
        for (row, counts) in metrics.confusionMatrix.enumerated() {
            html += "<tr><th>\(names[row])</th>"
            for (column, count) in counts.enumerated() {
                let share = shares[row][column]
                let text = share > 0.55 ? "#ffffff" : "#222222"
                let percent = Self.decimal(share * 100, places: 1)
                html += "<td style=\"background-color: rgba(31, 119, 180, \(Self.decimal(share, places: 3))); "
                    + "color: \(text)\" title=\"true \(names[row]), predicted \(names[column]): \(count) "
                    + "(\(percent)% of the row)\">\(count)</td>"
            }
            html += "<td class=\"support\">\(metrics.support[row])</td></tr>\n"
        }
        return html + "</tbody>\n</table>\n"
    }

    private func epochsSection() -> String {
        var html = "<section id=\"epochs\">\n<h2>Epochs</h2>\n"
        guard !history.epochs.isEmpty else { return html + "<p class=\"empty\">No epochs recorded.</p>\n</section>\n" }
        let count = history.epochs.count
        html += "<details>\n<summary>\(count == 1 ? "The epoch" : "All \(count) epochs")</summary>\n"
            + "<table class=\"numbers\">\n<thead><tr><th>Epoch</th><th>Train loss</th><th>Train accuracy</th><th>Validation loss</th>"
            + "<th>Validation accuracy</th><th>Validation macro-F1</th><th>Learning rate</th><th>Seconds</th>"
            + "</tr></thead>\n<tbody>\n"
        for record in history.epochs {
            let best = record.epoch == history.bestEpoch ? " class=\"best\"" : ""
            html += "<tr\(best)><th>\(record.epoch)</th>"
                + Self.cells([
                    Self.decimal(record.trainLoss), Self.decimal(record.trainAccuracy),
                    Self.decimal(record.validationLoss), Self.decimal(record.validationAccuracy),
                    Self.decimal(record.validationMacroF1), Self.significant(record.learningRate),
                    Self.decimal(record.seconds, places: 2),
                ])
                + "</tr>\n"
        }
        return html + "</tbody>\n</table>\n</details>\n</section>\n"
    }

    /// The name of class `index`, or `class <index>` past the end of `classNames`.
    func className(_ index: Int) -> String {
        index < classNames.count ? classNames[index] : "class \(index)"
    }

    /// `<td>` cells holding `values`, which must already be HTML-safe.
    private static func cells(_ values: [String]) -> String {
        values.map { "<td>\($0)</td>" }.joined()
    }

    private static func count(_ counts: [Int], _ index: Int) -> String {
        index < counts.count ? String(counts[index]) : "—"
    }

    // MARK: - Text

    /// `text` with `&`, `<`, `>`, `"` and `'` replaced by character references, safe in HTML and
    /// SVG text and in quoted attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// `value` with `places` decimals, or "—" when it is missing or not finite.
    static func decimal(_ value: Double?, places: Int = 4) -> String {
        guard let value, value.isFinite else { return "—" }
        let text = String(format: "%.\(places)f", value)
        // "-0.0000" reads as a sign error; a value that rounds to zero is zero.
        let roundsToZero = text.allSatisfy { $0 == "-" || $0 == "0" || $0 == "." }
        return text.hasPrefix("-") && roundsToZero ? String(text.dropFirst()) : text
    }

    /// `value` with three significant digits (`0.001`, `3e-05`), or "—" when it is not finite.
    static func significant(_ value: Double) -> String {
        value.isFinite ? String(format: "%.3g", value) : "—"
    }

    private static let styleSheet = """

        body { font-family: sans-serif; color: #222; margin: 2em auto; max-width: 60em; padding: 0 1em; }
        h1 { font-size: 1.6em; word-break: break-all; }
        h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.8em; }
        table { border-collapse: collapse; margin: 0.5em 0; }
        th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; }
        th { background: #f4f4f4; text-align: left; font-weight: 600; }
        table.numbers td, table.confusion td { text-align: right; font-variant-numeric: tabular-nums; }
        table.keyvalue td { font-family: monospace; }
        table.confusion td { min-width: 3em; }
        tr.best th, tr.best td { background: #fff3c4; }
        tr.total th, tr.total td { font-weight: 600; }
        td.support { background: #f4f4f4; }
        figure { margin: 1em 0; }
        figcaption, .hint, .empty { color: #666; font-size: 0.9em; }
        .note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.4em 0.8em; }
        svg { max-width: 100%; height: auto; }
        svg text { font-family: sans-serif; font-size: 12px; fill: #333; }

        """
}
