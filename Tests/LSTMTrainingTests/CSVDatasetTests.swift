import Foundation
import Testing

@testable import LSTMTraining

@Suite("CSVDatasetParser and CSVDatasetWriter")
struct CSVDatasetTests {
    @Test("The documented layout parses")
    func documentedExample() throws {
        let dataset = try CSVDatasetParser.parse(contentsOf: FixtureFiles.url("small.csv"))
        #expect(dataset.channels == 3)
        #expect(dataset.samples.map(\.length) == [2, 3])
        #expect(dataset.classNames == ["walking", "running"])
        #expect(dataset.labels == [0, 1])
        #expect(dataset.problemName == nil)
        #expect(dataset.samples[0].values == [0.12, -0.98, 0.05, 0.15, -0.97, 0.02])
        #expect(dataset.samples[1].values.last == 0.39)
    }

    @Test("Without a label column samples are unlabelled; quoting, blanks, CRLF and blank lines are accepted")
    func unlabelledAndLenient() throws {
        let text = "Sample , x , \"y\"\r\n\r\n\"s,1\", 1.5 ,\"2\"\r\n\"s,1\",3,4\r\nt,-1,-2"
        let dataset = try CSVDatasetParser.parse(text, source: "u.csv")
        #expect(dataset.channels == 2)
        #expect(dataset.classNames.isEmpty)
        #expect(dataset.labels == [nil, nil])
        #expect(dataset.samples[0].values == [1.5, 2, 3, 4])
        #expect(dataset.samples[1].values == [-1, -2])
    }

    @Test("Class names are numbered in order of first appearance; an empty label cell means unlabelled")
    func labelOrder() throws {
        let text = "sample,v,label\na,1,zeta\nb,2,\nc,3,alpha\nd,4,zeta\n"
        let dataset = try CSVDatasetParser.parse(text, source: "o.csv")
        #expect(dataset.classNames == ["zeta", "alpha"])
        #expect(dataset.labels == [0, nil, 1, 0])
    }

    @Test("BasicMotions round-trips through CSV exactly")
    func basicMotionsRoundTrip() throws {
        let original = try TSFileParser.parse(contentsOf: FixtureFiles.url("BasicMotions_TRAIN.ts"))
        let text = CSVDatasetWriter.csvText(
            for: original, channelNames: ["ax", "ay", "az", "gx", "gy", "gz"])
        #expect(text.hasPrefix("sample,ax,ay,az,gx,gy,gz,label\n0,0.079106,0.394032,"))
        let parsed = try CSVDatasetParser.parse(text, source: "bm.csv")
        #expect(parsed.samples.map(\.values) == original.samples.map(\.values))
        #expect(parsed.samples.map(\.length) == original.samples.map(\.length))
        #expect(parsed.samples.map(\.label) == original.samples.map(\.label))
        #expect(parsed.classNames == original.classNames)
        #expect(parsed.channels == original.channels)
    }

    @Test("Awkward ids, labels and values round-trip through a file")
    func awkwardRoundTrip() throws {
        var random = SeededGenerator(seed: 7)
        let classNames = ["a,b", "say \"hi\"", " padded ", "two\nlines", "crlf\r\nlabel", "ünïcødé"]
        var samples: [Dataset.Sample] = []
        for index in 0..<30 {
            let length = Int.random(in: 1...9, using: &random)
            let values = (0..<(length * 3)).map { _ in
                Float.random(in: -1...1, using: &random) * Float(sign: .plus, exponent: Int.random(in: -40...40, using: &random), significand: 1)
            }
            let label = index % 7 == 6 ? nil : index % classNames.count
            samples.append(Dataset.Sample(values: values, length: length, label: label))
        }
        let original = Dataset(samples: samples, channels: 3, classNames: classNames)
        let ids = (0..<30).map { "id, \"\($0)\"" }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lstmtraining-\(UUID()).csv")
        defer { try? FileManager.default.removeItem(at: url) }
        try CSVDatasetWriter.write(original, to: url, channelNames: ["x", "y,z", "w"], sampleIDs: ids)
        let parsed = try CSVDatasetParser.parse(contentsOf: url)
        #expect(parsed.samples.map(\.values) == original.samples.map(\.values))
        #expect(parsed.samples.map(\.length) == original.samples.map(\.length))
        let originalNames = original.labels.map { $0.map { original.classNames[$0] } }
        let parsedNames = parsed.labels.map { $0.map { parsed.classNames[$0] } }
        #expect(parsedNames == originalNames)
    }

    @Test("Lines are counted through multi-line quoted fields")
    func multiLineQuotedField() throws {
        let text = "sample,v,label\n\"a\nb\",1,x\n\"a\nb\",2,x\nc,oops,x\n"
        let error = #expect(throws: DatasetError.self) { try CSVDatasetParser.parse(text, source: "q.csv") }
        #expect(error?.description == "q.csv:6:3: invalid number 'oops'")
    }
}

/// One malformed CSV text and the error it must raise.
struct CSVErrorCase: Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    var code: DatasetError.Code
    var line: Int?
    var column: Int?
    var message: String

    var testDescription: String { name }

    static let header = "sample,x,y,label\n"

    static let all: [CSVErrorCase] = [
        CSVErrorCase(name: "empty file", text: "", code: .emptyFile, message: "file is empty"),
        CSVErrorCase(name: "blank lines only", text: "\n \n\r\n", code: .emptyFile, message: "file is empty"),
        CSVErrorCase(
            name: "header without sample column", text: "id,x,label\n1,2,a\n",
            code: .invalidHeader, line: 1, column: 1, message: "header must start with 'sample', found 'id'"),
        CSVErrorCase(
            name: "header without channels", text: "sample,label\na,b\n",
            code: .invalidHeader, line: 1, message: "header names no channels between 'sample' and 'label'"),
        CSVErrorCase(
            name: "no rows", text: header, code: .noSamples, line: 1, message: "no rows after the header"),
        CSVErrorCase(
            name: "too few fields", text: header + "s,1,2,a\ns,3,a\n",
            code: .invalidRow, line: 3, message: "row has 3 fields, expected 4 as in the header"),
        CSVErrorCase(
            name: "empty sample id", text: header + ",1,2,a\n",
            code: .invalidRow, line: 2, column: 1, message: "empty sample id"),
        CSVErrorCase(
            name: "bad number", text: header + "s,1,2,a\ns,3,4x,a\n",
            code: .invalidNumber, line: 3, column: 5, message: "invalid number '4x'"),
        CSVErrorCase(
            name: "NaN", text: header + "s,nan,2,a\n",
            code: .invalidNumber, line: 2, column: 3, message: "invalid number 'nan': NaN and infinity are not allowed"),
        CSVErrorCase(
            name: "empty value", text: header + "s,1,,a\n",
            code: .missingValue, line: 2, column: 5,
            message: "empty value in column 'y'; missing values are not supported"),
        CSVErrorCase(
            name: "question mark", text: header + "s,?,1,a\n",
            code: .missingValue, line: 2, column: 3, message: "missing value '?'; missing values are not supported"),
        CSVErrorCase(
            name: "sample id reappears", text: header + "s,1,2,a\nt,1,2,a\ns,1,2,a\n",
            code: .sampleNotContiguous, line: 4, column: 1,
            message: "sample 's' reappears after other samples (first seen on line 2); rows of a sample must be contiguous"),
        CSVErrorCase(
            name: "label changes within a sample", text: header + "s,1,2,a\ns,1,2,b\n",
            code: .inconsistentLabel, line: 3, column: 7,
            message: "sample 's' has label 'b' here but 'a' on line 2; a sample has one label"),
        CSVErrorCase(
            name: "label dropped within a sample", text: header + "s,1,2,a\ns,1,2,\n",
            code: .inconsistentLabel, line: 3, column: 7,
            message: "sample 's' has label none here but 'a' on line 2; a sample has one label"),
        CSVErrorCase(
            name: "unterminated quote", text: header + "\"s,1,2,a\n",
            code: .invalidRow, line: 2, column: 1, message: "quoted field is not closed"),
        CSVErrorCase(
            name: "quote inside unquoted field", text: header + "s\"t,1,2,a\n",
            code: .invalidRow, line: 2, column: 2, message: "quote inside an unquoted field; quote the whole field"),
        CSVErrorCase(
            name: "text after closing quote", text: header + "\"s\"x,1,2,a\n",
            code: .invalidRow, line: 2, column: 4, message: "unexpected character after a closing quote"),
    ]
}

@Suite("CSVDatasetParser errors")
struct CSVDatasetParserErrorTests {
    @Test("Each malformed file raises the right error at the right place", arguments: CSVErrorCase.all)
    func malformed(_ testCase: CSVErrorCase) {
        do {
            let dataset = try CSVDatasetParser.parse(testCase.text, source: "bad.csv")
            Issue.record("expected an error, parsed \(dataset.samples.count) samples")
        } catch let error as DatasetError {
            #expect(error.code == testCase.code)
            #expect(error.source == "bad.csv")
            #expect(error.line == testCase.line)
            if let column = testCase.column { #expect(error.column == column) }
            #expect(error.message == testCase.message)
        } catch {
            Issue.record("unexpected error type: \(error)")
        }
    }

    @Test("A missing file raises .unreadableFile")
    func unreadable() {
        let error = #expect(throws: DatasetError.self) {
            try CSVDatasetParser.parse(contentsOf: FixtureFiles.url("nope.csv"))
        }
        #expect(error?.code == .unreadableFile)
        // The path as given (here the fixture directory's), and the system's reason.
        let path = FixtureFiles.url("nope.csv").path
        #expect(error?.description == "\(path): cannot read file: No such file or directory")
    }

    @Test("A directory raises .unreadableFile saying so; a pipe reads like a file")
    func directoryAndPipe() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lstmd-dataset-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = #expect(throws: DatasetError.self) { try CSVDatasetParser.parse(contentsOf: directory) }
        #expect(error?.description == "\(directory.path): cannot read file: is a directory")

        // A FIFO, as `<(zcat data.csv.gz)` gives: written by another thread while it is read.
        let fifo = directory.appendingPathComponent("data.csv")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        let text = try String(contentsOf: FixtureFiles.url("BasicMotions_TRAIN.ts"), encoding: .utf8)
        let writer = Thread {
            let handle = FileHandle(forWritingAtPath: fifo.path)!
            handle.write(Data(text.utf8))
            try? handle.close()
        }
        writer.start()
        let dataset = try TSFileParser.parse(contentsOf: fifo)
        #expect(dataset.samples.count == 40)
    }
}
