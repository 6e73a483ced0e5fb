import ArgumentParser
import Foundation
import LSTMKit
import LSTMTraining

/// `lstmctl bench train`: seconds per training epoch and peak memory, against PyTorch in the same run.
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Seconds per epoch training L×LSTM(H) → dense on synthetic windows (PyTorch baseline with --compare-pytorch).",
        discussion: """
            The workload of deploy/tools/bench_train_pytorch.py: N windows of T × C (N(0, 0.25) noise plus \
            a class-dependent sinusoid, generated from the same SplitMix64 streams), head "last", \
            unidirectional layers (nn.LSTM's default; `--bidirectional` measures lstmd alone with \
            both directions; `--front-end 64x5,64x5` puts lstmd's causal convolutional front end, \
            Conv1d + BatchNorm + ReLU per layer, before the LSTMs on both sides), cross-entropy, Adam 1e-3, gradient clipping at global norm 1, batch B, \
            no dropout, no augmentation, no validation. Runs the real trainer (`lstmctl train`'s code path). Reports \
            each epoch's seconds, the median over the epochs after the first (when there are ≥ 3), \
            samples/s and peak resident memory.
            """)

    @Option(help: "Windows N.") var samples = 4096
    @Option(help: "Timesteps T.") var timesteps = 100
    @Option(help: "Channels C.") var channels = 6
    @Option(help: "Hidden size H.") var hidden = 64
    @Option(help: "LSTM layers L.") var layers = 2
    @Option(help: "Classes K.") var classes = 4
    @Option(help: "Batch size B.") var batch = 64
    @Option(help: "Epochs.") var epochs = 3
    @Option(help: "Threads (batch shards).") var threads = 2
    @Option(help: "Seed.") var seed: UInt64 = 0
    @Flag(help: "Bidirectional LSTM layers (lstmd only: the PyTorch baseline is unidirectional).")
    var bidirectional = false
    @Option(help: "Convolutional front end before the LSTMs, FILTERSxKERNEL layers (e.g. 64x5,64x5), or none.")
    var frontEnd = "none"

    @Flag(help: "Also run deploy/tools/bench_train_pytorch.py with the same settings and print the ratio.")
    var comparePytorch = false

    func validate() throws {
        if bidirectional && comparePytorch {
            throw ValidationError("--compare-pytorch runs PyTorch's unidirectional workload; drop --bidirectional to compare")
        }
    }

    func run() throws {
        let frontEnd = try frontEndOption(self.frontEnd)
        let rssBefore = peakResidentMiB()
        let dataset = Self.synthetic(samples: samples, timesteps: timesteps, channels: channels, classes: classes, seed: seed)
        var configuration = TrainingConfiguration()
        configuration.hiddenSize = hidden
        configuration.layers = layers
        // Explicit: the trainer's default is bidirectional, the PyTorch baseline's is not.
        configuration.bidirectional = bidirectional
        configuration.frontEnd = frontEnd
        configuration.head = .last
        configuration.dropout = .init()
        configuration.augmentation = .none
        configuration.validationFraction = 0
        configuration.optimizer = Optimizer.Settings(kind: .adam, learningRate: 1e-3, clipNorm: 1)
        configuration.schedule = .constant
        configuration.epochs = epochs
        configuration.batchSize = batch
        configuration.patience = 0
        configuration.threads = threads
        configuration.seed = seed
        let trainer = try Trainer(configuration: configuration)
        let kind = bidirectional ? "bidirectional " : ""
        let stack = frontEnd.isEmpty ? "" : frontEndDescription(frontEnd) + " (+ batch norm + ReLU) → "
        print("lstmctl bench train: N=\(samples) T=\(timesteps) C=\(channels), \(stack)\(layers)×\(kind)LSTM(\(hidden)) → dense(\(classes)), batch \(batch), \(threads) threads")
        printComputePaths()
        let result = try trainer.train(dataset) { event in
            if case .epoch(let record, _) = event {
                print(String(format: "  epoch %d: %.3f s, loss %.4f", record.epoch, record.seconds, record.trainLoss))
                fflush(nil)
            }
        }
        let seconds = result.history.epochs.map(\.seconds)
        let timed = seconds.count >= 3 ? Array(seconds.dropFirst()) : seconds
        let median = timed.sorted()[timed.count / 2]
        let peak = peakResidentMiB()
        // Forward and backward gate (and convolution) products: the backward pass multiplies twice
        // as much (input and weight gradients), so an epoch is about 3× the forward FLOPs.
        let architecture = Architecture(
            inputSize: channels, hiddenSize: hidden, numLayers: layers, bidirectional: bidirectional, numClasses: classes,
            frontEnd: frontEnd)
        let flops = 3 * Double(samples * timesteps) * lstmFlopsPerTimestep(architecture)
        print(String(format: "lstmd:   median %.3f s/epoch (min %.3f), %.0f samples/s, %.1f GFLOP/s (3× the forward %@), peak RSS %.1f MiB (%.1f MiB before training)",
                     median, timed.min() ?? 0, Double(samples) / median, flops / median / 1e9, frontEnd.isEmpty ? "gate products" : "gate and convolution products", peak, rssBefore))
        guard comparePytorch else { return }
        let arguments = [
            "--samples", "\(samples)", "--timesteps", "\(timesteps)", "--channels", "\(channels)", "--hidden", "\(hidden)",
            "--layers", "\(layers)", "--classes", "\(classes)", "--batch", "\(batch)", "--epochs", "\(epochs)",
            "--threads", "\(threads)", "--seed", "\(seed)", "--front-end",
            frontEnd.isEmpty ? "none" : frontEnd.map { "\($0.filters)x\($0.kernel)" }.joined(separator: ","), "--json",
        ]
        guard let output = try runPythonTool("bench_train_pytorch.py", arguments),
            let object = try? JSONValue.parse(output.split(separator: "\n").last.map(String.init) ?? ""),
            let theirs = object["median_seconds_per_epoch"]?.numberValue
        else {
            throw CommandFailure("the PyTorch baseline did not produce a result; is torch installed? (pip install torch)")
        }
        let theirPeak = object["peak_rss_mib"]?.numberValue ?? 0
        print(String(format: "pytorch: median %.3f s/epoch, %.0f samples/s, peak RSS %.1f MiB (torch %@)",
                     theirs, Double(samples) / theirs, theirPeak, object["torch_version"]?.stringValue ?? "?"))
        print(String(format: "ratio: lstmd is %.2f× PyTorch's speed (PyTorch s/epoch ÷ lstmd s/epoch)", theirs / median))
    }

    /// The bench's data, from the SplitMix64 streams documented in bench_train_pytorch.py.
    static func synthetic(samples n: Int, timesteps t: Int, channels c: Int, classes k: Int, seed: UInt64) -> Dataset {
        var keys = SplitMix64(seed: seed)
        var stream = SplitMix64(seed: keys.next())
        func uniform() -> Double { Double(stream.next() >> 11) * 0x1p-53 }
        let phases = (0..<n).map { _ in 2 * Double.pi * uniform() }
        var samplesOut: [Dataset.Sample] = []
        samplesOut.reserveCapacity(n)
        for i in 0..<n {
            let label = i % k
            var values = [Float](repeating: 0, count: t * c)
            for step in 0..<t {
                for channel in 0..<c {
                    let u1 = 1 - uniform(), u2 = uniform()
                    let g = (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
                    let signal = channel == label % c
                        ? Foundation.sin(2 * Double.pi * Double(label + 1) * Double(step) / Double(t) + phases[i]) : 0
                    values[step * c + channel] = Float(0.5 * g + signal)
                }
            }
            samplesOut.append(.init(values: values, length: t, label: label))
        }
        return Dataset(samples: samplesOut, channels: c, classNames: (0..<k).map { "class\($0)" })
    }
}

/// Peak resident set size of this process, in MiB.
func peakResidentMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Runs the Python helper `NAME ARGS` (see `pythonToolPath`); returns its standard output.
func runPythonTool(_ name: String, _ arguments: [String]) throws -> String? {
    let process = try pythonTool(name, arguments)
    let command = process.arguments!.joined(separator: " ")
    let pipe = Pipe()
    process.standardOutput = pipe
    print("\nPyTorch baseline: \(command)")
    fflush(nil)
    do {
        try process.run()
    } catch {
        printError("cannot run \(command): \(error)")
        return nil
    }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return process.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
}
