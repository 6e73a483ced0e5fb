internal import CZeroMQ

/// CURVE keys (libzmq's `zmq_curve_keypair`, `zmq_curve_public`, `zmq_z85_encode`/`decode`).
///
/// A key is 32 bytes, written as 40 characters of Z85 (ZeroMQ's base-85 text encoding); every
/// key in this API is that text form.
public enum ZMQCurve {
    /// Characters of a key in Z85.
    public static let keyLength = 40

    /// `true` when the libzmq loaded at run time supports CURVE (`zmq_has("curve")`; Debian's
    /// libzmq5 is built with libsodium).
    public static var isAvailable: Bool { zmq_has("curve") == 1 }

    /// A new random key pair (`zmq_curve_keypair`).
    /// - Returns: The public and the secret key, in Z85.
    /// - Throws: ``ZMQError`` (`ENOTSUP`) when libzmq was built without CURVE.
    public static func keyPair() throws(ZMQError) -> (publicKey: String, secretKey: String) {
        var publicKey = [CChar](repeating: 0, count: keyLength + 1)
        var secretKey = [CChar](repeating: 0, count: keyLength + 1)
        try zmqCheck("zmq_curve_keypair") { zmq_curve_keypair(&publicKey, &secretKey) }
        return (string(publicKey), string(secretKey))
    }

    /// The public key that belongs to `secretKey` (`zmq_curve_public`), or nil when `secretKey`
    /// is not a key.
    public static func publicKey(forSecretKey secretKey: String) -> String? {
        guard isKey(secretKey) else { return nil }
        var publicKey = [CChar](repeating: 0, count: keyLength + 1)
        guard zmq_curve_public(&publicKey, secretKey) == 0 else { return nil }
        return string(publicKey)
    }

    /// `true` when `text` is 40 characters of valid Z85 (a 32-byte key).
    public static func isKey(_ text: String) -> Bool {
        text.utf8.count == keyLength && decode(text)?.count == 32
    }

    /// Z85 text of `bytes` (`zmq_z85_encode`), or nil when their count is not a multiple of 4.
    public static func encode(_ bytes: [UInt8]) -> String? {
        guard bytes.count % 4 == 0 else { return nil }
        var text = [CChar](repeating: 0, count: bytes.count / 4 * 5 + 1)
        guard zmq_z85_encode(&text, bytes, bytes.count) != nil else { return nil }
        return string(text)
    }

    /// The bytes of Z85 `text` (`zmq_z85_decode`), or nil when it is not Z85 (a length that is
    /// not a multiple of 5, or a character outside the alphabet).
    public static func decode(_ text: String) -> [UInt8]? {
        let count = text.utf8.count
        guard count % 5 == 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: count / 5 * 4)
        guard zmq_z85_decode(&bytes, text) != nil else { return nil }
        return bytes
    }

    private static func string(_ characters: [CChar]) -> String {
        String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension ZMQSocket {
    /// Makes the endpoints bound from now on CURVE servers (`ZMQ_CURVE_SERVER`,
    /// `ZMQ_CURVE_SECRETKEY`) whose clients are checked by the ZAP handler of this socket's
    /// context under `zapDomain` (`ZMQ_ZAP_DOMAIN`). libzmq copies a socket's options into each
    /// listener when it binds, so endpoints bound before this call stay as they were.
    ///
    /// - Parameters:
    ///   - secretKey: The server's secret key, Z85.
    ///   - zapDomain: The domain the ZAP handler sees in each request.
    /// - Throws: ``ZMQError``; `EINVAL` for a key that is not 40 characters of Z85.
    public func makeCurveServer(secretKey: String, zapDomain: String) throws(ZMQError) {
        try setBytes(ZMQ_CURVE_SECRETKEY, Array(secretKey.utf8), "ZMQ_CURVE_SECRETKEY")
        try setBytes(ZMQ_ZAP_DOMAIN, Array(zapDomain.utf8), "ZMQ_ZAP_DOMAIN")
        var on: Int32 = 1
        let handle = liveHandle
        try zmqCheck("zmq_setsockopt(ZMQ_CURVE_SERVER)") {
            zmq_setsockopt(handle, ZMQ_CURVE_SERVER, &on, MemoryLayout<Int32>.size)
        }
    }

    /// Makes the connections made from now on CURVE clients of the server whose public key is
    /// `serverKey` (`ZMQ_CURVE_SERVERKEY`, `ZMQ_CURVE_PUBLICKEY`, `ZMQ_CURVE_SECRETKEY`). Call it
    /// before ``connect(_:)``.
    ///
    /// - Parameters:
    ///   - serverKey: The server's public key, Z85.
    ///   - publicKey: This client's public key, Z85.
    ///   - secretKey: This client's secret key, Z85.
    /// - Throws: ``ZMQError``; `EINVAL` for a key that is not 40 characters of Z85.
    public func makeCurveClient(serverKey: String, publicKey: String, secretKey: String) throws(ZMQError) {
        try setBytes(ZMQ_CURVE_SERVERKEY, Array(serverKey.utf8), "ZMQ_CURVE_SERVERKEY")
        try setBytes(ZMQ_CURVE_PUBLICKEY, Array(publicKey.utf8), "ZMQ_CURVE_PUBLICKEY")
        try setBytes(ZMQ_CURVE_SECRETKEY, Array(secretKey.utf8), "ZMQ_CURVE_SECRETKEY")
    }
}

extension ZMQMessage {
    /// A metadata property of the received message (`zmq_msg_gets`), for example `"User-Id"`
    /// (the user id the ZAP handler gave the peer) or `"Peer-Address"`; nil when the message has
    /// no such property.
    public func property(_ name: String) -> String? {
        guard let value = zmq_msg_gets(rawMessage, name) else { return nil }
        return String(cString: value)
    }
}
