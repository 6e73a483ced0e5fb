/// An error raised while reading, validating or writing a model file or its inputs.
///
/// Each error names the problem precisely enough to fix it: the tensor, the metadata key, the
/// offset. `code` is stable and machine-readable; `message` is for people.
public struct ModelError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A stable, machine-readable category.
    public enum Code: String, Sendable, Equatable {
        /// The file could not be read or written.
        case io
        /// The bytes are not a valid safetensors container (header length, JSON, offsets).
        case container
        /// A metadata key is missing or holds an invalid value.
        case metadata
        /// The architecture description is invalid.
        case architecture
        /// A tensor is missing, unexpected, of the wrong dtype or shape, or holds non-finite values.
        case tensor
        /// The tensor data does not match the checksum stored with it (a corrupt file).
        case integrity
        /// An input given to the model does not fit it (channels, lengths, values).
        case input
    }

    /// The category of the problem.
    public var code: Code
    /// A human-readable description naming the problem.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
