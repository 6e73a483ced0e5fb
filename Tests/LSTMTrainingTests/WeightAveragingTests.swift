import Foundation
import LSTMKit
import Testing

@testable import LSTMTraining

@Suite("Weight averaging (swa)")
struct WeightAveragingTests {
    private func recipe(epochs: Int) -> TrainingConfiguration {
        var configuration = smallRecipe()
        configuration.validationFraction = 0
        configuration.schedule = .constant  // the trajectory must not depend on the epoch budget
        configuration.epochs = epochs
        return configuration
    }

    @Test("--swa 3 writes the mean of the last three epochs' weights")
    func averagesTheLastEpochs() throws {
        let data = toyDataset(samples: 24)
        // Runs of 3, 4 and 5 epochs follow the same trajectory: their final weights are the
        // weights after epochs 3, 4 and 5 of the averaged run.
        let finals = try (3...5).map { try Trainer(configuration: recipe(epochs: $0)).train(data).model }
        var averaging = recipe(epochs: 5)
        averaging.swa = 3
        let result = try Trainer(configuration: averaging).train(data)
        #expect(result.history.selection == .averaged && result.history.averagedEpochs == 3)
        #expect(result.history.keptSummary.contains("last 3 epochs (3–5 of 5"))
        for (name, tensor) in result.model.tensors {
            let expected = (0..<tensor.scalars.count).map { index in
                (finals[0].tensors[name]!.scalars[index] + finals[1].tensors[name]!.scalars[index]
                    + finals[2].tensors[name]!.scalars[index]) / 3
            }
            let difference = zip(tensor.scalars, expected).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            #expect(difference <= 1e-6, "\(name) differs by \(difference)")
        }
        // Fewer epochs than K: all of them.
        averaging.swa = 10
        averaging.epochs = 2
        #expect(try Trainer(configuration: averaging).train(data).history.averagedEpochs == 2)
    }

    @Test("swa is a recipe key; negative values are refused")
    func setting() throws {
        var configuration = TrainingConfiguration()
        #expect(configuration.value(of: "swa") == "0")
        try configuration.set("swa", "5")
        #expect(configuration.swa == 5)
        configuration.swa = -1
        #expect(throws: TrainingError.self) { try configuration.validate() }
        let history = TrainingHistory(epochs: [], bestEpoch: 5, selection: .averaged)
        #expect(history.markedEpoch == nil)
    }
}
