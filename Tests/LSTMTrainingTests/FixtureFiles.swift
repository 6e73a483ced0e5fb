import Foundation

/// The files in `Tests/LSTMTrainingTests/Fixtures`.
enum FixtureFiles {
    static func url(_ name: String) -> URL {
        guard let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            fatalError("the Fixtures resource directory is missing from the test bundle")
        }
        return directory.appendingPathComponent(name)
    }
}
