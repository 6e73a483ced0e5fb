import ArgumentParser
import ZeroMQ

/// `--server-key FILE --client-key FILE`: connect with CURVE. Every subcommand that opens a
/// socket to lstmd takes them (both or neither).
struct CurveOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The daemon's public certificate (server.key from lstmctl keygen): connect with CURVE.", valueName: "file"))
    var serverKey: String?

    @Option(help: ArgumentHelp("This client's certificate with its secret key (NAME.key_secret); with --server-key.", valueName: "file"))
    var clientKey: String?

    func validate() throws {
        guard (serverKey == nil) == (clientKey == nil) else {
            throw ValidationError("--server-key and --client-key go together (CURVE needs the daemon's public key and yours)")
        }
    }

    /// The same flags, for a command that builds `ControlOptions` itself.
    var arguments: [String] {
        guard let serverKey, let clientKey else { return [] }
        return ["--server-key", serverKey, "--client-key", clientKey]
    }

    /// The keys to connect with, read from the files; nil without `--server-key`.
    /// - Throws: `InputError` (exit 78) naming the file when one cannot be read or holds no key.
    func keys() throws -> CurveClientKeys? {
        guard let serverKey, let clientKey else { return nil }
        do {
            let server = try ZMQCurveCertificate(contentsOfFile: serverKey)
            let client = try ZMQCurveCertificate(contentsOfFile: clientKey, requiringSecret: true)
            return CurveClientKeys(serverKey: server.publicKey, publicKey: client.publicKey, secretKey: client.secretKey!)
        } catch {
            throw InputError("\(error)", exitCode: InputError.configuration)
        }
    }
}

/// A CURVE client's keys, Z85.
struct CurveClientKeys: Sendable {
    var serverKey: String
    var publicKey: String
    var secretKey: String

    /// Makes `socket` a CURVE client of the daemon; call before `connect`.
    func apply(to socket: ZMQSocket) throws(ZMQError) {
        try socket.makeCurveClient(serverKey: serverKey, publicKey: publicKey, secretKey: secretKey)
    }
}

extension Optional where Wrapped == CurveClientKeys {
    /// Makes `socket` a CURVE client when there are keys.
    func apply(to socket: ZMQSocket) throws(ZMQError) {
        if let keys = self { try keys.apply(to: socket) }
    }
}
