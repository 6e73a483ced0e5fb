/// An error raised by the retraining module: the labelled buffer's files, the model store, the
/// inputs given to either.
///
/// `code` is stable and machine-readable; `message` names the file, the version or the value;
/// `cause` keeps the underlying error (for instance a `ModelError` or the `errno` text) when there
/// is one.
public struct RetrainingError: Error, CustomStringConvertible, Sendable {
    /// A stable, machine-readable category.
    public enum Code: String, Sendable, Equatable {
        /// A file or directory could not be created, read, written, synced or renamed.
        case io
        /// A file's bytes are not what this module wrote (magic, version, checksum, JSON).
        case corrupt
        /// A version, record or value is invalid (a version name that is not a safe file name, a
        /// record too large for the format).
        case invalid
        /// The requested version does not exist in the store.
        case notFound
        /// A stored model failed the injected validation (it does not load).
        case unusable
    }

    /// The category of the problem.
    public var code: Code
    /// A human-readable description naming the file, version or value.
    public var message: String
    /// The underlying error, if any.
    public var cause: (any Error & Sendable)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        guard let cause else { return message }
        return "\(message): \(cause)"
    }
}
