import ArgumentParser
import LSTMKit

/// `lstmctl close --stream ID`: forgets one stream.
struct Close: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Forget one stream: its state and sequence tracking are dropped.",
        discussion: "Its next frame starts a new stream. Exits 1 when the stream is unknown to the daemon.")

    @OptionGroup var options: ControlOptions

    @Option(help: "The stream id.")
    var stream: String

    func run() throws {
        _ = try controlRequest("close", ["stream": .string(stream)], options: options)
        if !options.json { print("closed stream \(stream)") }
    }
}
