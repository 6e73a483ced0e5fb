import Foundation
import Testing

@testable import LSTMTraining

@Suite("TSFileParser")
struct TSFileParserTests {
    @Test("BasicMotions TRAIN: 40 samples, 6 channels, 100 steps, 4 balanced classes")
    func basicMotionsTrain() throws {
        let dataset = try TSFileParser.parse(contentsOf: FixtureFiles.url("BasicMotions_TRAIN.ts"))
        #expect(dataset.problemName == "BasicMotions")
        #expect(dataset.samples.count == 40)
        #expect(dataset.channels == 6)
        #expect(dataset.isEqualLength)
        #expect(dataset.maxLength == 100)
        #expect(dataset.samples.allSatisfy { $0.length == 100 && $0.values.count == 600 })
        #expect(dataset.classNames == ["Standing", "Running", "Walking", "Badminton"])
        #expect(dataset.classCounts == [10, 10, 10, 10])
        #expect(dataset.isLabelled)
        #expect(dataset.labels.first == 0)
        #expect(dataset.labels.last == 3)

        // Timestep-major: values[t * C + c]. The first line starts
        // dimension 1 with 0.079106,0.079106,-0.903497 and dimension 2 with 0.394032.
        let first = dataset.samples[0].values
        #expect(first[0] == Float(0.079106))
        #expect(first[0] == Float("0.079106")!)
        #expect(first[1] == Float(0.394032))
        #expect(first[6] == Float(0.079106))
        #expect(first[12] == Float(-0.903497))
        // The last value of the last dimension of the first line.
        let last = try #require(try Self.lastValueOfFirstSample())
        #expect(first[599] == last)
    }

    /// The last number before the label on the first data line, read independently.
    private static func lastValueOfFirstSample() throws -> Float? {
        let text = try String(contentsOf: FixtureFiles.url("BasicMotions_TRAIN.ts"), encoding: .utf8)
        let line = text.split(separator: "\n").first { $0.first.map { $0.isNumber || $0 == "-" } == true }
        let fields = line?.split(separator: ":")
        return fields.flatMap { $0.dropLast().last?.split(separator: ",").last }.flatMap { Float(String($0)) }
    }

    @Test("BasicMotions TEST: 40 samples")
    func basicMotionsTest() throws {
        let dataset = try TSFileParser.parse(contentsOf: FixtureFiles.url("BasicMotions_TEST.ts"))
        #expect(dataset.samples.count == 40)
        #expect(dataset.channels == 6)
        #expect(dataset.maxLength == 100)
        #expect(dataset.classCounts.reduce(0, +) == 40)
    }

    @Test("File and in-memory parsing agree")
    func fileAndTextAgree() throws {
        let url = FixtureFiles.url("BasicMotions_TRAIN.ts")
        let text = try String(contentsOf: url, encoding: .utf8)
        // Same source name: a dataset keeps it (and each sample's line) for messages.
        #expect(try TSFileParser.parse(text, source: url.path) == TSFileParser.parse(contentsOf: url))
    }

    @Test("Variable-length multivariate samples keep their own lengths")
    func variableLength() throws {
        let dataset = try TSFileParser.parse(contentsOf: FixtureFiles.url("variable_length.ts"))
        #expect(dataset.problemName == "Toy Variable")
        #expect(dataset.channels == 2)
        #expect(dataset.samples.map(\.length) == [3, 2, 1])
        #expect(!dataset.isEqualLength)
        #expect(dataset.maxLength == 3)
        #expect(dataset.samples[0].values == [1, 4, 2, 5, 3, 6])
        #expect(dataset.samples[1].values == [7, 9, 8, 10])
        #expect(dataset.samples[2].values == [0.5, -0.5])
        #expect(dataset.labels == [0, 1, 0])
        #expect(dataset.classCounts == [2, 1])
    }

    @Test("@classLabel false gives unlabelled samples")
    func unlabelled() throws {
        let text = """
            @problemName Unlabelled
            @univariate true
            @equalLength true
            @seriesLength 4
            @classLabel false
            @data
            1,2,3,4
            5,6,7,8
            """
        let dataset = try TSFileParser.parse(text, source: "unlabelled.ts")
        #expect(dataset.channels == 1)
        #expect(dataset.classNames.isEmpty)
        #expect(dataset.labels == [nil, nil])
        #expect(!dataset.isLabelled)
        #expect(dataset.classCounts == [])
        #expect(dataset.samples[1].values == [5, 6, 7, 8])
    }

    @Test("@targetLabel false without @classLabel gives unlabelled samples")
    func targetLabelFalse() throws {
        let dataset = try TSFileParser.parse("@targetLabel false\n@data\n1,2\n", source: "t.ts")
        #expect(dataset.labels == [nil])
        #expect(dataset.channels == 1)
    }

    @Test("Dimensions come from the first sample when the header does not declare them")
    func inferredDimensions() throws {
        let dataset = try TSFileParser.parse("@classLabel true a\n@data\n1:2:3:a\n4:5:6:a\n", source: "i.ts")
        #expect(dataset.channels == 3)
        #expect(dataset.samples[1].values == [4, 5, 6])
    }

    @Test("Header keys and booleans are case-insensitive; comments, blanks, CRLF, BOM and spaces are tolerated")
    func lenientSyntax() throws {
        let text = "\u{FEFF}# comment\r\n@PROBLEMNAME Mixed\r\n@TimeStamps FALSE\r\n@Missing False\r\n"
            + "@UNIVARIATE false\r\n@Dimensions 2\r\n@EqualLength TRUE\r\n@SeriesLength 2\r\n"
            + "@CLASSLABEL True yes no\r\n@DATA\r\n\r\n# a comment in the data\r\n"
            + "  1.5 , -2e1 : +3 , .25 : no  \r\n"
        let dataset = try TSFileParser.parse(text, source: "mixed.ts")
        #expect(dataset.problemName == "Mixed")
        #expect(dataset.samples.count == 1)
        #expect(dataset.samples[0].values == [1.5, 3, -20, 0.25])
        #expect(dataset.labels == [1])
    }

    @Test("@missing true is accepted when no value is actually missing")
    func missingTrueWithoutMissingValues() throws {
        let dataset = try TSFileParser.parse("@missing true\n@classLabel false\n@data\n1,2\n", source: "m.ts")
        #expect(dataset.samples[0].values == [1, 2])
    }

    @Test("Labels are matched exactly against the declared names")
    func numericLabels() throws {
        let dataset = try TSFileParser.parse("@classLabel true 1 2 -1\n@data\n0.5:-1\n0.25:2\n", source: "n.ts")
        #expect(dataset.classNames == ["1", "2", "-1"])
        #expect(dataset.labels == [2, 1])
    }
}
