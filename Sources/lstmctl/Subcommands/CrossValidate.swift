import ArgumentParser
import Foundation
import LSTMKit
import LSTMTraining

/// `lstmctl cv --folds K --train DATA [recipe…]`: stratified k-fold cross-validation.
struct CrossValidate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cv",
        abstract: "Stratified k-fold cross-validation of the training recipe; prints mean ± std.",
        discussion: """
            Each fold trains with the full recipe on the other folds (with --validation-fraction, \
            including its own stratified validation hold-out for early stopping and the schedule; by \
            default none) and is scored on the held-out fold. \
            Use it to choose settings on training data only; never tune on a test split. \
            Progress goes to standard error: a bar on a terminal, one line per epoch otherwise \
            (also with --json, whose objects alone go to standard output).
            """)

    @Option(parsing: .unconditional, help: "Number of folds K (at least 2).")
    var folds = 5

    @Option(help: "Training data: a UEA/UCR .ts file or the documented CSV layout.")
    var train: String

    @Flag(help: "Print one JSON object per fold and a summary object, one per line.")
    var json = false

    @OptionGroup var recipe: RecipeOptions

    func run() throws {
        guard folds >= 2 else {
            throw InputError("--folds must be at least 2, got \(folds)", exitCode: InputError.configuration)
        }
        let configuration = try recipe.configuration()
        let dataset = try loadDataset(train)
        do {
            try dataset.checkLabelled(as: "cross-validation data")
        } catch let error as TrainingError {
            throw InputError(error.message)
        }
        let splits: [(train: [Int], validation: [Int])]
        do {
            splits = try Splitting.stratifiedKFold(
                labels: dataset.samples.map { $0.label! }, classCount: dataset.classNames.count, folds: folds,
                seed: configuration.seed)
        } catch {
            throw InputError("\(error)")
        }
        let trainer = try Trainer(configuration: configuration)
        // Progress on standard error, never JSON: standard output holds only the fold results.
        let progress = TrainingProgress(mode: TrainingProgress.mode(json: false))
        var scores: [(accuracy: Double, balanced: Double, f1: Double)] = []
        for (fold, split) in splits.enumerated() {
            let result: TrainingResult
            let metrics: ClassificationMetrics
            progress.fold = (fold + 1, splits.count)
            do {
                result = try trainer.train(dataset.subset(split.train), progress: progress.handle)
                metrics = try ClassificationMetrics(evaluating: try LSTMModel(result.model), on: dataset.subset(split.validation))
            } catch let error as TrainingError {
                throw InputError("fold \(fold + 1): \(error.message)")
            }
            scores.append((metrics.accuracy, metrics.balancedAccuracy, metrics.macroF1))
            let epochs = result.history.epochs.count
            if json {
                print(JSONValue.object([
                    "fold": .number(Double(fold + 1)), "accuracy": .number(metrics.accuracy),
                    "balanced_accuracy": .number(metrics.balancedAccuracy), "macro_f1": .number(metrics.macroF1),
                    "samples": .number(Double(split.validation.count)), "epochs_run": .number(Double(epochs)),
                    "seconds": .number(result.seconds),
                ]).jsonText)
            } else {
                print(String(
                    format: "fold %d/%d: accuracy %.4f  balanced %.4f  macro-F1 %.4f  (%d samples, %d epochs, %.1f s)",
                    fold + 1, folds, metrics.accuracy, metrics.balancedAccuracy, metrics.macroF1,
                    split.validation.count, epochs, result.seconds))
            }
            fflush(nil)
        }
        let accuracy = MeanStd(scores.map(\.accuracy)), balanced = MeanStd(scores.map(\.balanced))
        let f1 = MeanStd(scores.map(\.f1))
        if json {
            func pair(_ value: MeanStd) -> JSONValue { .object(["mean": .number(value.mean), "std": .number(value.std)]) }
            print(JSONValue.object([
                "folds": .number(Double(folds)), "accuracy": pair(accuracy), "balanced_accuracy": pair(balanced),
                "macro_f1": pair(f1),
            ]).jsonText)
        } else {
            print("accuracy \(accuracy.formatted)  balanced accuracy \(balanced.formatted)  macro-F1 \(f1.formatted)")
        }
    }
}
