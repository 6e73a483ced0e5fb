import Foundation
import ZeroMQ

/// Who may use a CURVE endpoint: one allowlist per role, each the ZAP domain of its sockets.
public enum CurveRole: String, CaseIterable, Sendable {
    /// Ingest (PULL): may send frames.
    case producers
    /// Labels (PUB): may receive labels.
    case subscribers
    /// Control (REP): may send control requests.
    case operators
}

/// The client public keys admitted per role, read from the files `producers`, `subscribers` and
/// `operators` of the CURVE directory.
///
/// A file holds one key per line: 40 characters of Z85, optionally followed by white space and a
/// name or comment (`rPq…Ab  gateway-3`); or the name of a public certificate (`NAME.key`,
/// relative to the directory) whose key is taken. Lines whose first word is not a key and starts
/// with `#` are comments (Z85 has `#` in its alphabet, so a key may start with one); blank lines
/// are ignored.
struct CurveAllowlists: Sendable, Equatable {
    /// Keys (Z85) by role.
    var keys: [CurveRole: Set<String>]

    /// The file holding the server's key pair in the CURVE directory.
    static let serverCertificateFile = "server.key_secret"

    /// A line or file that cannot be used.
    struct Problem: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// Whether `key` may connect in `role`.
    func admits(_ key: String, as role: CurveRole) -> Bool { keys[role]?.contains(key) ?? false }

    /// Parses one allowlist file's text.
    /// - Parameters:
    ///   - file: named in errors (`producers`).
    ///   - directory: where certificate names are resolved; nil refuses them.
    /// - Throws: `Problem` naming `file:line` and what is wrong with it.
    static func parse(_ text: String, file: String, directory: String? = nil) throws(Problem) -> Set<String> {
        var keys: Set<String> = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard let word = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).first.map(String.init) else { continue }
            if ZMQCurve.isKey(word) {
                keys.insert(word)
            } else if word.hasPrefix("#") {
                continue
            } else if word.hasSuffix(".key"), let directory {
                let path = word.hasPrefix("/") ? word : directory + "/" + word
                do {
                    keys.insert(try ZMQCurveCertificate(contentsOfFile: path).publicKey)
                } catch {
                    throw Problem(message: "\(file):\(index + 1): \(error)")
                }
            } else {
                throw Problem(message: "\(file):\(index + 1): '\(word.prefix(60))' is not a CURVE public key (40 characters of Z85) nor a NAME.key file")
            }
        }
        return keys
    }

    /// Reads the three allowlists of `directory`.
    /// - Throws: `Problem` when a file is missing (an empty file admits no one), unreadable or
    ///   malformed.
    static func load(directory: String) throws(Problem) -> CurveAllowlists {
        var keys: [CurveRole: Set<String>] = [:]
        for role in CurveRole.allCases {
            let path = directory + "/" + role.rawValue
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                let reason = (error as NSError).localizedFailureReason ?? error.localizedDescription
                throw Problem(message: "cannot read the \(role.rawValue) allowlist \(path) (an empty file admits no one): \(reason)")
            }
            keys[role] = try parse(text, file: path, directory: directory)
        }
        return CurveAllowlists(keys: keys)
    }

    /// Keys per role, for the log (`producers=2 subscribers=1 operators=1`).
    var summary: String { CurveRole.allCases.map { "\($0.rawValue)=\(keys[$0]?.count ?? 0)" }.joined(separator: " ") }
}
