/// A whole multipart message received by ``ZMQSocket/receiveMultipart(maxParts:dontWait:)``.
///
/// All parts are always taken from the socket; only the first `maxParts` are kept, so a peer
/// that sends too many parts cannot leave the rest to be mistaken for the next message.
public struct ZMQMultipartMessage: Sendable, Hashable {
    /// The first parts of the message, at most the `maxParts` given to the receive.
    public var parts: [[UInt8]]
    /// The number of parts the message had, kept or not.
    public var partCount: Int

    /// Creates a message from its kept parts and its total part count.
    ///
    /// - Parameters:
    ///   - parts: The kept parts.
    ///   - partCount: The number of parts received; at least `parts.count`.
    public init(parts: [[UInt8]], partCount: Int) {
        precondition(partCount >= parts.count, "partCount \(partCount) < kept parts \(parts.count)")
        self.parts = parts
        self.partCount = partCount
    }

    /// `true` when the message had more parts than were kept.
    public var isTruncated: Bool { partCount > parts.count }
}
