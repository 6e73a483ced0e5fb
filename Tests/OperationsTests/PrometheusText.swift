/// A strict reader of the Prometheus text exposition format, version 0.0.4, for tests.
///
/// Checks each line's syntax (metric and label names, quoted label values with `\\`, `\"` and
/// `\n` escapes, float values including `+Inf`/`-Inf`/`NaN`, an optional integer timestamp),
/// that `# TYPE` comes at most once per family and before its samples, that sample names fit
/// their family's type (`_bucket`/`_sum`/`_count` for histograms), and that histogram buckets
/// are cumulative with `le="+Inf"` equal to `_count`.
struct PrometheusText {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    private(set) var types: [String: String] = [:]
    private(set) var samples: [Sample] = []

    init(_ text: String) throws {
        var seenFamilies: Set<String> = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            if line.isEmpty { continue }
            func fail(_ message: String) -> TestFailure { TestFailure("line \(number): \(message): '\(line)'") }
            if line.hasPrefix("#") {
                let words = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
                guard words.count >= 3, words[1] == "TYPE" || words[1] == "HELP" else { continue }
                let name = String(words[2])
                guard Self.isMetricName(name) else { throw fail("bad metric name") }
                if words[1] == "TYPE" {
                    guard words.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(words[3]) else {
                        throw fail("bad TYPE")
                    }
                    guard types[name] == nil else { throw fail("second TYPE for \(name)") }
                    guard !seenFamilies.contains(name) else { throw fail("TYPE after samples of \(name)") }
                    types[name] = String(words[3])
                }
                continue
            }
            let sample = try Self.parseSample(Substring(line)) ?? { throw fail("malformed sample") }()
            let family = family(of: sample.name)
            seenFamilies.insert(family)
            if types[family] == "histogram" {
                guard sample.name != family else { throw fail("histogram sample without suffix") }
                if sample.name.hasSuffix("_bucket"), sample.labels["le"] == nil { throw fail("bucket without le") }
            } else if types[family] == "counter" {
                guard sample.value >= 0 || sample.value.isNaN else { throw fail("negative counter") }
            }
            samples.append(sample)
        }
        for (name, type) in types where type == "histogram" {
            var groups: [[String: String]: [(Double, Double)]] = [:]
            for sample in samples where sample.name == name + "_bucket" {
                var key = sample.labels
                let bound = key.removeValue(forKey: "le")!
                guard let le = bound == "+Inf" ? Double.infinity : Double(bound) else { throw TestFailure("\(name): bad le '\(bound)'") }
                groups[key, default: []].append((le, sample.value))
            }
            for (labels, buckets) in groups {
                let sorted = buckets.sorted { $0.0 < $1.0 }
                for (lower, upper) in zip(sorted, sorted.dropFirst()) where upper.1 < lower.1 {
                    throw TestFailure("\(name)\(labels): buckets not cumulative")
                }
                guard let last = sorted.last, last.0 == .infinity else { throw TestFailure("\(name): no +Inf bucket") }
                let count = samples.first { $0.name == name + "_count" && $0.labels == labels }?.value
                guard count == last.1 else { throw TestFailure("\(name): +Inf bucket \(last.1) != _count \(count ?? -1)") }
            }
        }
    }

    /// The value of the sample `name` with exactly `labels`, if present.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// The metric family a sample belongs to (`x_bucket` → `x` for histograms).
    private func family(of name: String) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] == "histogram" || types[base] == "summary" { return base }
        }
        return name
    }

    static func isMetricName(_ name: some StringProtocol) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter || first == "_" || first == ":" else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }
    }

    static func isLabelName(_ name: some StringProtocol) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter || first == "_" else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    /// `name{label="value",...} value [timestamp]`, or nil when malformed.
    static func parseSample(_ line: Substring) -> Sample? {
        var rest = line[...]
        let name = rest.prefix { $0 != "{" && $0 != " " }
        guard isMetricName(name) else { return nil }
        rest = rest.dropFirst(name.count)
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                let label = rest.prefix { $0 != "=" }
                guard isLabelName(label), labels[String(label)] == nil else { return nil }
                rest = rest.dropFirst(label.count)
                guard rest.first == "=" else { return nil }
                rest = rest.dropFirst()
                guard rest.first == "\"" else { return nil }
                rest = rest.dropFirst()
                var value = ""
                while true {
                    guard let character = rest.popFirst() else { return nil }
                    if character == "\"" { break }
                    if character == "\\" {
                        switch rest.popFirst() {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: return nil
                        }
                    } else {
                        value.append(character)
                    }
                }
                labels[String(label)] = value
                if rest.first == "," { rest = rest.dropFirst() } else if rest.first != "}" { return nil }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " " else { return nil }
        let fields = rest.split(separator: " ")
        guard fields.count == 1 || fields.count == 2 else { return nil }
        let value: Double
        switch fields[0] {
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default:
            guard let parsed = Double(fields[0]), fields[0].allSatisfy({ $0.isNumber || "+-.eE".contains($0) }) else { return nil }
            value = parsed
        }
        if fields.count == 2, Int64(fields[1]) == nil { return nil }
        return Sample(name: String(name), labels: labels, value: value)
    }
}
