import Testing

@testable import LSTMTraining

/// One malformed `.ts` text and the error it must raise.
struct TSErrorCase: Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    var code: DatasetError.Code
    var line: Int?
    var column: Int?
    var message: String

    var testDescription: String { name }

    /// Lines 1–8 of a valid file: two dimensions, length 3, classes `up` and `down`, one sample.
    /// A case's own lines start at line 9.
    static let header = """
        # toy problem
        @problemName Toy
        @dimensions 2
        @equalLength true
        @seriesLength 3
        @classLabel true up down
        @data
        1,2,3:4,5,6:up

        """

    static let all: [TSErrorCase] = [
        TSErrorCase(
            name: "wrong dimension count", text: header + "1,2,3:4,5,6:7,8,9:down\n",
            code: .dimensionMismatch, line: 9, message: "sample has 3 dimensions, expected 2"),
        TSErrorCase(
            name: "too few dimensions", text: header + "1,2,3:up\n",
            code: .dimensionMismatch, line: 9, message: "sample has 1 dimensions, expected 2"),
        TSErrorCase(
            name: "dimension count inferred from the first sample",
            text: "@classLabel true a\n@data\n1:2:a\n1:2:3:a\n",
            code: .dimensionMismatch, line: 4, message: "sample has 3 dimensions, expected 2 (as in the first sample)"),
        TSErrorCase(
            name: "labelled sample without a label", text: header + "1,2,3\n",
            code: .dimensionMismatch, line: 9,
            message: "sample has no class label; expected dimensions followed by ':' and a label"),
        TSErrorCase(
            name: "bad number", text: header + "1,2x,3:4,5,6:up\n",
            code: .invalidNumber, line: 9, column: 3, message: "invalid number '2x'"),
        TSErrorCase(
            name: "NaN text", text: header + "1,2,3:4,NaN,6:up\n",
            code: .invalidNumber, line: 9, column: 9,
            message: "invalid number 'NaN': NaN and infinity are not allowed"),
        TSErrorCase(
            name: "infinity text", text: header + "1,2,3:4,5,-inf:up\n",
            code: .invalidNumber, line: 9, column: 11,
            message: "invalid number '-inf': NaN and infinity are not allowed"),
        TSErrorCase(
            name: "out of range for Float", text: header + "1e39,2,3:4,5,6:up\n",
            code: .invalidNumber, line: 9, column: 1, message: "number '1e39' is out of range for Float"),
        TSErrorCase(
            name: "hexadecimal float", text: header + "0x1p3,2,3:4,5,6:up\n",
            code: .invalidNumber, line: 9, column: 1, message: "invalid number '0x1p3'"),
        TSErrorCase(
            name: "empty value", text: header + "1,,3:4,5,6:up\n",
            code: .invalidNumber, line: 9, column: 3, message: "empty value; expected a number"),
        TSErrorCase(
            name: "unknown label", text: header + "1,2,3:4,5,6:sideways\n",
            code: .unknownLabel, line: 9, column: 13, message: "unknown class label 'sideways'; declared: up down"),
        TSErrorCase(
            name: "empty label", text: header + "1,2,3:4,5,6:\n",
            code: .unknownLabel, line: 9, column: 13, message: "sample has an empty class label"),
        TSErrorCase(
            name: "missing @data", text: "@problemName Toy\n@classLabel true a b\n",
            code: .missingDataSection, message: "missing @data line"),
        TSErrorCase(
            name: "data before @data", text: "@classLabel true a b\n1,2,3:a\n",
            code: .invalidHeader, line: 2, column: 1, message: "expected a header line starting with '@' before @data"),
        TSErrorCase(
            name: "no samples after @data", text: "@classLabel true a\n# none\n@data\n\n",
            code: .noSamples, line: 3, message: "no samples after @data"),
        TSErrorCase(
            name: "unequal length when declared equal (@seriesLength)", text: header + "1,2:4,5:down\n",
            code: .lengthMismatch, line: 9, message: "sample has length 2, expected 3 (@seriesLength 3)"),
        TSErrorCase(
            name: "unequal length when declared equal (first sample)",
            text: "@equalLength true\n@classLabel false\n@data\n1,2,3\n1,2\n",
            code: .lengthMismatch, line: 5,
            message: "sample has length 2, expected 3 (the first sample, @equalLength true)"),
        TSErrorCase(
            name: "dimensions of one sample differ in length", text: header + "1,2,3:4,5:up\n",
            code: .lengthMismatch, line: 9, column: 7,
            message: "dimension 2 has 2 values, dimension 1 has 3; all dimensions of a sample must have the same length"),
        TSErrorCase(
            name: "empty file", text: "",
            code: .emptyFile, message: "file is empty"),
        TSErrorCase(
            name: "only comments and blank lines", text: "# nothing\n\n   \n",
            code: .emptyFile, message: "file is empty"),
        TSErrorCase(
            name: "@timeStamps true", text: "@problemName T\n@timeStamps true\n@classLabel false\n@data\n",
            code: .unsupportedFeature, line: 2,
            message: "@timeStamps true is not supported; only plain value series can be read"),
        TSErrorCase(
            name: "@targetLabel true", text: "@targetLabel true\n@data\n1,2:0.5\n",
            code: .unsupportedFeature, line: 1,
            message: "@targetLabel true (regression) is not supported; only classification"),
        TSErrorCase(
            name: "missing value without @missing true", text: header + "1,?,3:4,5,6:up\n",
            code: .missingValue, line: 9, column: 3,
            message: "missing value '?', but the header does not declare @missing true (and missing values are not supported)"),
        TSErrorCase(
            name: "missing value with @missing true", text: "@missing true\n@classLabel false\n@data\n1,2\n?,4\n",
            code: .missingValue, line: 5, column: 1,
            message: "missing value '?': the header declares @missing true, but missing values are not supported"),
        TSErrorCase(
            name: "no @classLabel", text: "@problemName Toy\n@data\n1,2\n",
            code: .invalidHeader, line: 2,
            message: "@data before @classLabel; the header must say whether samples carry class labels"),
        TSErrorCase(
            name: "@classLabel true without names", text: "@classLabel true\n@data\n",
            code: .invalidHeader, line: 1, message: "@classLabel true must list the class names"),
        TSErrorCase(
            name: "duplicate class name", text: "@classLabel true a b a\n@data\n",
            code: .invalidHeader, line: 1, message: "@classLabel lists class 'a' twice"),
        TSErrorCase(
            name: "unknown header", text: "@problemName T\n@sampleRate 10\n",
            code: .invalidHeader, line: 2, message: "unknown header @sampleRate"),
        TSErrorCase(
            name: "duplicate header", text: "@classLabel false\n@CLASSLABEL false\n",
            code: .invalidHeader, line: 2, message: "duplicate header @CLASSLABEL"),
        TSErrorCase(
            name: "bad boolean", text: "@equalLength yes\n",
            code: .invalidHeader, line: 1, message: "@equalLength must be true or false, found 'yes'"),
        TSErrorCase(
            name: "bad @dimensions", text: "@dimensions 0\n",
            code: .invalidHeader, line: 1, message: "@dimensions must be one positive integer, found '0'"),
        TSErrorCase(
            name: "@univariate true contradicts @dimensions", text: "@univariate true\n@dimensions 3\n@classLabel false\n@data\n",
            code: .invalidHeader, line: 4, message: "@univariate true contradicts @dimensions 3"),
        TSErrorCase(
            name: "header after @data", text: header + "@problemName Again\n",
            code: .invalidHeader, line: 9, message: "header line after @data"),
    ]
}

@Suite("TSFileParser errors")
struct TSFileParserErrorTests {
    @Test("Each malformed file raises the right error at the right place", arguments: TSErrorCase.all)
    func malformed(_ testCase: TSErrorCase) {
        do {
            let dataset = try TSFileParser.parse(testCase.text, source: "bad.ts")
            Issue.record("expected an error, parsed \(dataset.samples.count) samples")
        } catch let error as DatasetError {
            #expect(error.code == testCase.code)
            #expect(error.source == "bad.ts")
            #expect(error.line == testCase.line)
            if let column = testCase.column { #expect(error.column == column) }
            #expect(error.message == testCase.message)
        } catch {
            Issue.record("unexpected error type: \(error)")
        }
    }

    @Test("The description reads file:line: message, with the column when known")
    func description() throws {
        let dimensions = #expect(throws: DatasetError.self) {
            try TSFileParser.parse(TSErrorCase.header + "1,2,3:up\n", source: "BasicMotions_TRAIN.ts")
        }
        #expect(dimensions?.description == "BasicMotions_TRAIN.ts:9: sample has 1 dimensions, expected 2")
        let number = #expect(throws: DatasetError.self) {
            try TSFileParser.parse(TSErrorCase.header + "1,2,3:4,5,x:up\n", source: "a.ts")
        }
        #expect(number?.description == "a.ts:9:11: invalid number 'x'")
        let empty = #expect(throws: DatasetError.self) { try TSFileParser.parse("", source: "e.ts") }
        #expect(empty?.description == "e.ts: file is empty")
    }

    @Test("A file that cannot be read raises .unreadableFile with the cause")
    func unreadable() {
        let url = FixtureFiles.url("does-not-exist.ts")
        let error = #expect(throws: DatasetError.self) { try TSFileParser.parse(contentsOf: url) }
        #expect(error?.code == .unreadableFile)
        #expect(error?.source == url.path, "the path as given, not only the file name")
        #expect(error?.cause != nil)
    }

    @Test("A BasicMotions file with one dimension cut off reports that line")
    func realFileWithCutDimension() throws {
        let url = FixtureFiles.url("BasicMotions_TRAIN.ts")
        var lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        // Line 17 (1-based) is the fourth sample; drop its first dimension.
        lines[16] = lines[16].drop(while: { $0 != ":" }).dropFirst()
        let error = #expect(throws: DatasetError.self) {
            try TSFileParser.parse(lines.joined(separator: "\n"), source: "BasicMotions_TRAIN.ts")
        }
        #expect(error?.description == "BasicMotions_TRAIN.ts:17: sample has 5 dimensions, expected 6")
    }
}
