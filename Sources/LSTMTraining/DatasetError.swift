import Foundation

/// An error found while reading a dataset file: where it is, what is wrong, and the cause if
/// another error triggered it.
///
/// The description reads like a compiler diagnostic, `file:line:column: message`, leaving out the
/// parts that are unknown, e.g. `BasicMotions_TRAIN.ts:17: sample has 5 dimensions, expected 6`.
/// Lines and columns are 1-based; columns count UTF-8 bytes from the start of the line.
public struct DatasetError: Error, CustomStringConvertible {
    /// What kind of problem was found. Tests and callers switch on this; the message is for people.
    public enum Code: String, Sendable, Hashable {
        /// The file could not be read at all; `cause` holds the underlying error.
        case unreadableFile
        /// The file holds no headers and no data (only blank lines or comments, if anything).
        case emptyFile
        /// A header line is malformed, unknown, duplicated, inconsistent or out of place.
        case invalidHeader
        /// The file uses a feature this reader does not support (time stamps, regression targets).
        case unsupportedFeature
        /// A `.ts` file has no `@data` line.
        case missingDataSection
        /// The data section (or the whole CSV file) holds no samples.
        case noSamples
        /// A sample has a different number of dimensions (channels) than declared or expected.
        case dimensionMismatch
        /// A value is not a finite decimal number representable as `Float`.
        case invalidNumber
        /// A value is missing (`?` or an empty cell); missing values are not supported.
        case missingValue
        /// A class label is not among the declared class names, or a required label is absent.
        case unknownLabel
        /// Series lengths disagree: between the dimensions of one sample, or with `@equalLength`.
        case lengthMismatch
        /// A CSV row is malformed: wrong number of fields, bad quoting, empty sample id.
        case invalidRow
        /// A CSV sample id reappears after rows of another sample.
        case sampleNotContiguous
        /// A CSV sample has different labels on different rows.
        case inconsistentLabel
    }

    /// The kind of problem.
    public var code: Code
    /// The file name (last path component) or the caller-supplied source name.
    public var source: String
    /// The 1-based line number, when the problem is tied to a line.
    public var line: Int?
    /// The 1-based byte column within `line`, when known.
    public var column: Int?
    /// A human-readable explanation, without the location prefix.
    public var message: String
    /// The error that caused this one, if any (e.g. the file-system error for `.unreadableFile`).
    public var cause: (any Error)?

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The kind of problem.
    ///   - source: The file or source name shown first in the description.
    ///   - line: The 1-based line, if any.
    ///   - column: The 1-based byte column within the line, if known.
    ///   - message: What is wrong, without location.
    ///   - cause: The underlying error, if any.
    public init(
        _ code: Code, source: String, line: Int? = nil, column: Int? = nil, message: String,
        cause: (any Error)? = nil
    ) {
        self.code = code
        self.source = source
        self.line = line
        self.column = column
        self.message = message
        self.cause = cause
    }

    /// `source:line:column: message`, leaving out unknown parts.
    public var description: String {
        var location = source
        if let line {
            location += ":\(line)"
            if let column { location += ":\(column)" }
        }
        return "\(location): \(message)"
    }
}
