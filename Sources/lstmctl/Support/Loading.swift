import ArgumentParser
import Foundation
import LSTMKit
import LSTMTraining

/// Loads a model, turning its error into a clear command-line failure.
func loadModel(_ path: String) throws -> LSTMModel {
    do {
        return try LSTMModel(contentsOf: URL(fileURLWithPath: path))
    } catch let error as ModelError where error.code == .io {
        throw InputError(error.message)  // it names the path already
    } catch let error as ModelError {
        throw InputError("\(path): \(error.message)")
    }
}

/// Loads a `.ts` or `.csv` dataset by extension.
func loadDataset(_ path: String) throws -> Dataset {
    do {
        return try DatasetFile.dataset(at: URL(fileURLWithPath: path))
    } catch let error as DatasetError {
        throw InputError(error.description)
    }
}

/// `loadDataset` with the digest of the bytes read (provenance), reading the file once (a pipe
/// works).
func loadDatasetFile(_ path: String) throws -> (dataset: Dataset, digest: String) {
    do {
        return try DatasetFile.load(URL(fileURLWithPath: path))
    } catch let error as DatasetError {
        throw InputError(error.description)
    }
}

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Compact JSON text with sorted keys for one object.
func jsonLine(_ value: JSONValue) -> String { value.jsonText }
