import ArgumentParser
import Foundation
import LSTMTraining

/// The training recipe's options, shared by `train` and `cv`: a recipe file, then one flag per
/// recipe setting (`TrainingConfiguration.table`: the key with dashes, `--learning-rate 0.001`),
/// which wins over the file.
///
/// The setting flags are read from the table rather than declared one by one, so a new setting
/// has its flag and its `--help` line without an edit here. A value may start with `-`
/// (`--learning-rate -1` takes `-1`), so validation can say what is wrong with it.
struct RecipeOptions: ParsableArguments {
    @Option(help: "A recipe file of 'key = value' lines (keys as the recipe flags, with underscores); flags override it.")
    var recipe: String?

    @Argument(
        parsing: .allUnrecognized,
        help: ArgumentHelp(
            "Recipe settings as flags: --KEY VALUE or --KEY=VALUE (the recipe key with dashes):",
            discussion: TrainingConfiguration.table.help(defaults: TrainingConfiguration()),
            valueName: "--key value"))
    var settings: [String] = []

    /// Refuses an unknown flag (naming the closest), a flag without its value, or a stray
    /// argument, as a usage error (exit 64).
    func validate() throws {
        _ = try given()
    }

    /// The flags given, as (key, value), the last of a repeated flag winning.
    func given() throws -> [(key: String, value: String)] {
        do {
            return try TrainingConfiguration.table.flags(settings).map { ($0.key, $0.values.last ?? "") }
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// Defaults, then the recipe file, then the flags.
    func configuration() throws -> TrainingConfiguration {
        var configuration = TrainingConfiguration()
        do {
            if let recipe { try configuration.apply(file: URL(fileURLWithPath: recipe)) }
            for (key, value) in try given() { try configuration.set(key, value) }
            try configuration.validate()
        } catch let error as TrainingError {
            throw InputError(error.message, exitCode: InputError.configuration)
        }
        return configuration
    }
}
