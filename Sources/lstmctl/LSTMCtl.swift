import ArgumentParser
import Foundation
import LSTMKit

/// `lstmctl`: the command-line companion of the `lstmd` daemon.
@main
struct LSTMCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstmctl",
        abstract: "Inspect, run, benchmark and control lstmd LSTM classifiers.",
        subcommands: [
            Inspect.self, Predict.self, Train.self, Evaluate.self, CrossValidate.self, Tune.self, Bench.self, Send.self, Listen.self,
            Status.self, Streams.self, Reset.self, Close.self, Reload.self, Label.self, Retrain.self, Models.self, Rollback.self,
            Keygen.self,
        ])

    /// Runs the chosen subcommand. `InputError`s (bad data, bad setting values) print their
    /// message without the usage banner and exit 65/78; everything else goes through
    /// ArgumentParser (usage mistakes: banner and 64; failures: 1).
    static func main() async {
        do {
            try ISA.validateEnvironment()
        } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            Foundation.exit(InputError.configuration)
        }
        do {
            var command = try parseAsRoot()
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch let error as InputError {
            FileHandle.standardError.write(Data("Error: \(error.message)\n".utf8))
            Foundation.exit(error.exitCode)
        } catch {
            exit(withError: error)
        }
    }
}
