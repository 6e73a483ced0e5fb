import ArgumentParser
import Foundation
import ZeroMQ

/// `lstmctl keygen --out DIR/NAME`: a CURVE key pair as `NAME.key` and `NAME.key_secret`.
struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a CURVE key pair: NAME.key (public) and NAME.key_secret (secret, mode 0600).",
        discussion: """
            The files are czmq/pyzmq certificates (zmq.auth.load_certificate reads them). For the \
            daemon: lstmctl keygen --out /etc/lstmd/curve/server. For a client: keygen a pair on \
            the client, add the printed public key to the daemon's allowlist (producers, \
            subscribers or operators) and reload lstmd; the client then connects with \
            --server-key server.key --client-key NAME.key_secret. Prints the public key. Refuses \
            to overwrite existing files unless --force.
            """)

    @Option(help: ArgumentHelp("Path and name of the pair, without extension (DIR/NAME).", valueName: "path"))
    var out: String

    @Flag(help: "Replace existing NAME.key and NAME.key_secret.")
    var force = false

    func run() throws {
        let certificate: ZMQCurveCertificate
        do {
            certificate = try ZMQCurveCertificate.generate()
        } catch {
            throw CommandFailure("cannot make a CURVE key pair: \(error)")
        }
        let publicPath = out + ".key", secretPath = out + ".key_secret"
        if !force {
            for path in [publicPath, secretPath] where FileManager.default.fileExists(atPath: path) {
                throw CommandFailure("\(path) exists: give --force to replace it (clients holding its key lose access)")
            }
        }
        try write(certificate.text(includingSecret: true), to: secretPath, mode: 0o600)
        try write(certificate.text(includingSecret: false), to: publicPath, mode: 0o644)
        print(certificate.publicKey)
    }

    /// Writes `text` to a new file created with `mode` (never readable by others in between).
    private func write(_ text: String, to path: String, mode: mode_t) throws {
        if force { unlink(path) }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw CommandFailure("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(descriptor) == 0 else {
            throw CommandFailure("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
