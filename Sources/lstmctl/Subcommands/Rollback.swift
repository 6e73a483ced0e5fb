import ArgumentParser
import LSTMKit

/// `lstmctl rollback VERSION`: serves a stored model version again.
struct Rollback: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a stored model version again (see 'lstmctl models').",
        discussion: """
            Sends {"command":"rollback","version":VERSION}. The daemon loads the version from its \
            model store, swaps it in as it does for a promotion (no frame is dropped) and records \
            it as the store's current version. Returns once the daemon has \
            answered: 'now serving VERSION (path)', or the daemon's reason (an unknown version, \
            a file that no longer loads, input channels or classes that differ from the running \
            model's without --force) and exit status 1, the serving model unchanged.
            """)

    @OptionGroup var options: ControlOptions

    @Argument(help: "The version to serve, as 'lstmctl models' lists it.")
    var version: String

    @Flag(help: "Serve it even if its input channels or class names differ from the running model's (logged).")
    var force = false

    func validate() throws {
        guard !version.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("VERSION must name a stored model version") }
    }

    func run() throws {
        var fields: [String: JSONValue] = ["version": .string(version)]
        if force { fields["force"] = .bool(true) }
        let reply = try controlRequest("rollback", fields, options: options)
        if !options.json {
            print("now serving \(formatNumber(reply["model_version"] ?? .string(version))) (\(reply["model"]?.stringValue ?? "-"))")
        }
    }
}
