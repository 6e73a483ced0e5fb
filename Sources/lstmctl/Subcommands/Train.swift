import ArgumentParser
import Foundation
import LSTMKit
import LSTMTraining

/// `lstmctl train --train DATA_TRAIN.ts --out model.safetensors [recipe…]`.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train an LSTM classifier and write it as an lstmd model file, with an HTML report.",
        discussion: """
            The defaults are a complete recipe, chosen by cross-validation on training data only (see the \
            README, "Training"): z-score scaling fitted on the training data, jitter and magnitude-scaling \
            augmentation, 2 bidirectional LSTM(64) layers with attention pooling and dropout 0.2, Adam 3e-3 \
            with gradient clipping at norm 1, ReduceLROnPlateau on the training loss, 100 epochs, keeping \
            the last epoch's weights. For a stratified validation split with early stopping (restoring \
            the best epoch's weights) add \
            --validation-fraction 0.2 --patience 20 (or give --validation DATA). Every setting can \
            come from a recipe file (--recipe) and from the flags below, which win. \
            Same data, seed and thread count give the same model file, byte for byte (the model \
            records no wall-clock time unless SOURCE_DATE_EPOCH is set). \
            Progress goes to standard error: a bar on a terminal, one line per epoch otherwise, or \
            JSON events on standard output with --json.
            """)

    @Option(help: "Training data: a UEA/UCR .ts file or the documented CSV layout.")
    var train: String

    @Option(help: "Separate validation data (default: none, or a stratified hold-out of --train with --validation-fraction).")
    var validation: String?

    @Option(help: "Where to write the model (.safetensors).")
    var out: String

    @Option(help: "Where to write the HTML report (default: next to the model, NAME.report.html).")
    var report: String?

    @Flag(help: "Print JSON events (started, epoch, finished) on standard output, one per line.")
    var json = false

    @OptionGroup var recipe: RecipeOptions

    func run() throws {
        let configuration = try recipe.configuration()
        let dataset = try loadDataset(train)
        let validationSet = try validation.map(loadDataset)
        let trainer = try Trainer(configuration: configuration)
        let progress = TrainingProgress(mode: json ? .json : (isatty(STDERR_FILENO) != 0 ? .bar : .lines))
        let result: TrainingResult
        do {
            result = try trainer.train(
                dataset, validation: validationSet,
                provenance: [
                    "trainer": .string("lstmctl train"),
                    "dataset": .string(URL(fileURLWithPath: train).lastPathComponent),
                    "dataset_digest": .string(try fileDigest(train)),
                ],
                progress: progress.handle)
        } catch let error as TrainingError {
            throw ValidationError(error.message)
        }
        var model = result.model
        let modelURL = URL(fileURLWithPath: out)
        do {
            try model.write(to: modelURL)
        } catch let error as ModelError {
            throw ValidationError("\(out): \(error.message)")
        }
        let reportURL = URL(fileURLWithPath: report ?? Self.reportPath(for: out))
        try Self.report(for: result, configuration: configuration, title: modelURL.lastPathComponent, data: train)
            .write(to: reportURL)
        progress.finished(result, model: model, modelPath: out, reportPath: reportURL.path)
    }

    /// `model.safetensors` → `model.report.html`.
    static func reportPath(for model: String) -> String {
        let url = URL(fileURLWithPath: model)
        let base = url.pathExtension == "safetensors" ? url.deletingPathExtension() : url
        return base.path + ".report.html"
    }

    static func report(
        for result: TrainingResult, configuration: TrainingConfiguration, title: String, data: String
    ) -> TrainingReport {
        let plan = result.plan
        var notes = [
            "Trained on \(data): \(plan.trainSamples) training and \(plan.validationSamples) validation samples, \(plan.parameters) parameters.",
            "Best epoch \(result.history.bestEpoch.map(String.init) ?? "–") of \(result.history.epochs.count)"
                + (result.history.stoppedEarly ? " (stopped early; best weights restored)." : "."),
        ]
        if let weights = plan.classWeights {
            notes.append("Class weights: " + zip(plan.classNames, weights).map { "\($0) \(String(format: "%.3f", $1))" }.joined(separator: ", "))
        }
        return TrainingReport(
            title: title, settings: configuration.settings, history: result.history, classNames: plan.classNames,
            countsBefore: plan.countsBefore, countsAfter: plan.countsAfter, validation: result.validation, notes: notes)
    }
}

/// `sha256:<hex>` of a file's bytes.
func fileDigest(_ path: String) throws -> String {
    do {
        return try ModelFile.digest(of: URL(fileURLWithPath: path))
    } catch let error as ModelError {
        throw ValidationError(error.message)
    }
}
