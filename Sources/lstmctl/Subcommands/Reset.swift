import ArgumentParser
import LSTMKit

/// `lstmctl reset --stream ID`: clears one stream's model state and window.
struct Reset: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Clear one stream's state (its window and LSTM state); sequence tracking stays.",
        discussion: "Exits 1 when the stream is unknown to the daemon.")

    @OptionGroup var options: ControlOptions

    @Option(help: "The stream id.")
    var stream: String

    func run() throws {
        _ = try controlRequest("reset", ["stream": .string(stream)], options: options)
        if !options.json { print("reset stream \(stream)") }
    }
}
