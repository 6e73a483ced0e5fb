import Foundation
import LSTMKit
import Testing

@testable import LSTMTraining

#if canImport(FoundationXML)
import FoundationXML
#endif

/// A report over `epochCount` epochs; validation values are missing on every third epoch when
/// `gaps` is set, and entirely when `validation` is false.
private func makeReport(
    epochCount: Int = 12, validation: Bool = true, gaps: Bool = false,
    classNames: [String] = ["walking", "running", "standing"], learningRates: ((Int) -> Double)? = nil
) -> TrainingReport {
    let epochs = (1...max(epochCount, 1)).prefix(epochCount).map { epoch -> EpochRecord in
        let hasValidation = validation && !(gaps && epoch % 3 == 0)
        return EpochRecord(
            epoch: epoch, trainLoss: 1.2 / Double(epoch), trainAccuracy: 1 - 0.5 / Double(epoch),
            validationLoss: hasValidation ? 1.4 / Double(epoch) + 0.05 : nil,
            validationAccuracy: hasValidation ? 0.9 - 0.4 / Double(epoch) : nil,
            validationMacroF1: hasValidation ? 0.88 - 0.4 / Double(epoch) : nil,
            learningRate: learningRates?(epoch) ?? 0.001, seconds: 0.25)
    }
    let metrics = validation
        ? ClassificationMetrics(
            predictions: [0, 0, 1, 0, 1, 1, 0, 2, 2, 1], labels: [0, 0, 0, 0, 1, 1, 1, 2, 2, 2],
            classNames: classNames)
        : nil
    return TrainingReport(
        title: "basic-motions.safetensors",
        settings: [(key: "epochs", value: "\(epochCount)"), (key: "hidden size", value: "32"), (key: "balance", value: "oversample")],
        history: TrainingHistory(epochs: epochs, bestEpoch: epochCount >= 1 ? min(epochCount, 3) : nil, stoppedEarly: true),
        classNames: classNames, countsBefore: [40, 12, 7], countsAfter: [40, 40, 40], validation: metrics,
        notes: ["Trained on a small split & checked by hand."])
}

/// The `<svg>…</svg>` fragments of a page.
private func svgFragments(_ html: String) -> [String] {
    var fragments: [String] = []
    var rest = html[...]
    while let start = rest.range(of: "<svg "), let end = rest.range(of: "</svg>", range: start.upperBound..<rest.endIndex) {
        fragments.append(String(rest[start.lowerBound..<end.upperBound]))
        rest = rest[end.upperBound...]
    }
    return fragments
}

/// Parses one SVG fragment as XML and records its elements and attributes.
private final class SVGDocument: NSObject, XMLParserDelegate {
    private(set) var elements: [(name: String, attributes: [String: String])] = []

    init?(_ text: String) {
        super.init()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = self
        guard parser.parse() else { return nil }
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
        qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]
    ) {
        elements.append((elementName, attributeDict))
    }

    func count(_ name: String) -> Int { elements.filter { $0.name == name }.count }

    /// Every number in a coordinate attribute or path, as written.
    var coordinates: [String] {
        let keys = ["x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "width", "height"]
        return elements.flatMap { element in
            keys.compactMap { element.attributes[$0] }
                + (element.attributes["d"] ?? "").split(whereSeparator: { $0 == " " || $0 == "M" || $0 == "L" }).map(String.init)
        }
    }
}

@Suite("TrainingReport")
struct TrainingReportTests {
    @Test("the page has four well-formed SVG charts with finite coordinates")
    func wellFormedCharts() throws {
        let html = makeReport().html()
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.hasSuffix("</html>\n"))
        let fragments = svgFragments(html)
        // Loss, accuracy, learning rate, class counts.
        #expect(fragments.count == 4)
        #expect(html.components(separatedBy: "<svg ").count - 1 == 4)
        #expect(html.components(separatedBy: "</svg>").count - 1 == 4)
        for fragment in fragments {
            let document = try #require(SVGDocument(fragment), "not well-formed XML:\n\(fragment)")
            #expect(document.elements.first?.name == "svg")
            #expect(document.count("text") > 3)
            for number in document.coordinates {
                #expect(Double(number).map(\.isFinite) == true, "coordinate \(number)")
            }
        }
        let loss = try #require(SVGDocument(fragments[0]))
        // Two series, one path each, and a dot per epoch each (12 epochs is few enough).
        #expect(loss.count("path") == 2)
        #expect(loss.count("circle") == 24)
    }

    @Test("the page holds the title, settings, notes, legend, best-epoch marker and class counts")
    func content() {
        let html = makeReport().html()
        #expect(html.contains("<title>Training report: basic-motions.safetensors</title>"))
        #expect(html.contains("<tr><th>hidden size</th><td>32</td></tr>"))
        #expect(html.contains("Trained on a small split &amp; checked by hand."))
        for legend in ["train loss", "validation loss", "validation accuracy", "validation macro-F1", "learning rate"] {
            #expect(html.contains(">\(legend)</text>"), "legend \(legend)")
        }
        #expect(html.contains(">best epoch (3)</text>"))
        #expect(html.contains("<tr><th>running</th><td>12</td><td>40</td></tr>"))
        #expect(!html.contains("<script"))
        #expect(html.components(separatedBy: "http://").count - 1 == 4)  // the SVG namespace only
    }

    @Test("the confusion matrix is shaded by the row-normalised value")
    func confusionShading() {
        let html = makeReport().html()
        // Row "walking": 3 of 4 correct → 0.75; row "standing": 2 of 3 → 0.667.
        #expect(html.contains("rgba(31, 119, 180, 0.750); color: #ffffff\" title=\"true walking, predicted walking: 3 (75.0% of the row)\">3</td>"))
        #expect(html.contains("rgba(31, 119, 180, 0.000); color: #222222\" title=\"true walking, predicted standing: 0"))
        #expect(html.contains("rgba(31, 119, 180, 0.667)"))
        #expect(html.contains("<tr><th>running</th><td>0.5000</td><td>0.6667</td><td>0.5714</td><td>3</td></tr>"))
    }

    @Test("a class name is HTML-escaped everywhere, including inside SVG")
    func escaping() throws {
        let hostile = "<script>alert('x')</script>"
        let html = makeReport(classNames: ["walking", hostile, "a & b"]).html()
        #expect(!html.contains("<script"))
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"))
        #expect(html.contains("a &amp; b"))
        for fragment in svgFragments(html) { #expect(SVGDocument(fragment) != nil) }
    }

    @Test("missing validation values leave gaps, never NaN or infinity", arguments: [false, true])
    func missingValidation(gaps: Bool) throws {
        let html = makeReport(validation: gaps, gaps: gaps).html()
        let lowered = html.lowercased()
        #expect(!lowered.contains("nan"))
        #expect(!lowered.contains("inf"))
        let loss = try #require(SVGDocument(svgFragments(html)[0]))
        let validationPath = loss.elements.first { $0.name == "path" && $0.attributes["stroke"] == TrainingReport.orange }
        if gaps {
            // Epochs 3, 6, 9, 12 are missing: runs 1–2, 4–5, 7–8, 10–11.
            let moves = validationPath?.attributes["d"]?.filter { $0 == "M" }.count
            #expect(moves == 4)
        } else {
            #expect(validationPath == nil)
            #expect(html.contains("No validation metrics"))
        }
    }

    @Test("a diverged, non-finite loss is a gap in the chart and a dash in the table")
    func nonFiniteLoss() throws {
        var report = makeReport(epochCount: 4)
        report.history.epochs[2].trainLoss = .nan
        report.history.epochs[3].trainLoss = .infinity
        let html = report.html()
        #expect(!html.lowercased().contains("nan"))
        #expect(!html.lowercased().contains("inf"))
        let loss = try #require(SVGDocument(svgFragments(html)[0]))
        for number in loss.coordinates { #expect(Double(number)?.isFinite == true) }
        #expect(html.contains("<th>3</th><td>—</td>"))
        #expect(html.contains("<th>4</th><td>—</td>"))
        // Epochs 1–2 remain a line; the non-finite ones are left out.
        let trainPath = loss.elements.first { $0.name == "path" && $0.attributes["stroke"] == TrainingReport.blue }
        #expect(trainPath?.attributes["d"]?.split(separator: " ").count == 4)
        #expect(report.history.epochs[2].json["train_loss"] == .null)
    }

    @Test("one epoch and zero epochs still give four valid charts", arguments: [0, 1])
    func tinyHistories(epochCount: Int) throws {
        let html = makeReport(epochCount: epochCount).html()
        let fragments = svgFragments(html)
        #expect(fragments.count == 4)
        for fragment in fragments {
            let document = try #require(SVGDocument(fragment))
            for number in document.coordinates { #expect(Double(number)?.isFinite == true) }
        }
        let loss = try #require(SVGDocument(fragments[0]))
        #expect(loss.count("circle") == 2 * epochCount)
        #expect(html.contains(">no data</text>") == (epochCount == 0))
        #expect(!html.lowercased().contains("nan"))
    }

    @Test("the learning-rate axis is logarithmic only when the rate spans more than 10x")
    func learningRateScale() throws {
        let decaying = makeReport(learningRates: { 0.01 * pow(0.5, Double($0 - 1)) }).html()
        #expect(decaying.contains(">learning rate (log scale)</text>"))
        #expect(decaying.contains(">0.01</text>"))
        #expect(decaying.contains(">0.0001</text>"))
        let constant = svgFragments(makeReport().html())[2]
        #expect(!constant.contains("(log scale)"))
        #expect(constant.contains(">learning rate</text>"))
    }

    @Test("the loss is on a log scale, so the later epochs are not a flat line at 0")
    func lossScale() throws {
        let loss = svgFragments(makeReport().html())[0]
        #expect(loss.contains(">loss (log scale)</text>"))
        #expect(SVGDocument(loss) != nil)
    }

    @Test("without validation data the legends list only the training series")
    func legendsListPresentSeries() throws {
        let html = makeReport(validation: false).html()
        for legend in ["validation loss", "validation accuracy", "validation macro-F1"] {
            #expect(!html.contains(">\(legend)</text>"), "legend \(legend)")
        }
        #expect(html.contains(">train loss</text>") && html.contains(">train accuracy</text>"))
    }

    @Test("summary, curves and confusion matrix come first, the settings table last")
    func sectionOrder() throws {
        let html = makeReport().html()
        let order = ["id=\"summary\"", "id=\"notes\"", "id=\"curves\"", "id=\"validation\"", "id=\"classes\"", "id=\"epochs\"", "id=\"settings\""]
        let positions = try order.map { try #require(html.range(of: $0)?.lowerBound, "\($0)") }
        #expect(positions == positions.sorted())
    }

    @Test("equal input gives byte-identical output")
    func deterministic() {
        let first = makeReport(gaps: true).html()
        let second = makeReport(gaps: true).html()
        #expect(first == second)
        #expect(Array(first.utf8) == Array(second.utf8))
        #expect(first != makeReport(gaps: false).html())
    }

    @Test("write(to:) creates the file with the page")
    func write() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("lstmd-report-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("model.report.html")
        let report = makeReport()
        try report.write(to: url)
        let written = try String(contentsOf: url, encoding: .utf8)
        #expect(written == report.html())
        // Only the report remains: no temporary file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["model.report.html"])
    }

    @Test("epoch records and histories serialise to snake_case JSON without nil fields")
    func historyJSON() throws {
        let record = EpochRecord(epoch: 2, trainLoss: 0.5, trainAccuracy: 0.75, validationAccuracy: 0.7, learningRate: 0.001, seconds: 1.5)
        let json = try JSONValue.parse(record.json.jsonText)
        #expect(json == .object([
            "epoch": .number(2), "train_loss": .number(0.5), "train_accuracy": .number(0.75),
            "validation_accuracy": .number(0.7), "learning_rate": .number(0.001), "seconds": .number(1.5),
        ]))
        let encoded = try JSONValue.parse(String(decoding: try JSONEncoder().encode(record), as: UTF8.self))
        #expect(encoded == json)
        #expect(try JSONDecoder().decode(EpochRecord.self, from: try JSONEncoder().encode(record)) == record)

        let history = TrainingHistory(epochs: [record], bestEpoch: 2, stoppedEarly: false)
        #expect(history.bestRecord == record)
        #expect(history.json["best_epoch"] == .number(2))
        #expect(history.json["stopped_early"] == .bool(false))
        #expect(history.json["epochs"] == .array([record.json]))
        #expect(TrainingHistory().json["best_epoch"] == .null)
    }
}
