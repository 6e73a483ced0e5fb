import ArgumentParser

/// `lstmctl`: the command-line companion of the `lstmd` daemon.
@main
struct LSTMCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstmctl",
        abstract: "Inspect, run, benchmark and control lstmd LSTM classifiers.",
        subcommands: [
            Inspect.self, Predict.self, Train.self, Evaluate.self, CrossValidate.self, Bench.self, Send.self, Listen.self,
            Status.self, Streams.self, Reset.self, Close.self, Reload.self,
        ])
}
