import ArgumentParser
import Foundation
import LSTMKit
import LSTMTraining

/// `lstmctl bench …`: speed measurements (benchmarks, never timed tests).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure inference and training speed.",
        discussion: "Build with `swift build -c release` first; debug builds are 10-50× slower.",
        subcommands: [BenchStep.self, BenchWindow.self, BenchE2E.self, BenchTrain.self, BenchRetrain.self])
}

/// Options shared by the benchmarks.
struct BenchOptions: ParsableArguments {
    @Option(help: "Input channels C.")
    var channels = 6

    @Option(help: "Classes K.")
    var classes = 4

    @Option(help: "Minimum measuring time per case, in seconds.")
    var seconds = 0.5

    @Flag(help: "Also run deploy/tools/bench_pytorch.py (needs python3 with torch) for a baseline in the same run.")
    var comparePytorch = false
}

/// A `--front-end` value (`FILTERSxKERNEL,...` or `none`), read as the recipe key `front_end`.
/// - Throws: `ValidationError` naming the option.
func frontEndOption(_ text: String) throws -> [Architecture.ConvolutionLayer] {
    var recipe = TrainingConfiguration()
    do {
        try recipe.set("front_end", text)
        try recipe.validate()
    } catch let error as TrainingError {
        throw ValidationError("--front-end: \(error.message)")
    }
    return recipe.frontEnd
}

/// `Conv1d(64, k5) → Conv1d(64, k5)`.
func frontEndDescription(_ layers: [Architecture.ConvolutionLayer]) -> String {
    layers.map { "Conv1d(\($0.filters), k\($0.kernel))" }.joined(separator: " → ")
}

/// The gate-product FLOPs of the LSTM layers for one timestep of one sequence (a multiply-add
/// counts 2): Σ over layers and directions of 2·4H·(inputs + H). What every bench's GFLOP/s uses.
/// A convolutional front end adds its layers' 2·F·Cin·k.
func lstmFlopsPerTimestep(_ architecture: Architecture) -> Double {
    let h = architecture.hiddenSize, directions = architecture.directions
    var total = 0
    for (index, layer) in architecture.frontEnd.enumerated() {
        total += 2 * layer.filters * architecture.frontEndInputs(index) * layer.kernel
    }
    for layer in 0..<architecture.numLayers {
        let inputs = layer == 0 ? architecture.lstmInputSize : h * directions
        total += directions * 2 * 4 * h * (inputs + h)
    }
    return Double(total)
}

/// The line under every bench's title: the CPU model, the instruction-set path, the kernels and
/// the GEMM that produce its numbers.
func printComputePaths() {
    print("machine: \(ComputePath.summary)")
}

/// Parses "32,64,128".
func integerList(_ text: String) throws -> [Int] {
    try text.split(separator: ",").map {
        guard let value = Int($0.trimmingCharacters(in: .whitespaces)), value > 0 else {
            throw ValidationError("'\(text)' is not a comma-separated list of positive integers")
        }
        return value
    }
}

/// The fastest time, in ns, to read `bytes` once with SIMD loads into 8 independent accumulators,
/// repeated (so the buffer sits in whichever cache level holds it, as a step's weights do).
func streamingReadNanoseconds(bytes: Int, seconds: Double) -> Double {
    let count = (bytes + 511) / 512 * 128
    let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
    defer { buffer.deallocate() }
    buffer.initialize(repeating: 1, count: count)
    var best = Double.infinity
    var sink: Float = 0
    var elapsed = 0.0
    while elapsed < seconds {
        let passes = 64
        let time = measure {
            for _ in 0..<passes { sink += readPass(buffer, count: count) }
        }
        elapsed += time
        best = min(best, time / Double(passes) * 1e9)
    }
    if sink == -1 { print("") }  // keeps the loads
    return best
}

/// One read of `count` floats (a multiple of 128) with SIMD loads into 8 accumulators. A function
/// of its own, so the accumulators live in registers (captured by a closure they went through
/// memory, and the "floor" came out slower than the step it bounds).
@inline(never)
private func readPass(_ buffer: UnsafePointer<Float>, count: Int) -> Float {
    typealias V = SIMD16<Float>
    var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V(), a6 = V(), a7 = V()
    var q = UnsafeRawPointer(buffer)
    let end = UnsafeRawPointer(buffer + count)
    while q < end {
        a0 += q.loadUnaligned(as: V.self)
        a1 += q.loadUnaligned(fromByteOffset: 64, as: V.self)
        a2 += q.loadUnaligned(fromByteOffset: 128, as: V.self)
        a3 += q.loadUnaligned(fromByteOffset: 192, as: V.self)
        a4 += q.loadUnaligned(fromByteOffset: 256, as: V.self)
        a5 += q.loadUnaligned(fromByteOffset: 320, as: V.self)
        a6 += q.loadUnaligned(fromByteOffset: 384, as: V.self)
        a7 += q.loadUnaligned(fromByteOffset: 448, as: V.self)
        q += 512
    }
    return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7).sum()
}

/// Seconds elapsed while running `body`.
func measure(_ body: () -> Void) -> Double {
    let clock = ContinuousClock()
    let elapsed = clock.measure(body)
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
}

/// A `python3 deploy/tools/NAME ARGS…` process from the source tree (not yet started).
func pythonTool(_ name: String, _ arguments: [String]) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", try pythonToolPath(name)] + arguments
    return process
}

/// Where the Python helper `name` is: `$LSTMD_TOOLS_DIR`, else next to an installed `lstmctl`
/// (`PREFIX/bin/lstmctl` → `PREFIX/share/lstmd/tools/`, where deploy/install.sh puts them), else
/// the source checkout this binary was built from (`deploy/tools/`).
/// - Throws: `CommandFailure` naming the places looked at when none has it.
func pythonToolPath(_ name: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
    var candidates: [String] = []
    if let directory = environment["LSTMD_TOOLS_DIR"], !directory.isEmpty { candidates.append(directory + "/" + name) }
    candidates.append(executableDirectory().deletingLastPathComponent().appendingPathComponent("share/lstmd/tools/\(name)").path)
    let checkout = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy/tools/\(name)")
    candidates.append(checkout.path)
    guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
        throw CommandFailure("\(name) not found; looked in: \(candidates.joined(separator: ", ")) (set LSTMD_TOOLS_DIR)")
    }
    return found
}

/// The directory of the running `lstmctl` (from /proc/self/exe: `argv[0]` is only a name when
/// it was found through PATH).
func executableDirectory() -> URL {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    let path = count > 0 ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    return URL(fileURLWithPath: path).resolvingSymlinksInPath().deletingLastPathComponent()
}

/// Runs the PyTorch reference script and prints its output.
/// - Throws: `CommandFailure` when it cannot run or fails (for example without torch), so a
///   comparison that did not happen never looks like a success.
func runPytorchBaseline(_ arguments: [String]) throws {
    let process = try pythonTool("bench_pytorch.py", arguments)
    let command = process.arguments!.joined(separator: " ")
    print("\nPyTorch baseline: \(command)")
    fflush(nil)
    do {
        try process.run()
        process.waitUntilExit()
    } catch {
        throw CommandFailure("cannot run the PyTorch baseline: \(error)")
    }
    guard process.terminationStatus == 0 else {
        throw CommandFailure(
            "the PyTorch baseline failed (exit \(process.terminationStatus)); is torch installed? (pip install torch)")
    }
}

struct BenchStep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "ns per timestep of the incremental step (batch 1, one thread).",
        discussion: """
            An ensemble of N members (--ensemble) steps every member and averages their probabilities: \
            its rows show the cost against the single model of the same shape (x single), about N. \
            With --front-end (e.g. 64x5,64x5, the tuner's) every model gets that convolutional front end, \
            stepped from each state's input history.
            """)

    @OptionGroup var options: BenchOptions

    @Option(help: "Hidden sizes H.")
    var hidden = "32,64,128"

    @Option(help: "Layer counts L.")
    var layers = "1,2"

    @Option(help: "Ensemble sizes N (members stepped per timestep), comma-separated, each in 1...16.")
    var ensemble = "1,3"

    @Option(name: .customLong("front-end"), help: "Convolutional front end of every model: FILTERSxKERNEL,... or none.")
    var frontEnd = "none"

    func run() throws {
        let frontEnd = try frontEndOption(self.frontEnd)
        let hiddenSizes = try integerList(hidden), layerCounts = try integerList(layers)
        let ensembleSizes = try integerList(ensemble)
        guard let bad = ensembleSizes.first(where: { !(1...ModelFile.maxEnsemble).contains($0) }) else {
            return try runCases(
                hiddenSizes: hiddenSizes, layerCounts: layerCounts, ensembleSizes: ensembleSizes, frontEnd: frontEnd)
        }
        throw ValidationError("--ensemble \(bad) must be in 1...\(ModelFile.maxEnsemble)")
    }

    private func runCases(
        hiddenSizes: [Int], layerCounts: [Int], ensembleSizes: [Int], frontEnd: [Architecture.ConvolutionLayer]
    ) throws {
        let c = options.channels, seconds = options.seconds
        print("lstmctl bench step: batch 1, C=\(options.channels), one thread, scaler applied, no allocation")
        if !frontEnd.isEmpty {
            print("front end: \(frontEndDescription(frontEnd)) + batch norm (folded) + ReLU before the LSTMs; weights and FLOPs include it")
        }
        printComputePaths()
        print("read floor: the time to only read the step's packed weights once (SIMD loads, 8 accumulators) on this machine")
        print("N: ensemble members stepped per timestep; x single: ns/step over the N=1 row of the same H and L")
        print("   H   L   N   ns/step   steps/s  GFLOP/s      state bytes   weight KiB   read floor ns   step/floor  x single")
        var generator = SplitMix64(seed: 7)
        let inputs = (0..<(1024 * options.channels)).map { _ in generator.normal() }
        for l in layerCounts {
            for h in hiddenSizes {
                var single: Double?
                for n in ensembleSizes {
                    let architecture = Architecture(
                        inputSize: options.channels, hiddenSize: h, numLayers: l, numClasses: options.classes,
                        frontEnd: frontEnd)
                    let members = (0..<n).map { ModelFile.randomlyInitialized(architecture: architecture, seed: UInt64(1 + $0)) }
                    let model = try LSTMModel(n == 1 ? members[0] : try ModelFile(ensemble: members, provenance: .object([:])))
                    let state = model.makeState()
                    var steps = 0
                    var elapsed = 0.0
                    inputs.withUnsafeBufferPointer { x in
                        let base = x.baseAddress!
                        // Warm-up, then batches of 1024 steps until the time budget is spent.
                        for t in 0..<1024 { model.step(state, input: base + t * c) }
                        while elapsed < seconds {
                            elapsed += measure {
                                for t in 0..<1024 { model.step(state, input: base + t * c) }
                            }
                            steps += 1024
                        }
                    }
                    let ns = elapsed / Double(steps) * 1e9
                    if n == 1 { single = ns }
                    let floor = streamingReadNanoseconds(bytes: model.stepWeightBytes, seconds: seconds / 4)
                    let ratio = single.map { String(format: "%9.2f", ns / $0) } ?? "        -"
                    print(String(
                        format: "%4d %3d %3d %9.1f %9.0f %8.1f %12d %12.1f %15.1f %12.2f ", h, l, n, ns, 1e9 / ns,
                        Double(n) * lstmFlopsPerTimestep(architecture) / ns, state.byteCount,
                        Double(model.stepWeightBytes) / 1024, floor, ns / floor) + ratio)
                }
            }
        }
        if options.comparePytorch {
            try runPytorchBaseline(["--step", "--hidden", hidden, "--layers", layers])
        }
    }
}

struct BenchWindow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "window",
        abstract: "Time of a batch forward over B windows of T timesteps.")

    @OptionGroup var options: BenchOptions

    @Option(help: "Batch size B.")
    var batch = 64

    @Option(help: "Timesteps T.")
    var timesteps = 100

    @Option(help: "Hidden sizes H.")
    var hidden = "64"

    @Option(help: "Layer counts L.")
    var layers = "2"

    @Option(help: "Threads (batch chunks run in parallel; BLAS itself single-threaded). Default: all cores.")
    var threads: Int = LSTMModel.parallelism

    func run() throws {
        let hiddenSizes = try integerList(hidden), layerCounts = try integerList(layers)
        print("lstmctl bench window: B=\(batch) T=\(timesteps) C=\(options.channels), scaler + LSTM + head, median of runs")
        printComputePaths()
        print("   H   L threads   median ms    min ms   windows/s   GFLOP/s (LSTM gate products at the median)")
        var generator = SplitMix64(seed: 11)
        let input = (0..<(batch * timesteps * options.channels)).map { _ in generator.normal() }
        for l in layerCounts {
            for h in hiddenSizes {
                let architecture = Architecture(inputSize: options.channels, hiddenSize: h, numLayers: l, numClasses: options.classes)
                let model = try LSTMModel(ModelFile.randomlyInitialized(architecture: architecture, seed: 1))
                for threadCount in Set([1, threads]).sorted() {
                    var times: [Double] = []
                    var total = 0.0
                    _ = try model.forward(input, batchSize: batch, timesteps: timesteps, threads: threadCount)
                    while total < options.seconds || times.count < 5 {
                        var failure: (any Error)?
                        let elapsed = measure {
                            do { _ = try model.forward(input, batchSize: batch, timesteps: timesteps, threads: threadCount) } catch { failure = error }
                        }
                        if let failure { throw failure }
                        times.append(elapsed)
                        total += elapsed
                    }
                    times.sort()
                    let median = times[times.count / 2]
                    let flops = Double(batch * timesteps) * lstmFlopsPerTimestep(architecture)
                    print(String(
                        format: "%4d %3d %7d %11.3f %9.3f %11.0f %9.1f", h, l, threadCount, median * 1e3, times[0] * 1e3,
                        Double(batch) / median, flops / median / 1e9))
                }
            }
        }
        if options.comparePytorch {
            try runPytorchBaseline(["--window", "--batch", String(batch), "--timesteps", String(timesteps), "--hidden", hidden, "--layers", layers])
        }
    }
}
