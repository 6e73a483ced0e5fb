import ArgumentParser
import Daemon
import Foundation

/// Command-line options of `lstmd`: `--config`, and one flag per configuration key
/// (`Configuration.keys`: the key with dashes, `--max-streams 500`, `--ingest E` repeatable),
/// which wins over the configuration file and the `LSTMD_*` environment variables.
///
/// The key flags are read from the table rather than declared one by one, so a new key has its
/// flag and its `--help` line without an edit here.
struct DaemonOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Configuration file (key = value lines). Default: $LSTMD_CONFIG, else $CONFIGURATION_DIRECTORY/lstmd.conf when it exists; '' reads none.",
            valueName: "path"))
    var config: String?

    @Argument(
        parsing: .allUnrecognized,
        help: ArgumentHelp(
            "Configuration keys as flags: --KEY VALUE or --KEY=VALUE (the key with dashes; a list key's flag repeats). Each wins over the file and LSTMD_KEY:",
            discussion: Configuration.table.help(defaults: Configuration()),
            valueName: "--key value"))
    var settings: [String] = []

    /// Refuses an unknown flag (naming the closest), a flag without its value, or a stray
    /// argument, as a usage error (exit 64).
    func validate() throws {
        do {
            _ = try Configuration.table.flags(settings)
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// The flags given, as (configuration key, values) pairs; a list key's repeated flags are
    /// one pair, for another key the last flag wins.
    var commandLine: [(key: String, values: [String])] {
        ((try? Configuration.table.flags(settings)) ?? []).map { ($0.key, $0.values) }
    }

    /// The configuration: defaults, systemd's directories, the file, `LSTMD_*` variables, flags.
    /// - Throws: `ConfigurationError` naming the key and where its value came from.
    /// - Returns: also where each key's value came from (absent: the default).
    func configuration(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> (configuration: Configuration, file: String?, sources: [String: ConfigurationSource]) {
        try Configuration.loadWithSources(file: config, environment: environment, commandLine: commandLine)
    }
}
