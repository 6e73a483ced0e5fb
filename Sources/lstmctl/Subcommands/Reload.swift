import ArgumentParser
import LSTMKit

/// `lstmctl reload [--model PATH]`: swaps the daemon's model.
struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reload the daemon's model file, or load another one.",
        discussion: """
            The path is read by the daemon, so give it as the daemon sees it (absolute is safest). \
            A model that does not load or does not fit is refused, the current one keeps serving, \
            and this command exits 1. Stream states are reset; their sequence tracking stays.
            """)

    @OptionGroup var options: ControlOptions

    @Option(help: "A .safetensors model file. Default: the file the daemon serves now.")
    var model: String?

    func run() throws {
        let reply = try controlRequest("reload", model.map { ["model": .string($0)] } ?? [:], options: options)
        if !options.json {
            print("reloaded \(reply["model"]?.stringValue ?? "-"): version \(reply["model_version"]?.stringValue ?? "-")")
        }
    }
}
