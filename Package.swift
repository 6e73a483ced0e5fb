// swift-tools-version: 6.1
import Foundation
import PackageDescription

// Code generation for the numeric kernels. Swift's default x86_64 target is baseline SSE2, which
// turns SIMD16<Float> arithmetic into scalar calls; x86-64-v3 (AVX2 + FMA, every x86 server since
// 2013) is the portable default. `LSTMD_MARCH=native swift build -c release` tunes for the build
// machine; `LSTMD_MARCH=none` keeps the compiler default.
let march: String? = {
    let requested = ProcessInfo.processInfo.environment["LSTMD_MARCH"] ?? "x86-64-v3"
    if requested == "none" || requested.isEmpty { return nil }
    #if arch(x86_64)
    return requested
    #else
    return requested == "x86-64-v3" ? nil : requested
    #endif
}()
let kernelSettings: [SwiftSetting] = (march.map { [.unsafeFlags(["-Xcc", "-march=\($0)"])] } ?? []) + [
    // Release builds skip the runtime exclusivity checks (measured at ~8% of lstmd's CPU under
    // load); debug builds, which the tests run, keep them, so a violation still fails CI.
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

// The numeric modules (LSTMKit, LSTMTraining) are optimised in debug builds too (the tests' build): at -Onone a training
// step or a streamed label of the bundled model is ~100x slower (BasicMotions training: 647 s
// instead of 3 s), which the end-to-end tests, run as a user runs the daemon, cannot wait for.
// Bounds, overflow and exclusivity checks stay on (-O keeps them); results equal release's bit for bit.
let numericDebugSettings: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

// libFuzzer targets, built only by Tests/Fuzz/run.sh (LSTMD_FUZZ=1 with --sanitize=fuzzer): their
// entry point is LLVMFuzzerTestOneInput, and libFuzzer supplies main().
let fuzzTargets: [Target] =
    ProcessInfo.processInfo.environment["LSTMD_FUZZ"] == nil
    ? []
    : [
        .executableTarget(name: "FuzzFrameDecoder", dependencies: ["Wire"]),
        .executableTarget(name: "FuzzControlRequest", dependencies: ["LSTMKit"]),
        .executableTarget(name: "FuzzModelLoader", dependencies: ["LSTMKit"], swiftSettings: kernelSettings),
    ]

let package = Package(
    name: "lstmd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "lstmd", targets: ["lstmd"]),
        .executable(name: "lstmctl", targets: ["lstmctl"]),
        .library(name: "LSTMKit", targets: ["LSTMKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
    ],
    targets: [
        // C libraries: exactly one Swift module imports each.
        .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(
            name: "CSystemd", path: "Sources/CSystemd", pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]),
        // glibc's <malloc.h> (malloc_trim); part of libc, so nothing to link.
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        // BLIS's typed sgemm (no pkg-config file ships; the serial build: lstmd threads itself).
        .systemLibrary(name: "CBLIS", path: "Sources/CBLIS", providers: [.apt(["libblis-serial-dev"])]),
        // Kernels for instruction sets beyond x86-64-v3 (AVX-512), one function attribute each,
        // so the target itself builds for the baseline and loads on any x86-64-v3 CPU.
        .target(name: "LSTMKernelsC", path: "Sources/LSTMKernelsC"),

        // Numerics: tensors, kernels, layers, model file. No sockets, no files but the model.
        .target(
            name: "LSTMKit",
            dependencies: ["CBLIS", "LSTMKernelsC", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: kernelSettings + numericDebugSettings),
        // `key = value` files: one parser and one declarative key table, shared by lstmd.conf and
        // the training recipe. No dependencies.
        .target(name: "KeyValue"),
        // Datasets, scaling, rebalancing, augmentation, training, metrics.
        .target(
            name: "LSTMTraining", dependencies: ["LSTMKit", "KeyValue"], swiftSettings: kernelSettings + numericDebugSettings),
        // Retraining: the durable labelled buffer, the validation split, the model store, the
        // promotion gate and the job that trains a candidate.
        .target(
            name: "Retraining",
            dependencies: ["LSTMKit", "LSTMTraining", .product(name: "Logging", package: "swift-log")],
            swiftSettings: kernelSettings),
        // The wire protocol (frame header, drop reasons): no dependencies, so producers such as
        // lstmctl use it without the daemon's NIO and Prometheus.
        .target(name: "Wire"),
        // The only importer of CZeroMQ.
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        // The only importer of CSystemd.
        .target(name: "Systemd", dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")]),
        // The daemon: configuration, wire format, stream table, classifier, publisher, control.
        .target(
            name: "Daemon",
            dependencies: [
                "LSTMKit", "Wire", "ZeroMQ", "Systemd", "KeyValue", "Retraining", "CMalloc",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            resources: [.copy("Resources/default.safetensors")],
            swiftSettings: kernelSettings),
        .executableTarget(
            name: "lstmd",
            dependencies: ["Daemon", "LSTMKit", "Retraining", "Systemd", .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log")]),
        .executableTarget(
            name: "lstmctl",
            dependencies: [
                "Wire", "LSTMKit", "LSTMTraining", "ZeroMQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: kernelSettings),

        .testTarget(name: "LSTMKitTests", dependencies: ["LSTMKit", "LSTMKernelsC"], resources: [.copy("Fixtures")]),
        .testTarget(name: "LSTMTrainingTests", dependencies: ["LSTMTraining"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(name: "KeyValueTests", dependencies: ["KeyValue"]),
        .testTarget(name: "RetrainingTests", dependencies: ["Retraining", "LSTMKit", "LSTMTraining"]),
        .testTarget(name: "SystemdTests", dependencies: ["Systemd"]),
        .testTarget(name: "DaemonTests", dependencies: ["Daemon"]),
        .testTarget(name: "EndToEndTests", dependencies: ["LSTMKit", "ZeroMQ"]),
        .testTarget(name: "OperationsTests", dependencies: ["Daemon", "LSTMKit", "ZeroMQ"]),
    ] + fuzzTargets
)
