import Testing

@testable import LSTMTraining

@Suite("Dataset")
struct DatasetTests {
    @Test("Helpers summarise lengths and labels")
    func helpers() {
        let dataset = Dataset(
            samples: [
                .init(values: [1, 2, 3, 4], length: 2, label: 1),
                .init(values: [5, 6], length: 1, label: nil),
                .init(values: [7, 8, 9, 10, 11, 12], length: 3, label: 1),
            ],
            channels: 2, classNames: ["a", "b"])
        #expect(!dataset.isEqualLength)
        #expect(dataset.maxLength == 3)
        #expect(dataset.classCounts == [0, 2])
        #expect(dataset.labels == [1, nil, 1])
        #expect(!dataset.isLabelled)
        #expect(dataset.problemName == nil)
    }

    @Test("An empty dataset is equal-length with maximum length 0")
    func empty() {
        let dataset = Dataset(samples: [], channels: 1, classNames: [])
        #expect(dataset.isEqualLength)
        #expect(dataset.maxLength == 0)
        #expect(dataset.classCounts.isEmpty)
    }
}
