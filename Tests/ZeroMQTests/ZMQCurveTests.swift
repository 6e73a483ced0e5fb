import Foundation
import Testing
import ZeroMQ

/// CURVE keys, certificate files, and a CURVE handshake checked by a ZAP handler that sets the
/// user id frames then carry.
@Suite struct ZMQCurveTests {
    @Test func z85RoundTripsAndRefusesWhatIsNotZ85() throws {
        let bytes: [UInt8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]
        #expect(ZMQCurve.encode(bytes) == "HelloWorld")  // the Z85 specification's test vector
        #expect(ZMQCurve.decode("HelloWorld") == bytes)
        #expect(ZMQCurve.encode([1, 2, 3]) == nil)
        #expect(ZMQCurve.decode("Hello") != nil && ZMQCurve.decode("Hell") == nil && ZMQCurve.decode("Hell~") == nil)
    }

    @Test func keyPairsAreKeysAndTheSecretGivesThePublic() throws {
        let pair = try ZMQCurve.keyPair()
        #expect(ZMQCurve.isKey(pair.publicKey) && ZMQCurve.isKey(pair.secretKey) && pair.publicKey != pair.secretKey)
        #expect(ZMQCurve.publicKey(forSecretKey: pair.secretKey) == pair.publicKey)
        #expect(!ZMQCurve.isKey(String(pair.publicKey.dropLast())) && !ZMQCurve.isKey(String(repeating: "~", count: 40)))
    }

    @Test func certificatesRoundTripInTheCzmqFormat() throws {
        let certificate = try ZMQCurveCertificate.generate()
        let secretText = certificate.text(includingSecret: true)
        #expect(secretText.contains("metadata\ncurve\n    public-key = \"\(certificate.publicKey)\"\n    secret-key = \""))
        #expect(try ZMQCurveCertificate(parsing: secretText, path: "a.key_secret") == certificate)
        let publicOnly = try ZMQCurveCertificate(parsing: certificate.text(includingSecret: false), path: "a.key")
        #expect(publicOnly.publicKey == certificate.publicKey && publicOnly.secretKey == nil)

        let other = try ZMQCurveCertificate.generate()
        let mismatched = "curve\n    public-key = \"\(certificate.publicKey)\"\n    secret-key = \"\(other.secretKey!)\"\n"
        #expect(throws: ZMQCurveCertificate.FileError.self) { try ZMQCurveCertificate(parsing: mismatched, path: "m") }
        #expect(throws: ZMQCurveCertificate.FileError.self) { try ZMQCurveCertificate(parsing: "metadata\n", path: "empty") }
        #expect(throws: ZMQCurveCertificate.FileError.self) {
            try ZMQCurveCertificate(parsing: "    public-key = \"short\"\n", path: "short")
        }
    }

    /// A PUSH client with the allowed key reaches a CURVE PULL server and its frames carry the
    /// user id the ZAP handler gave; a client with another key gets nothing through.
    @Test func zapHandlerAdmitsOneKeyAndFramesCarryItsUserID() throws {
        let context = try ZMQContext()
        let server = try ZMQCurveCertificate.generate(), allowed = try ZMQCurveCertificate.generate()
        let stranger = try ZMQCurveCertificate.generate()
        let zap = try ZMQSocket(.rep, context: context)
        try zap.set(.receiveTimeout, to: ZMQTestTimeout.arrival)
        try zap.bind("inproc://zeromq.zap.01")
        let pull = try ZMQSocket(.pull, context: context)
        try pull.set(.receiveTimeout, to: ZMQTestTimeout.arrival)
        try pull.makeCurveServer(secretKey: server.secretKey!, zapDomain: "test")
        let endpoint = try pull.bind("tcp://127.0.0.1:*")

        func client(_ certificate: ZMQCurveCertificate) throws -> ZMQSocket {
            let push = try ZMQSocket(.push, context: context)
            try push.makeCurveClient(serverKey: server.publicKey, publicKey: certificate.publicKey, secretKey: certificate.secretKey!)
            try push.connect(endpoint)
            return push
        }
        /// Answers requests (admitting only `allowed`) until one comes from `expected`: a refused
        /// client reconnects and asks again.
        func answer(until expected: String) throws -> String {
            while true {
                let request = try #require(try zap.receiveMultipart())
                let key = request.parts.count > 6 ? ZMQCurve.encode(request.parts[6]) : nil
                let admitted = key == allowed.publicKey
                try zap.send(parts: [
                    Array("1.0".utf8), request.parts[1], Array((admitted ? "200" : "400").utf8), Array("".utf8),
                    Array((admitted ? key! : "").utf8), [],
                ])
                if key == expected { return String(decoding: request.parts[2], as: UTF8.self) }
            }
        }

        let strangerSocket = try client(stranger)
        _ = try strangerSocket.send(Array("no".utf8), dontWait: true)
        #expect(try answer(until: stranger.publicKey) == "test")
        strangerSocket.close()

        let push = try client(allowed)
        #expect(try push.send(Array("yes".utf8)))
        _ = try answer(until: allowed.publicKey)
        var message = ZMQMessage()
        #expect(try pull.receive(into: &message))
        #expect(message.bytes == Array("yes".utf8), "only the admitted client's frame arrives")
        #expect(message.property("User-Id") == allowed.publicKey)
        #expect(message.property("No-Such-Property") == nil)
    }
}
