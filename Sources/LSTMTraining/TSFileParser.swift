import Foundation

/// Reads time-series classification problems in the UEA/UCR `.ts` format (as written by sktime
/// and timeseriesclassification.com).
///
/// A file is a header followed by one sample per line:
///
/// ```
/// # comment lines start with '#' and may appear anywhere
/// @problemName BasicMotions
/// @timeStamps false
/// @missing false
/// @univariate false
/// @dimensions 6
/// @equalLength true
/// @seriesLength 100
/// @classLabel true Standing Running Walking Badminton
/// @data
/// 0.079106,0.079106,-0.903497,…:0.394032,0.394032,…:…:Standing
/// ```
///
/// Header keys and `true`/`false` are case-insensitive; every key is optional except
/// `@classLabel` (or `@targetLabel false`) and `@data`. In the data section the dimensions of a
/// sample are separated by `:` and their values by `,`; when `@classLabel` is `true` the last
/// `:` field is the class label, which must be one of the declared names. All dimensions of a
/// sample must have the same length. Across samples lengths may differ unless `@equalLength`
/// is `true` (then every sample must have `@seriesLength` steps, or the first sample's length).
/// The dimension count comes from `@dimensions`, from `@univariate true` (one), or else from the
/// first sample.
///
/// Not supported, each rejected with a `DatasetError` that says so: `@timeStamps true`,
/// `@targetLabel true` (regression) and missing values. A `?` in the data is refused whether or
/// not the header declares `@missing true`. Values must be finite decimal numbers; `NaN` and
/// `Inf` are refused. Parsing stops at the first error; nothing is returned half-read.
public enum TSFileParser {
    /// Reads a `.ts` file.
    ///
    /// - Parameter url: The file to read.
    /// - Returns: The dataset, with values timestep-major (`T × C` per sample).
    /// - Throws: `DatasetError` naming the file (its path as given), line and column of
    ///   the first problem, or `.unreadableFile` with the file-system error as `cause`.
    public static func parse(contentsOf url: URL) throws -> Dataset {
        try DatasetFile.withBytes(of: url, parse(bytes:source:))
    }

    /// Reads `.ts` text held in memory.
    ///
    /// - Parameters:
    ///   - text: The file contents.
    ///   - source: The name used in error messages, e.g. a file name.
    /// - Returns: The dataset, with values timestep-major (`T × C` per sample).
    /// - Throws: `DatasetError` with the line and column of the first problem.
    public static func parse(_ text: String, source: String) throws -> Dataset {
        var text = text
        return try text.withUTF8 { try parse(bytes: $0, source: source) }
    }

    /// Parses UTF-8 bytes.
    static func parse(bytes: UnsafeBufferPointer<UInt8>, source: String) throws -> Dataset {
        var reader = TSSampleReader(bytes: bytes, source: source)
        return try reader.read()
    }
}

/// The state of one parse: the header, the samples so far and reusable scratch space.
private struct TSSampleReader {
    let bytes: UnsafeBufferPointer<UInt8>
    let source: String
    var header = TSHeader()
    var samples: [Dataset.Sample] = []
    var labelIndex: [String: Int] = [:]
    var dimensions: Int?
    var equalLength: Int?
    /// Values of the current sample, dimension-major, before transposing.
    var scratch: [Float] = []

    init(bytes: UnsafeBufferPointer<UInt8>, source: String) {
        self.bytes = bytes
        self.source = source
    }

    mutating func read() throws -> Dataset {
        var position = 0
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { position = 3 }
        var lineNumber = 0
        var dataLine: Int?
        var sawContent = false
        while position < bytes.count {
            lineNumber += 1
            let lineStart = position
            var lineEnd = position
            while lineEnd < bytes.count && bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            position = lineEnd + 1
            var start = lineStart
            var end = lineEnd
            DecimalScanner.trim(bytes, &start, &end)
            if start == end || bytes[start] == UInt8(ascii: "#") { continue }
            sawContent = true
            if bytes[start] == UInt8(ascii: "@") {
                guard dataLine == nil else {
                    throw error(.invalidHeader, lineNumber, nil, "header line after @data")
                }
                let text = DecimalScanner.string(bytes, start, end)
                if try header.apply(text, line: lineNumber, source: source) {
                    dataLine = lineNumber
                    startData()
                }
            } else {
                guard dataLine != nil else {
                    throw error(
                        .invalidHeader, lineNumber, start - lineStart + 1,
                        "expected a header line starting with '@' before @data")
                }
                try readSample(start, end, line: lineNumber, lineStart: lineStart)
            }
        }
        guard sawContent else {
            throw DatasetError(.emptyFile, source: source, message: "file is empty")
        }
        guard let dataLine else {
            throw DatasetError(.missingDataSection, source: source, message: "missing @data line")
        }
        guard !samples.isEmpty else {
            throw error(.noSamples, dataLine, nil, "no samples after @data")
        }
        return Dataset(
            samples: samples, channels: dimensions ?? 1,
            classNames: header.classLabel == true ? header.classNames : [],
            problemName: header.problemName, source: source)
    }

    private mutating func startData() {
        dimensions = header.declaredDimensions
        if header.equalLength == true { equalLength = header.seriesLength }
        for (index, name) in header.classNames.enumerated() { labelIndex[name] = index }
    }

    private func error(_ code: DatasetError.Code, _ line: Int, _ column: Int?, _ message: String) -> DatasetError {
        DatasetError(code, source: source, line: line, column: column, message: message)
    }

    /// Reads one sample line, `bytes[start..<end]`, trimmed.
    private mutating func readSample(_ start: Int, _ end: Int, line: Int, lineStart: Int) throws {
        let labelled = header.classLabel == true
        // Count the ':'-separated fields, and find where the label starts.
        var fields = 1
        var lastColon = -1
        for i in start..<end where bytes[i] == UInt8(ascii: ":") {
            fields += 1
            lastColon = i
        }
        let found = labelled ? fields - 1 : fields
        let dataEnd = labelled ? max(lastColon, start) : end
        if labelled && lastColon < 0 {
            throw error(
                .dimensionMismatch, line, nil,
                "sample has no class label; expected dimensions followed by ':' and a label")
        }
        if let expected = dimensions, found != expected {
            let origin = header.declaredDimensions == nil ? " (as in the first sample)" : ""
            throw error(.dimensionMismatch, line, nil, "sample has \(found) dimensions, expected \(expected)\(origin)")
        }
        dimensions = found

        // Values, dimension by dimension, into scratch (dimension-major).
        scratch.removeAll(keepingCapacity: true)
        var length = 0
        var dimensionStart = start
        for dimension in 0..<found {
            var dimensionEnd = dimensionStart
            while dimensionEnd < dataEnd && bytes[dimensionEnd] != UInt8(ascii: ":") { dimensionEnd += 1 }
            let count = try readValues(dimensionStart, dimensionEnd, line: line, lineStart: lineStart)
            if dimension == 0 {
                length = count
            } else if count != length {
                throw error(
                    .lengthMismatch, line, dimensionStart - lineStart + 1,
                    "dimension \(dimension + 1) has \(count) values, dimension 1 has \(length); "
                        + "all dimensions of a sample must have the same length")
            }
            dimensionStart = dimensionEnd + 1
        }

        if header.equalLength == true {
            if let expected = equalLength, length != expected {
                let origin = header.seriesLength != nil ? "@seriesLength \(expected)" : "the first sample, @equalLength true"
                throw error(.lengthMismatch, line, nil, "sample has length \(length), expected \(expected) (\(origin))")
            }
            equalLength = length
        }

        var label: Int?
        if labelled {
            var labelStart = lastColon + 1
            var labelEnd = end
            DecimalScanner.trim(bytes, &labelStart, &labelEnd)
            let name = DecimalScanner.string(bytes, labelStart, labelEnd)
            guard let index = labelIndex[name] else {
                let message = name.isEmpty
                    ? "sample has an empty class label"
                    : "unknown class label '\(name)'; declared: \(header.classNames.joined(separator: " "))"
                throw error(.unknownLabel, line, labelStart - lineStart + 1, message)
            }
            label = index
        }

        var values = [Float](repeating: 0, count: scratch.count)
        let channels = found
        scratch.withUnsafeBufferPointer { source in
            values.withUnsafeMutableBufferPointer { target in
                for c in 0..<channels {
                    for t in 0..<length { target[t * channels + c] = source[c * length + t] }
                }
            }
        }
        samples.append(Dataset.Sample(values: values, length: length, label: label, line: line))
    }

    /// Appends the comma-separated values of `bytes[start..<end]` to `scratch`; returns their count.
    private mutating func readValues(_ start: Int, _ end: Int, line: Int, lineStart: Int) throws -> Int {
        var count = 0
        var tokenStart = start
        while true {
            var tokenEnd = tokenStart
            while tokenEnd < end && bytes[tokenEnd] != UInt8(ascii: ",") { tokenEnd += 1 }
            let separator = tokenEnd
            var a = tokenStart
            var b = tokenEnd
            DecimalScanner.trim(bytes, &a, &b)
            let result = DecimalScanner.scan(bytes, a, b)
            if case .value(let value) = result {
                scratch.append(value)
                count += 1
            } else {
                throw valueError(result, a, b, line: line, lineStart: lineStart)
            }
            if separator >= end { return count }
            tokenStart = separator + 1
        }
    }

    private func valueError(_ result: DecimalScanner.Result, _ a: Int, _ b: Int, line: Int, lineStart: Int) -> DatasetError {
        let column = a - lineStart + 1
        switch result {
        case .missing:
            let message = header.missing == true
                ? "missing value '?': the header declares @missing true, but missing values are not supported"
                : "missing value '?', but the header does not declare @missing true (and missing values are not supported)"
            return error(.missingValue, line, column, message)
        case .empty:
            return error(.invalidNumber, line, column, "empty value; expected a number")
        default:
            let (code, message) = DecimalScanner.problem(result, bytes, a, b)!
            return error(code, line, column, message)
        }
    }
}
