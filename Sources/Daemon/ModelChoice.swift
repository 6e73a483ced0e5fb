import Foundation
import LSTMKit
import Logging

/// Which model file is current: the one rule shared by start, SIGHUP/`systemctl reload` and the
/// control socket's `reload`.
///
/// The configured model (`model =`, `LSTMD_MODEL`, `--model`; the bundled default when unset)
/// serves, unless an operator has since loaded another file with `lstmctl reload --model PATH`.
/// That choice is recorded in `STATE_DIRECTORY/model-choice.json` and survives SIGHUP,
/// `systemctl reload` and restarts for as long as the configured model setting is the one it was
/// made under. When the configured setting changes (the operator edited `model =`), the
/// configuration wins and the record is dropped. Loading the configured file by hand
/// (`lstmctl reload --model <configured path>`) also drops it. Without a state directory nothing
/// is recorded and a control-socket choice lasts until the next SIGHUP or restart.
struct ModelChoice: Equatable, Sendable {
    /// The model file the operator loaded.
    var model: String
    /// The configured `model` setting when the choice was made (`nil`: the bundled default).
    var configured: String?

    /// The record's file name inside the state directory.
    static let fileName = "model-choice.json"

    /// The record's location, when there is a state directory.
    static func url(stateDirectory: String?) -> URL? {
        stateDirectory.map { URL(fileURLWithPath: $0).appendingPathComponent(fileName) }
    }

    /// The model file to serve under `configured`, and whether it is an operator's choice.
    /// - Parameters:
    ///   - configured: The configured `model` setting (`nil`: the bundled default).
    ///   - record: The recorded choice, if any.
    static func resolve(configured: String?, record: ModelChoice?) -> (path: String?, chosen: Bool) {
        if let record, record.configured == configured { return (record.model, true) }
        return (configured, false)
    }

    /// Reads the record; `nil` when there is none.
    /// - Throws: `DaemonError` when the file exists but cannot be read or parsed.
    static func load(stateDirectory: String?) throws -> ModelChoice? {
        guard let url = url(stateDirectory: stateDirectory), FileManager.default.fileExists(atPath: url.path) else {
            return nil
        }
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw DaemonError("\(url.path): cannot read: \(error.localizedDescription)")
        }
        guard let value = try? JSONValue.parse(text), let model = value["model"]?.stringValue else {
            throw DaemonError("\(url.path): not a model choice record (expected {\"model\": PATH, \"configured\": PATH|null})")
        }
        return ModelChoice(model: model, configured: value["configured"]?.stringValue)
    }

    /// The model file to serve under `configuration` and whether it is an operator's choice,
    /// reading the record from its state directory. A record made under another configured model
    /// is dropped (the configuration changed since: it wins), an unreadable one is logged and
    /// ignored.
    static func resolve(_ configuration: Configuration, logger: Logger) -> (path: String?, chosen: Bool) {
        let record: ModelChoice?
        do {
            record = try load(stateDirectory: configuration.stateDirectory)
        } catch {
            logger.error("model choice record ignored", metadata: ["error": "\(error)"])
            return (configuration.modelPath, false)
        }
        if let record, record.configured != configuration.modelPath {
            logger.notice(
                "the configured model changed since `lstmctl reload --model` chose one: the configuration wins",
                metadata: ["chosen": "\(record.model)", "configured": "\(configuration.modelPath ?? "bundled default")"])
            remove(stateDirectory: configuration.stateDirectory)
        }
        return resolve(configured: configuration.modelPath, record: record)
    }

    /// Whether two model paths name the same file (symlinks, `..` and relative spellings
    /// resolved), so loading the configured file by another spelling is not a "choice".
    static func sameFile(_ a: String?, _ b: String?) -> Bool {
        guard let a, let b else { return a == b }
        func canonical(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path }
        return a == b || canonical(a) == canonical(b)
    }

    /// Writes the record atomically.
    func save(stateDirectory: String?) throws {
        guard let url = Self.url(stateDirectory: stateDirectory) else { return }
        let value = JSONValue.object(["model": .string(model), "configured": configured.map { .string($0) } ?? .null])
        try AtomicFile.write(Array((value.jsonText + "\n").utf8), to: url)
    }

    /// Removes the record, if any.
    static func remove(stateDirectory: String?) {
        guard let url = url(stateDirectory: stateDirectory) else { return }
        try? FileManager.default.removeItem(at: url)
    }
}
