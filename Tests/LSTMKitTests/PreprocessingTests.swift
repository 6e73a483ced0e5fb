import Foundation
import Testing

@testable import LSTMKit

/// Per-sample normalisation and downsampling: values by hand, the metadata round trip, old files,
/// and the forward pass applying them.
@Suite struct PreprocessingTests {
    @Test func blockMeansDropATrailingPartialBlockUnlessItIsTheOnlyOne() {
        let downsample = Preprocessing(downsample: 3)
        // Two channels, 7 timesteps: blocks [0,1,2], [3,4,5]; timestep 6 is dropped.
        let values: [Float] = (0..<7).flatMap { [Float($0), Float(10 * $0)] }
        #expect(downsample.outputLength(7) == 2)
        #expect(downsample.apply(values, length: 7, channels: 2) == [1, 10, 4, 40])
        // Shorter than a block: one step, the mean of everything.
        #expect(downsample.outputLength(2) == 1)
        #expect(downsample.apply([2, 4, 6, 8], length: 2, channels: 2) == [4, 6])
        #expect(Preprocessing.none.apply(values, length: 7, channels: 2) == values)
    }

    @Test func perSampleNormalisationIsPopulationZScorePerChannel() {
        let perSample = Preprocessing(normalization: .perSample)
        // Channel 0: 1, 2, 3 (mean 2, population std sqrt(2/3)); channel 1 constant.
        let out = perSample.apply([1, 5, 2, 5, 3, 5], length: 3, channels: 2)
        let s = Float((2.0 / 3.0).squareRoot())
        #expect(abs(out[0] + 1 / s) < 1e-6 && abs(out[2]) < 1e-6 && abs(out[4] - 1 / s) < 1e-6)
        #expect([out[1], out[3], out[5]] == [0, 0, 0], "a constant channel becomes zeros")
        // Any affine change of a sample (positive gain) gives the same result.
        let scaled = perSample.apply([1, 5, 2, 5, 3, 5].map { 1e4 * $0 - 7 }, length: 3, channels: 2)
        #expect(zip(out, scaled).allSatisfy { abs($0 - $1) < 1e-5 })
        // Normalise, then block means.
        let both = Preprocessing(normalization: .perSample, downsample: 2).apply([1, 2, 3, 4], length: 4, channels: 1)
        let z = perSample.apply([1, 2, 3, 4], length: 4, channels: 1)
        #expect(both == [(z[0] + z[1]) / 2, (z[2] + z[3]) / 2])
    }

    @Test func autoFactorBringsTheLongestSampleToAtMost200Steps() {
        #expect(Preprocessing.autoFactor(longest: 100) == 1)
        #expect(Preprocessing.autoFactor(longest: 200) == 1)
        #expect(Preprocessing.autoFactor(longest: 201) == 2)
        #expect(Preprocessing.autoFactor(longest: 1344) == 7)
        for longest in [1, 199, 1000, 1344, 50_000] {
            #expect(Preprocessing(downsample: Preprocessing.autoFactor(longest: longest)).outputLength(longest) <= 200)
        }
    }

    func file(_ preprocessing: Preprocessing, window: Int = 12, hop: Int = 4) -> ModelFile {
        var file = ModelFile.randomlyInitialized(
            architecture: Architecture(inputSize: 2, hiddenSize: 6, numClasses: 3), classes: ["a", "b", "c"],
            window: window, hop: hop, scaler: .zscore(mean: [0.5, -1], std: [1, 2]), seed: 4)
        file.preprocessing = preprocessing
        return file
    }

    @Test func metadataRoundTripsAndOldFilesLoadAsGlobalWithoutDownsampling() throws {
        let preprocessing = Preprocessing(normalization: .perSample, downsample: 4)
        let bytes = file(preprocessing).serialized()
        let reread = try ModelFile(bytes: bytes)
        #expect(reread.preprocessing == preprocessing)
        #expect(reread.metadata["format_version"] == "2")
        #expect(reread.metadata["preprocessing"] == #"{"downsample":4,"normalize":"per-sample"}"#)
        // No preprocessing: the file is exactly what this format's version 1 was (no new key).
        let plain = try ModelFile(bytes: file(.none).serialized())
        #expect(plain.metadata["format_version"] == "1" && plain.metadata["preprocessing"] == nil)
        #expect(plain.preprocessing == .none)
        // Committed fixtures written before the key existed still load.
        let old = try Fixtures.model("uni_l1_h8_last")
        #expect(old.file.preprocessing == .none)
    }

    @Test func badPreprocessingIsRefused() throws {
        func withPreprocessing(_ json: String) -> [UInt8] {
            var metadata = file(.none).metadata
            metadata["format_version"] = "2"
            metadata["preprocessing"] = json
            return SafeTensors.serialize(
                file(.none).tensors.map { .float32($0.key, shape: $0.value.shape, $0.value.scalars) }, metadata: metadata)
        }
        #expect(throws: ModelError.self) { try ModelFile(bytes: withPreprocessing(#"{"normalize":"robust","downsample":1}"#)) }
        #expect(throws: ModelError.self) { try ModelFile(bytes: withPreprocessing(#"{"normalize":"global","downsample":0}"#)) }
        #expect(throws: ModelError.self) { try ModelFile(bytes: withPreprocessing(#"{"normalize":"global","downsample":1.5}"#)) }
        // Window 12 and hop 4 are not whole blocks of 5.
        #expect(throws: ModelError.self) { try ModelFile(bytes: withPreprocessing(#"{"normalize":"global","downsample":5}"#)) }
        #expect(throws: ModelError.self) { try file(Preprocessing(downsample: 3), window: 12, hop: 4).validate() }
        try file(Preprocessing(downsample: 4), window: 12, hop: 4).validate()
    }

    @Test func forwardAppliesThePreprocessingToEachSamplesValidTimesteps() throws {
        let preprocessing = Preprocessing(normalization: .perSample, downsample: 4)
        let model = try LSTMModel(file(preprocessing))
        let plain = try LSTMModel(file(.none))
        var generator = SplitMix64(seed: 2)
        let lengths = [12, 9, 3]
        let raw = (0..<(3 * 12 * 2)).map { _ in 50 + 20 * generator.normal() }
        let result = try model.forward(raw, batchSize: 3, timesteps: 12, lengths: lengths, threads: 1)
        for (b, length) in lengths.enumerated() {
            let sample = Array(raw[(b * 24)..<(b * 24 + length * 2)])
            let prepared = preprocessing.apply(sample, length: length, channels: 2)
            let expected = try plain.forward(prepared, batchSize: 1, timesteps: prepared.count / 2, threads: 1)
            #expect(maxAbsDifference(result.probabilities(of: b), expected.probabilities) <= 1e-5, "sample \(b)")
        }
        // A constant sample stays finite.
        let constant = try model.forward([Float](repeating: 3, count: 24), batchSize: 1, timesteps: 12, threads: 1)
        #expect(constant.probabilities.allSatisfy { $0.isFinite })
    }
}
