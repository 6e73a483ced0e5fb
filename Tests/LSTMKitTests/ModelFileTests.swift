import Foundation
import Testing

@testable import LSTMKit

/// Loading refuses every kind of bad file with an error naming the problem, and never crashes.
@Suite struct ModelFileTests {
    static let architecture = Architecture(inputSize: 3, hiddenSize: 5, numLayers: 2, head: .attention, dense: [4], numClasses: 3)

    func validFile() -> ModelFile {
        ModelFile.randomlyInitialized(
            architecture: Self.architecture, classes: ["a", "b", "c"], window: 8, hop: 2,
            scaler: .zscore(mean: [0.5, -1, 2], std: [1, 2, 0.5]), seed: 3)
    }

    /// A container with the given header JSON and data bytes.
    func container(header: String, data: [UInt8] = []) -> [UInt8] {
        var bytes = [UInt8]()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        return bytes + Array(header.utf8) + data
    }

    @Test func writeReadRoundTripAndAtomicWrite() throws {
        var file = validFile()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lstmd-model-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("m.safetensors")
        try file.write(to: url)
        try file.write(to: url)  // replacing an existing file
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["m.safetensors"], "no temporary file left")
        let reread = try ModelFile(contentsOf: url)
        #expect(reread.digest == file.digest)
        #expect(reread.digest.hasPrefix("sha256:") && reread.digest.count == 71)
        for (name, tensor) in file.tensors {
            #expect(reread.tensors[name]!.scalars.map(\.bitPattern) == tensor.scalars.map(\.bitPattern))
        }
        let model = try LSTMModel(reread)
        #expect(model.classes == ["a", "b", "c"])
    }

    @Test func everyTruncationIsRefused() throws {
        let bytes = validFile().serialized()
        for length in stride(from: 0, to: bytes.count, by: 7) {
            #expect(throws: ModelError.self, "truncated to \(length) bytes") {
                try ModelFile(bytes: Array(bytes[0..<length]))
            }
        }
    }

    @Test func aTruncatedFileSaysWhereItWasCut() throws {
        let bytes = validFile().serialized()
        var headerLength = 0
        for i in 0..<8 { headerLength |= Int(bytes[i]) << (8 * i) }
        // Every cut inside the data section names the byte and the declared size, the same
        // message every time (not whichever tensor a dictionary visits first).
        func message(_ bytes: ArraySlice<UInt8>) -> String? {
            do {
                _ = try ModelFile(bytes: Array(bytes))
                return nil
            } catch {
                return "\(error)"
            }
        }
        for length in stride(from: 8 + headerLength, to: bytes.count, by: 13) {
            #expect(message(bytes[0..<length]) == "file truncated at byte \(length) of \(bytes.count)")
        }
        // A cut inside the header says so too (without the length's value: see below).
        expectError(.container, containing: "file truncated at byte 100: the header length runs past the end") {
            _ = try ModelFile(bytes: Array(bytes[0..<100]))
        }
    }

    /// Attack: `lstmctl reload --model /etc/shadow` answered "header length 3619251681095544690":
    /// the file's first 8 bytes. No message quotes them, in any encoding.
    @Test func errorsNeverQuoteTheFilesFirstBytes() {
        for text in ["root:$6$saltsalt$secrethash:19000:0:99999:7:::\n", "-----BEGIN PRIVATE KEY-----\nMIIE\n", "\u{05}\u{00}\u{00}\u{00}\u{00}\u{00}\u{00}\u{00}abc"] {
            let bytes = Array(text.utf8)
            var value: UInt64 = 0
            for i in 0..<8 { value |= UInt64(bytes[i]) << (8 * UInt64(i)) }
            do {
                _ = try ModelFile(bytes: bytes)
                Issue.record("a text file loaded")
            } catch {
                let message = "\(error)"
                #expect(message.contains("not a safetensors file"), "\(message)")
                for leak in [String(value), String(value, radix: 16), String(Int64(bitPattern: value)), String(text.prefix(8))] {
                    #expect(!message.contains(leak), "'\(message)' quotes the file's bytes (\(leak))")
                }
            }
        }
    }

    /// The safetensors format requires the tensors to cover the data section: a valid model with
    /// junk appended (2 GB of it, or one byte) is refused.
    @Test func trailingBytesAfterTheLastTensorAreRefused() throws {
        let bytes = validFile().serialized()
        _ = try ModelFile(bytes: bytes)
        for extra in [1, 7, 4096] {
            expectError(.container, containing: "\(extra) trailing bytes after the last tensor") {
                _ = try ModelFile(bytes: bytes + [UInt8](repeating: 0x41, count: extra))
            }
        }
    }

    /// The writer stores the data section's SHA-256; a flipped weight bit is refused; a file
    /// without the checksum loads, marked unverified.
    @Test func theTensorChecksumIsWrittenAndVerified() throws {
        let file = validFile()
        let bytes = file.serialized()
        let read = try ModelFile(bytes: bytes)
        #expect(read.integrity == .verified)
        let container = try SafeTensors(bytes: bytes)
        #expect(container.metadata[ModelFile.tensorChecksumKey] == container.dataSHA256)
        #expect(container.dataSHA256.count == 64)

        // Attack: one bit of one weight flipped (still finite: the mantissa's lowest bit).
        var headerLength = 0
        for i in 0..<8 { headerLength |= Int(bytes[i]) << (8 * i) }
        let entry = try #require(container.entries["classifier.weight"])
        var flipped = bytes
        flipped[8 + headerLength + entry.offsets.lowerBound] ^= 0x01
        expectError(.integrity, containing: "does not match its checksum") { _ = try ModelFile(bytes: flipped) }

        // A file written before checksums: loads, unverified.
        let unchecked = SafeTensors.serialize(
            file.tensors.map { .float32($0.key, shape: $0.value.shape, $0.value.scalars) }, metadata: file.metadata)
        let old = try ModelFile(bytes: unchecked)
        #expect(old.integrity == .unverified)
        #expect(old.tensors == read.tensors)
    }

    @Test func parameterCountIsTheTensorsElements() {
        let file = validFile()
        #expect(file.parameterCount == file.tensors.values.reduce(0) { $0 + $1.scalars.count })
        #expect(file.parameterCount > 0)
    }

    @Test func randomCorruptionNeverCrashes() throws {
        let bytes = validFile().serialized()
        var generator = SplitMix64(seed: 42)
        var refused = 0
        for _ in 0..<1500 {
            var corrupted = bytes
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: 0..<corrupted.count, using: &generator)
                corrupted[index] = UInt8.random(in: 0...255, using: &generator)
            }
            do {
                let file = try ModelFile(bytes: corrupted)
                // Flips inside tensor data can leave a valid model: it must then run.
                let model = try LSTMModel(file)
                _ = try model.forward([Float](repeating: 0.1, count: 2 * 3), batchSize: 1, timesteps: 2)
            } catch is ModelError {
                refused += 1
            }
        }
        #expect(refused > 100, "most corruptions hit the header and must be refused (\(refused))")
    }

    @Test func containerProblemsAreNamed() {
        expectError(.container, containing: "too short") { _ = try SafeTensors(bytes: [1, 2, 3]) }
        var huge = [UInt8](repeating: 0, count: 16)
        huge[7] = 0x7f
        expectError(.container, containing: "header length out of range") { _ = try SafeTensors(bytes: huge) }
        expectError(.container, containing: "runs past the end") { _ = try SafeTensors(bytes: [200, 0, 0, 0, 0, 0, 0, 0, 123]) }
        expectError(.container, containing: "not valid JSON") { _ = try SafeTensors(bytes: container(header: "{oops")) }
        expectError(.container, containing: "file truncated at byte 66 of 70") {
            _ = try SafeTensors(bytes: container(header: #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0]))
        }
        expectError(.container, containing: "needs 8") {
            _ = try SafeTensors(bytes: container(header: #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
        }
        expectError(.container, containing: "unsupported dtype F16") {
            _ = try SafeTensors(bytes: container(header: #"{"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
        }
        expectError(.container, containing: "overlap") {
            _ = try SafeTensors(bytes: container(
                header: #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                data: [UInt8](repeating: 0, count: 8)))
        }
        expectError(.container, containing: "not a string") {
            _ = try SafeTensors(bytes: container(header: #"{"__metadata__":{"format":1}}"#))
        }
    }

    @Test func semanticProblemsAreNamed() throws {
        func mutated(_ change: (inout ModelFile) -> Void) -> [UInt8] {
            var file = validFile()
            change(&file)
            return file.serialized()
        }
        expectError(.tensor, containing: "lstm.weight_hh_l1") {
            _ = try ModelFile(bytes: mutated { $0.tensors["lstm.weight_hh_l1"] = Tensor(shape: [20, 4], scalars: .init(repeating: 0, count: 80)) })
        }
        expectError(.tensor, containing: "missing") {
            _ = try ModelFile(bytes: mutated { $0.tensors["attention.bias"] = nil })
        }
        expectError(.tensor, containing: "unexpected tensor 'extra'") {
            _ = try ModelFile(bytes: mutated { $0.tensors["extra"] = Tensor(shape: [1], scalars: [0]) })
        }
        expectError(.tensor, containing: "non-finite") {
            _ = try ModelFile(bytes: mutated { $0.tensors["classifier.bias"]!.scalars[1] = .nan })
        }
        expectError(.metadata, containing: "scaler has 2 mean") {
            _ = try ModelFile(bytes: mutated { $0.scaler = .zscore(mean: [0, 0], std: [1, 1]) })
        }
        expectError(.metadata, containing: "std must be positive") {
            _ = try ModelFile(bytes: mutated { $0.scaler = .zscore(mean: [0, 0, 0], std: [1, 0, 1]) })
        }
        expectError(.metadata, containing: "classes lists 2") {
            _ = try ModelFile(bytes: mutated { $0.classes = ["a", "b"] })
        }
        expectError(.metadata, containing: "hop 9") {
            _ = try ModelFile(bytes: mutated { $0.hop = 9 })
        }
        expectError(.architecture, containing: "num_layers 5") {
            _ = try ModelFile(bytes: mutated { $0.architecture.numLayers = 5 })
        }
        // Metadata edited by hand.
        let good = validFile()
        func withMetadata(_ key: String, _ value: String?) -> [UInt8] {
            var metadata = good.metadata
            metadata[key] = value
            return SafeTensors.serialize(good.tensors.map { .float32($0.key, shape: $0.value.shape, $0.value.scalars) }, metadata: metadata)
        }
        expectError(.metadata, containing: "format_version 5") { _ = try ModelFile(bytes: withMetadata("format_version", "5")) }
        // A front end in a file older readers would take for a plain LSTM; a negative variance.
        let convolutional = ModelFile.randomlyInitialized(
            architecture: Architecture(inputSize: 2, hiddenSize: 4, numClasses: 2, frontEnd: [.init(filters: 3, kernel: 2)]), seed: 3)
        #expect(convolutional.metadata["format_version"] == "4")
        #expect(try ModelFile(bytes: convolutional.serialized()).architecture.frontEnd == [.init(filters: 3, kernel: 2)])
        var olderVersion = convolutional.metadata
        olderVersion["format_version"] = "3"
        expectError(.metadata, containing: "front_end' needs format_version 4") {
            _ = try ModelFile(
                bytes: SafeTensors.serialize(
                    convolutional.tensors.map { .float32($0.key, shape: $0.value.shape, $0.value.scalars) }, metadata: olderVersion))
        }
        var negative = convolutional
        negative.tensors["frontend.0.norm.running_var"]!.scalars[1] = -0.5
        expectError(.tensor, containing: "negative variance") { _ = try ModelFile(bytes: negative.serialized()) }
        var overflowing = convolutional
        overflowing.tensors["frontend.0.norm.weight"]!.scalars[0] = 3e38
        overflowing.tensors["frontend.0.norm.running_var"]!.scalars[0] = 0
        expectError(.tensor, containing: "overflows") { _ = try LSTMModel(try ModelFile(bytes: overflowing.serialized())) }
        expectError(.architecture, containing: "front_end[0].kernel 65") {
            var wide = convolutional
            wide.architecture.frontEnd[0].kernel = 65
            _ = try ModelFile(bytes: wide.serialized())
        }
        expectError(.metadata, containing: "'window' is missing") { _ = try ModelFile(bytes: withMetadata("window", nil)) }
        expectError(.metadata, containing: "expected 'lstmd'") { _ = try ModelFile(bytes: withMetadata("format", "other")) }
        expectError(.metadata, containing: "architecture") { _ = try ModelFile(bytes: withMetadata("architecture", #"{"hidden_size":4}"#)) }
        expectError(.metadata, containing: "scaler.kind") { _ = try ModelFile(bytes: withMetadata("scaler", #"{"kind":"robust"}"#)) }
    }

    @Test func forwardRefusesBadInput() throws {
        let model = try LSTMModel(validFile())
        #expect(throws: ModelError.self) { try model.forward([1, 2], batchSize: 1, timesteps: 1) }
        #expect(throws: ModelError.self) { try model.forward([Float](repeating: 0, count: 6), batchSize: 1, timesteps: 2, lengths: [3]) }
        #expect(throws: ModelError.self) { try model.forward([0, 0, .nan, 0, 0, 0], batchSize: 1, timesteps: 2) }
        // A NaN in padding is ignored.
        _ = try model.forward([0, 0, 0, .nan, 0, 0], batchSize: 1, timesteps: 2, lengths: [1])
    }
}
