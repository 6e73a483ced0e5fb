import Foundation

/// Reads datasets stored as CSV, one row per time step.
///
/// Layout: a header row, then one row per time step of each sample:
///
/// ```
/// sample,accel_x,accel_y,accel_z,label
/// walk-01,0.12,-0.98,0.05,walking
/// walk-01,0.15,-0.97,0.02,walking
/// run-07,0.91,-1.40,0.33,running
/// run-07,0.88,-1.22,0.41,running
/// run-07,0.70,-1.10,0.39,running
/// ```
///
/// - The first header cell is `sample`; the last is `label` when the data is labelled (both
///   case-insensitive). The cells between name the `C` channels (at least one); the names are
///   not kept.
/// - Each row holds a sample id (any non-empty text), `C` finite decimal numbers and, when the
///   header has a `label` column, the class name. An empty label cell means "unlabelled".
/// - The rows of one sample are contiguous and in time order; the sample's length `T` is its
///   number of rows, so samples may differ in length. The label must be the same on every row
///   of a sample. A sample id that reappears after another sample's rows is an error.
/// - Fields may be quoted as in RFC 4180 (`"a,b"`, `"say ""hi"""`); blanks around unquoted
///   fields are ignored; blank lines are skipped; `\n` and `\r\n` line ends are accepted.
///
/// Class names are numbered in order of first appearance. Each sample keeps its id
/// (`Dataset.Sample.id`) and the line of its first row (`Dataset.Sample.line`), and the dataset
/// keeps the source name, so later messages and `lstmctl predict` can name samples as the file
/// does. Parsing stops at the first error; nothing is returned half-read. `CSVDatasetWriter` writes this
/// layout.
public enum CSVDatasetParser {
    /// Reads a CSV dataset file.
    ///
    /// - Parameter url: The file to read.
    /// - Returns: The dataset, with values timestep-major (`T × C` per sample).
    /// - Throws: `DatasetError` naming the file (its last path component), line and column of
    ///   the first problem, or `.unreadableFile` with the file-system error as `cause`.
    public static func parse(contentsOf url: URL) throws -> Dataset {
        try DatasetFile.withBytes(of: url, parse(bytes:source:))
    }

    /// Reads CSV text held in memory.
    ///
    /// - Parameters:
    ///   - text: The CSV contents.
    ///   - source: The name used in error messages, e.g. a file name.
    /// - Returns: The dataset, with values timestep-major (`T × C` per sample).
    /// - Throws: `DatasetError` with the line and column of the first problem.
    public static func parse(_ text: String, source: String) throws -> Dataset {
        var text = text
        return try text.withUTF8 { try parse(bytes: $0, source: source) }
    }

    /// Parses UTF-8 bytes.
    static func parse(bytes: UnsafeBufferPointer<UInt8>, source: String) throws -> Dataset {
        var scanner = CSVRowScanner(bytes: bytes, source: source)
        var fields: [CSVRowScanner.Field] = []
        func fail(_ code: DatasetError.Code, _ line: Int, _ column: Int?, _ message: String) -> DatasetError {
            DatasetError(code, source: source, line: line, column: column, message: message)
        }

        guard let headerLine = try scanner.nextRow(into: &fields) else {
            throw DatasetError(.emptyFile, source: source, message: "file is empty")
        }
        let names = fields.map { scanner.string($0) }
        guard names[0].lowercased() == "sample" else {
            throw fail(.invalidHeader, headerLine, 1, "header must start with 'sample', found '\(names[0])'")
        }
        let hasLabel = names.count >= 2 && names[names.count - 1].lowercased() == "label"
        let width = names.count
        let channels = width - 1 - (hasLabel ? 1 : 0)
        guard channels >= 1 else {
            throw fail(.invalidHeader, headerLine, nil, "header names no channels between 'sample' and 'label'")
        }

        var samples: [Dataset.Sample] = []
        var classNames: [String] = []
        var classIndex: [String: Int] = [:]
        var firstLine: [String: Int] = [:]
        var currentID: String?
        var currentLabel: String?
        var currentValues: [Float] = []
        var currentLength = 0

        func finishSample() {
            guard currentID != nil else { return }
            var label: Int?
            if let name = currentLabel {
                if let index = classIndex[name] {
                    label = index
                } else {
                    label = classNames.count
                    classIndex[name] = classNames.count
                    classNames.append(name)
                }
            }
            samples.append(
                Dataset.Sample(
                    values: currentValues, length: currentLength, label: label, id: currentID,
                    line: currentID.flatMap { firstLine[$0] }))
        }

        while let line = try scanner.nextRow(into: &fields) {
            guard fields.count == width else {
                throw fail(.invalidRow, line, nil, "row has \(fields.count) fields, expected \(width) as in the header")
            }
            let id = scanner.string(fields[0])
            guard !id.isEmpty else { throw fail(.invalidRow, line, fields[0].column, "empty sample id") }
            let label: String? = hasLabel ? scanner.string(fields[width - 1]) : nil
            if id != currentID {
                if let seen = firstLine[id] {
                    throw fail(
                        .sampleNotContiguous, line, fields[0].column,
                        "sample '\(id)' reappears after other samples (first seen on line \(seen)); "
                            + "rows of a sample must be contiguous")
                }
                finishSample()
                firstLine[id] = line
                currentID = id
                currentLabel = label.flatMap { $0.isEmpty ? nil : $0 }
                currentValues = []
                currentLength = 0
            } else {
                let rowLabel = label.flatMap { $0.isEmpty ? nil : $0 }
                if rowLabel != currentLabel {
                    throw fail(
                        .inconsistentLabel, line, fields[width - 1].column,
                        "sample '\(id)' has label \(describe(rowLabel)) here but \(describe(currentLabel)) "
                            + "on line \(firstLine[id]!); a sample has one label")
                }
            }
            for c in 1...channels {
                let field = fields[c]
                let result = DecimalScanner.scan(bytes, field.start, field.end)
                guard case .value(let value) = result else {
                    let (code, message) = result == .empty
                        ? (.missingValue, "empty value in column '\(names[c])'; missing values are not supported")
                        : DecimalScanner.problem(result, bytes, field.start, field.end)!
                    throw fail(code, field.line, field.column, message)
                }
                currentValues.append(value)
            }
            currentLength += 1
        }
        finishSample()
        guard !samples.isEmpty else {
            throw fail(.noSamples, headerLine, nil, "no rows after the header")
        }
        return Dataset(samples: samples, channels: channels, classNames: classNames, source: source)
    }

    private static func describe(_ label: String?) -> String {
        label.map { "'\($0)'" } ?? "none"
    }
}
