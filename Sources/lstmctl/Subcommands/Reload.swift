import ArgumentParser
import LSTMKit

/// `lstmctl reload [--model PATH | --configuration]`: swaps the daemon's model and waits for the
/// outcome.
struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reload the daemon's model file, load another one, or re-read the configuration.",
        discussion: """
            Returns once the daemon has answered: the new model serves (labels carry its version) \
            or it was refused, the current one keeps serving, and this command exits 1. \
            --model PATH: the path is read by the daemon, so give it as the daemon sees it \
            (absolute is safest); the choice is recorded in the daemon's state directory and \
            survives SIGHUP, `systemctl reload` and restarts until the configured model setting \
            changes. --configuration: re-read the configuration file, environment and flags, as \
            SIGHUP does, and load the model it names (the units' ExecReload= runs this, so \
            `systemctl reload` fails visibly when the model is refused). Without either: reload \
            the file serving now. Stream states are reset; their sequence tracking stays. \
            The daemon loads a --model PATH only from its model_directory (default: \
            STATE_DIRECTORY/models and /etc/lstmd/models; a relative PATH is taken inside the first), \
            never through a symbolic link, and at most max_model_bytes; a file whose tensor checksum \
            does not match, or with bytes after its last tensor, is refused. A model whose input \
            channels or class names differ from the running one is refused unless --force. The \
            load runs beside serving (labels keep flowing); the daemon answers after the swap, so \
            give --timeout enough for a large model.
            """)

    @OptionGroup var options: ControlOptions

    @Option(help: "A .safetensors model file. Default: the file the daemon serves now.")
    var model: String?

    @Flag(name: .customLong("configuration"), help: "Re-read the daemon's configuration (as SIGHUP) and load the model it names.")
    var rereadConfiguration = false

    @Flag(help: "Load the model even if its input channels or class names differ from the running model's (logged).")
    var force = false

    func validate() throws {
        if rereadConfiguration, model != nil { throw ValidationError("give --model or --configuration, not both") }
        if rereadConfiguration, force { throw ValidationError("--force applies to --model or the current file, not to --configuration") }
    }

    func run() throws {
        var fields: [String: JSONValue] = [:]
        if let model { fields["model"] = .string(model) }
        if rereadConfiguration { fields["configuration"] = .bool(true) }
        if force { fields["force"] = .bool(true) }
        let reply = try controlRequest("reload", fields, options: options)
        if !options.json {
            print("reloaded \(reply["model"]?.stringValue ?? "-"): version \(reply["model_version"]?.stringValue ?? "-")")
        }
    }
}
