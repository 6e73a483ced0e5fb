import ZeroMQ

/// The ingest socket's stage: takes one message off the PULL socket into reused buffers and hands
/// its parts to `FrameDecoder`. No allocation per frame.
final class FrameReceiver {
    /// What one receive gave.
    enum Outcome {
        /// Nothing was waiting.
        case empty
        /// A checked frame; its values are in `values[0 ..< T × C]`, its id in `withStreamID`.
        case frame(FrameHeader)
        /// Not a frame; its id (if any) is in `withStreamID`.
        case dropped(FrameRejection)
    }

    let socket: ZMQSocket
    /// The last frame's payload, `[T, C]`.
    private(set) var values: [Float] = []
    private var idPart = ZMQMessage()
    private var headerPart = ZMQMessage()
    private var payloadPart = ZMQMessage()
    private var extraPart = ZMQMessage()

    init(socket: ZMQSocket) {
        self.socket = socket
    }

    /// Receives one whole message without waiting.
    /// - Throws: `ZMQError` when the socket fails (for instance, the context was terminated).
    func receive(limits: FrameLimits) throws(ZMQError) -> Outcome {
        guard try socket.receive(into: &idPart, dontWait: true) else { return .empty }
        // The parts of a message arrive together: none of these waits.
        var parts = 1
        if idPart.hasMore, try socket.receive(into: &headerPart, dontWait: true) {
            parts = 2
            if headerPart.hasMore, try socket.receive(into: &payloadPart, dontWait: true) {
                parts = 3
                var more = payloadPart.hasMore
                while more, try socket.receive(into: &extraPart, dontWait: true) {
                    parts += 1
                    more = extraPart.hasMore
                }
            }
        }
        if parts < 3 {
            // Parts 2 and 3 may hold an earlier message's bytes: never decode them.
            return .dropped(FrameRejection(.wrongParts, .parts(parts)))
        }
        let result = idPart.withUnsafeBytes { id in
            headerPart.withUnsafeBytes { header in
                payloadPart.withUnsafeBytes { payload in
                    FrameDecoder.decode(parts: parts, id: id, header: header, payload: payload, limits: limits, into: &values)
                }
            }
        }
        switch result {
        case .success(let header): return .frame(header)
        case .failure(let rejection): return .dropped(rejection)
        }
    }

    /// Runs `body` with the last message's first part (the stream id's bytes).
    func withStreamID<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try idPart.withUnsafeBytes(body)
    }

    /// The CURVE key (Z85) of the last message's sender: the user id the ZAP handler gave it; nil
    /// for a peer without CURVE.
    var senderKey: String? { idPart.property("User-Id") }

    /// Bytes in the last message's first part.
    var streamIDCount: Int { idPart.count }
}

/// The label socket's stage: publishes label messages and model events (topic part, then the
/// JSON part). Never blocks: a subscriber that cannot keep up loses messages at its high-water
/// mark, as PUB does.
final class LabelPublisher {
    let socket: ZMQSocket

    init(socket: ZMQSocket) {
        self.socket = socket
    }

    /// Sends `message` on `topic`.
    /// - Throws: `ZMQError` when the socket refuses it.
    func publish(topic: String, message: String) throws(ZMQError) {
        try socket.send(topic.utf8, more: true, dontWait: true)
        try socket.send(message.utf8, dontWait: true)
    }
}
