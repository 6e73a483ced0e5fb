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

    @Flag(help: "Print JSON events (started, member, epoch, warning, finished) on standard output, one per line.")
    var json = false

    @OptionGroup var recipe: RecipeOptions

    func run() throws {
        let configuration = try recipe.configuration()
        // Before the first epoch: a path that cannot be written would lose the whole run.
        let reportPath = report ?? Self.reportPath(for: out)
        try Self.checkWritable(out, option: "--out")
        try Self.checkWritable(reportPath, option: report == nil ? "the report (next to --out)" : "--report")
        let (dataset, datasetDigest) = try loadDatasetFile(train)
        let validationSet = try validation.map(loadDataset)
        let trainer = try Trainer(configuration: configuration)
        let progress = TrainingProgress(mode: TrainingProgress.mode(json: json))
        let result: TrainingResult
        do {
            result = try trainer.train(
                dataset, validation: validationSet,
                provenance: [
                    "trainer": .string("lstmctl train"),
                    "dataset": .string(URL(fileURLWithPath: train).lastPathComponent),
                    "dataset_digest": .string(datasetDigest),
                ],
                progress: progress.handle)
        } catch let error as TrainingError {
            throw InputError(error.message)
        }
        var model = result.model
        let modelURL = URL(fileURLWithPath: out)
        do {
            try model.write(to: modelURL)
        } catch let error as ModelError {
            throw CommandFailure("\(out): \(error.message)")
        }
        let reportURL = URL(fileURLWithPath: reportPath)
        try Self.report(for: result, configuration: configuration, title: modelURL.lastPathComponent, data: train)
            .write(to: reportURL)
        progress.finished(result, model: model, modelPath: out, reportPath: reportURL.path)
    }

    /// Fails unless `path`'s directory exists and is writable (and `path` is not a directory).
    static func checkWritable(_ path: String, option: String) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw InputError("\(option) \(path): the directory \(directory) does not exist (create it first; nothing was trained)", exitCode: InputError.configuration)
        }
        guard access(directory, W_OK) == 0 else {
            throw InputError("\(option) \(path): the directory \(directory) is not writable (nothing was trained)", exitCode: InputError.configuration)
        }
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw InputError("\(option) \(path) is a directory; give a file name (nothing was trained)", exitCode: InputError.configuration)
        }
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
        let history = result.history
        var notes = (plan.warnings + result.warnings).map { "Warning: \($0)" }
        notes += [
            "Trained on \(data): \(TrainingProgress.sampleCount(plan)) for training and \(plan.validationSamples) "
                + "validation samples, \(plan.parameters) parameters.",
            "Kept weights: \(history.keptSummary)"
                + (history.stoppedEarly ? (history.selection == .last || history.selection == .averaged ? "; stopped early." : "; stopped early, best weights restored.") : "."),
        ]
        notes += plan.notes.map { "Note: \($0)" }
        if let line = TrainingProgress.ensembleSummary(result) { notes.append(line) }
        if !plan.preprocessing.isIdentity {
            notes.append("Preprocessing stored in the model: \(TrainingProgress.describe(plan.preprocessing)).")
        }
        if let weights = plan.classWeights {
            notes.append("Class weights: " + zip(plan.classNames, weights).map { "\($0) \(String(format: "%.3f", $1))" }.joined(separator: ", "))
        }
        var report = TrainingReport(
            title: title, settings: configuration.settings, history: result.history, classNames: plan.classNames,
            countsBefore: plan.countsBefore, countsAfter: plan.countsAfter, validation: result.validation, notes: notes,
            data: plan.data)
        report.members = result.members.map(\.history)
        return report
    }
}
