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
            a file that no longer loads) and exit status 1, the serving model unchanged.
            """)

    @OptionGroup var options: ControlOptions

    @Argument(help: "The version to serve, as 'lstmctl models' lists it.")
    var version: String

    func validate() throws {
        guard !version.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("VERSION must name a stored model version") }
    }

    func run() throws {
        let reply = try controlRequest("rollback", ["version": .string(version)], options: options)
        if !options.json {
            print("now serving \(formatNumber(reply["model_version"] ?? .string(version))) (\(reply["model"]?.stringValue ?? "-"))")
        }
    }
}
