import ArgumentParser
import Foundation
import LSTMKit
import LSTMTraining

/// `lstmctl tune --train DATA [--budget 20m] [--folds 5] [--out MODEL] [recipe…]`: a
/// time-budgeted search of the recipe by cross-validation, then the final model.
struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Choose a recipe by cross-validation within a time budget, then train and write the model.",
        discussion: """
            Stratified k-fold cross-validation on the training data over the search space (README, \
            "Tuning"): normalisation and downsampling, hidden size 32/64, \
            1/2 layers, unidirectional or bidirectional, learning rate 1e-3/3e-3, ensemble size 1/3, \
            each with the convolutional front end 64x5,64x5 (--front-end none turns it off). \
            Candidates whose recipe is the same on this data (downsample auto resolving to the same K \
            as a number; per-sample normalisation without downsampling on data whose samples are \
            already z-normalised alike, as UCR ships them) are trained once; the table says which \
            candidate each repeats. \
            Stage 1, successive halving: every candidate trains a few epochs on about half the \
            folds, the best third move on to more epochs and all folds, and so on up to the recipe's \
            epochs; the winner has the best mean held-out accuracy on the highest rung, ties going to the \
            cheaper model to stream (unidirectional, then fewer FLOPs per timestep). \
            Stage 2, refinement, with the budget left: the finalists are cross-validated again on \
            --splits fold splits (default 3) and the best mean is kept; then one change at a time \
            (ensemble 5, hidden size 64, time warp 0.5) is scored the same way and adopted only when it beats \
            the current recipe significantly: by more than 1.645 (one change scored), 1.960 (two) or 2.128 \
            (three) standard errors of their per-fold differences, the one-sided 5% bar corrected for the \
            changes compared. \
            The final recipe is trained on all of --train and written with both tables in its report and \
            provenance. \
            The budget covers the search and the final training: the clock is checked before every fold \
            training, a candidate whose rung (or a refined recipe whose folds) does not fit is dropped, \
            and the final training's time (estimated from the measured speeds) is kept free. Recipe flags \
            fix settings: a searched setting given as a flag or in --recipe is neither searched nor \
            changed. There is no test-data option: tune never reads a test split. Deterministic for a \
            fixed --seed unless the budget cuts the search.
            """)

    @Option(help: "Training data: a UEA/UCR .ts file or the documented CSV layout.")
    var train: String

    @Option(parsing: .unconditional, help: "Time for the search and the final training: 20m, 90s, 1h or plain seconds.")
    var budget = "20m"

    @Option(parsing: .unconditional, help: "Number of cross-validation folds K (at least 2).")
    var folds = 5

    @Option(
        parsing: .unconditional,
        help: "Fold splits the refinement stage cross-validates each recipe on (0: no refinement stage).")
    var splits = 3

    @Option(help: "Where to write the model (default: DATA's name with .tuned.safetensors, in the current directory).")
    var out: String?

    @Option(help: "Where to write the HTML report (default: next to the model, NAME.report.html).")
    var report: String?

    @Flag(help: "Print one JSON object per candidate rung and a final summary on standard output, one per line.")
    var json = false

    @OptionGroup var recipe: RecipeOptions

    func run() throws {
        let seconds = try Self.seconds(budget)
        guard folds >= 2 else {
            throw InputError("--folds must be at least 2, got \(folds)", exitCode: InputError.configuration)
        }
        guard splits >= 0 else {
            throw InputError("--splits must be at least 0, got \(splits)", exitCode: InputError.configuration)
        }
        let configuration = try recipe.configuration()
        let outPath = out ?? Self.defaultOut(for: train)
        let reportPath = report ?? Train.reportPath(for: outPath)
        try Train.checkWritable(outPath, option: "--out")
        try Train.checkWritable(reportPath, option: report == nil ? "the report (next to --out)" : "--report")
        let (dataset, datasetDigest) = try loadDatasetFile(train)
        let tuner: Tuner
        do {
            tuner = try Tuner(base: configuration, folds: folds, splits: splits, budget: seconds, pinned: try pinnedKeys())
        } catch let error as TrainingError {
            throw InputError(error.message, exitCode: InputError.configuration)
        }
        let progress = TuneProgress(mode: TrainingProgress.mode(json: json), budget: seconds)
        let search: TuningResult
        do {
            search = try tuner.search(dataset, progress: progress.handle)
        } catch let error as TrainingError {
            progress.flushUntrained()
            throw InputError(error.message)
        }
        guard let recipe = search.recipe, let index = search.outcome.winner, search.outcome.highestRung != nil else {
            progress.flushUntrained()
            throw InputError(
                "the budget of \(budget) did not fit one rung of any candidate (the search took \(String(format: "%.1f", search.seconds)) s); "
                    + "give a larger --budget (nothing was written)",
                exitCode: InputError.configuration)
        }
        let accuracies = search.recipeAccuracies
        progress.chose(search)

        let trainingProgress = TrainingProgress(mode: TrainingProgress.mode(json: false))
        // The data summary's suggestions for settings the search already chose by
        // cross-validation (`try --normalize per-sample` after per-sample lost) are left out.
        let searched = Set(search.candidates.flatMap { $0.overrides.map(\.key) })
        func unsearched(_ data: DataSummary?) -> DataSummary? {
            guard var data else { return nil }
            data.suggestions.removeAll { text in
                searched.contains { text.contains("--" + $0.replacingOccurrences(of: "_", with: "-") + " ") }
            }
            return data
        }
        var result: TrainingResult
        do {
            result = try Trainer(configuration: recipe).train(
                dataset,
                provenance: [
                    "trainer": .string("lstmctl tune"),
                    "dataset": .string(URL(fileURLWithPath: train).lastPathComponent),
                    "dataset_digest": .string(datasetDigest),
                    "tuning": search.json,
                ],
                progress: { event in
                    guard case .started(var plan) = event else { return trainingProgress.handle(event) }
                    plan.data = unsearched(plan.data)
                    trainingProgress.handle(.started(plan))
                })
        } catch let error as TrainingError {
            throw InputError(error.message)
        }
        result.plan.data = unsearched(result.plan.data)
        var model = result.model
        do {
            try model.write(to: URL(fileURLWithPath: outPath))
        } catch let error as ModelError {
            throw CommandFailure("\(outPath): \(error.message)")
        }
        var page = Train.report(
            for: result, configuration: recipe, title: URL(fileURLWithPath: outPath).lastPathComponent, data: train)
        page.notes.insert(
            "Recipe chosen by lstmctl tune: \(search.recipeLabel), mean cross-validation accuracy "
                + "\(MeanStd(accuracies).formatted) over \(accuracies.count) held-out folds"
                + (search.chosen == nil ? "." : " (\(search.splits) fold splits)."), at: 0)
        page.search = search
        try page.write(to: URL(fileURLWithPath: reportPath))
        if json {
            print(JSONValue.object([
                "event": .string("finished"), "model": .string(outPath), "report": .string(reportPath),
                "digest": .string(model.digest), "winner": search.candidateJSON(index, seconds: true),
                "accuracy": .number(MeanStd(accuracies).mean), "std": .number(MeanStd(accuracies).std),
                "fold_accuracies": .array(accuracies.map { .number($0) }),
                "recipe": .string(search.recipeLabel),
                "changes": .array((search.chosen?.changes ?? []).map { .string($0.label) }),
                "candidates": .number(Double(search.candidates.count)),
                "duplicates": .number(Double(search.candidates.filter { $0.duplicateOf != nil }.count)),
                "budget_seconds": .number(seconds), "budget_bound": .bool(search.budgetBound),
                "search_seconds": .number(search.seconds), "final_seconds": .number(result.seconds),
                "epochs_run": .number(Double(result.history.epochs.count)),
            ]).jsonText)
            fflush(nil)
        } else {
            trainingProgress.finished(result, model: model, modelPath: outPath, reportPath: reportPath)
        }
    }

    /// The keys the user fixed: recipe flags and the recipe file's keys.
    private func pinnedKeys() throws -> Set<String> {
        var keys = Set(try recipe.given().map(\.key))
        if let path = recipe.recipe, let text = try? String(contentsOfFile: path, encoding: .utf8) {
            keys.formUnion(TuningSpace.keys(inRecipe: text, path: path))
        }
        return keys
    }

    /// `20m`, `90s`, `1h`, `1.5h` or plain seconds, as seconds.
    /// - Throws: `InputError` (78) for anything else, or a budget that is not more than 0.
    static func seconds(_ text: String) throws -> Double {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(suffix: String, factor: Double)] = [("h", 3600), ("m", 60), ("s", 1)]
        var number = trimmed
        var factor = 1.0
        if let unit = units.first(where: { trimmed.hasSuffix($0.suffix) }) {
            number = String(trimmed.dropLast())
            factor = unit.factor
        }
        guard let value = Double(number), value.isFinite else {
            throw InputError("--budget must be a duration such as 20m, 90s, 1h or 300 (seconds), got '\(text)'", exitCode: InputError.configuration)
        }
        guard value > 0 else {
            throw InputError("--budget must be more than 0, got '\(text)'", exitCode: InputError.configuration)
        }
        return value * factor
    }

    /// `data/BasicMotions_TRAIN.ts` → `BasicMotions_TRAIN.tuned.safetensors`.
    static func defaultOut(for data: String) -> String {
        URL(fileURLWithPath: data).deletingPathExtension().lastPathComponent + ".tuned.safetensors"
    }
}

/// Shows the search: a bar on a terminal (rung, candidate, fold, epoch, time used of the budget),
/// one line per candidate rung otherwise, or JSON `candidate` events on standard output.
final class TuneProgress {
    let mode: TrainingProgress.Mode
    let budget: Double
    private let started = Date()
    private var candidates: [TuningCandidate] = []
    private var plan = HalvingPlan(rungs: [.init(epochs: 1, folds: 1)], reduction: 2)
    private var position = ""
    /// ` member 2/3` while an ensemble candidate's member trains, else empty.
    private var member = ""
    private var epochs = 1
    private var lastDraw = Date.distantPast
    /// Candidates the budget dropped before their first fold, not printed yet: (rung, count).
    private var untrained: (rung: Int, count: Int)?

    init(mode: TrainingProgress.Mode, budget: Double) {
        self.mode = mode
        self.budget = budget
    }

    func handle(_ event: TuningEvent) {
        switch event {
        case .planned(let candidates, let plan, let notes):
            self.candidates = candidates
            self.plan = plan
            let rungs = plan.rungs.enumerated().map { "\($0.offset + 1): \($0.element.label)" }
            let duplicates = candidates.filter { $0.duplicateOf != nil }.count
            printError(
                "tuning \(candidates.count) candidates"
                    + (duplicates > 0 ? " (\(candidates.count - duplicates) distinct on this data)" : "")
                    + " in \(plan.rungs.count) rungs (\(rungs.joined(separator: "; "))), budget \(Self.clock(budget))")
            for note in notes { printError("note: \(note)") }
        case .fold(let candidate, let rung, let fold):
            epochs = plan.rungs[rung].epochs
            member = ""
            position = "rung \(rung + 1)/\(plan.rungs.count) candidate \(candidate + 1)/\(candidates.count) "
                + "fold \(fold + 1)/\(plan.rungs[rung].folds)"
        case .refining(let round, let label, let epochs, let split, let fold):
            self.epochs = epochs
            member = ""
            position = "refinement round \(round) \(label) split \(split + 1) fold \(fold + 1)"
        case .training(.member(let index, let count)):
            member = " member \(index + 1)/\(count)"
        case .training(.batch(let epoch, let step, let steps, _)):
            guard mode == .bar else { return }
            let now = Date()
            guard now.timeIntervalSince(lastDraw) > 0.1 else { return }
            lastDraw = now
            let width = 20
            let done = (Double(epoch - 1) + Double(step) / Double(steps)) / Double(epochs)
            let filled = min(width, Int(Double(width) * done))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let line = "\r\u{1B}[2K\(position)\(member) "
                + "epoch \(epoch)/\(epochs) \(bar) | \(Self.clock(now.timeIntervalSince(started))) of \(Self.clock(budget))"
            FileHandle.standardError.write(Data(line.utf8))
        case .training:
            break
        case .rung(let candidate, let result):
            if !result.completed && result.accuracies.isEmpty && mode != .json {
                // One line for the lot, not one per candidate the budget never started.
                if let held = untrained, held.rung != result.rung { flushUntrained() }
                untrained = (result.rung, (untrained?.count ?? 0) + 1)
                return
            }
            flushUntrained()
            let summary = result.completed
                ? String(format: "accuracy %.4f ± %.4f over %d folds", result.mean, result.std, result.accuracies.count)
                : "dropped by the budget after \(result.accuracies.count) fold\(result.accuracies.count == 1 ? "" : "s")"
            let line = "rung \(result.rung + 1)/\(plan.rungs.count) candidate \(candidate + 1)/\(candidates.count): "
                + "\(candidates[candidate].label): \(summary), \(String(format: "%.1f", result.seconds)) s"
            if mode == .bar { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
            printError(line)
            if mode == .json {
                print(JSONValue.object([
                    "event": .string("candidate"), "candidate": .number(Double(candidate + 1)),
                    "settings": .object(Dictionary(uniqueKeysWithValues: candidates[candidate].overrides.map { ($0.key, JSONValue.string($0.value)) })),
                    "rung": .number(Double(result.rung + 1)), "epochs": .number(Double(plan.rungs[result.rung].epochs)),
                    "folds": .number(Double(result.accuracies.count)), "accuracy": .number(result.mean), "std": .number(result.std),
                    "fold_accuracies": .array(result.accuracies.map { .number($0) }), "completed": .bool(result.completed),
                    "seconds": .number(result.seconds),
                ]).jsonText)
                fflush(nil)
            }
        case .refined(let entry):
            flushUntrained()
            let summary = entry.completed
                ? String(format: "accuracy %.4f ± %.4f over %d folds", entry.mean, entry.std, entry.accuracies.count)
                : "dropped by the budget after \(entry.accuracies.count) fold\(entry.accuracies.count == 1 ? "" : "s")"
            if mode == .bar { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
            printError("refinement round \(entry.round): \(entry.label): \(summary), \(String(format: "%.1f", entry.seconds)) s")
            if mode == .json {
                print(JSONValue.object([
                    "event": .string("refinement"), "round": .number(Double(entry.round)),
                    "candidate": .number(Double(entry.candidate + 1)), "changes": .array(entry.changes.map { .string($0.label) }),
                    "accuracy": .number(entry.mean), "std": .number(entry.std),
                    "fold_accuracies": .array(entry.accuracies.map { .number($0) }), "completed": .bool(entry.completed),
                    "seconds": .number(entry.seconds),
                ]).jsonText)
                fflush(nil)
            }
        }
    }

    /// Prints the line for the candidates the budget dropped before their first fold, if any.
    func flushUntrained() {
        guard let held = untrained else { return }
        untrained = nil
        if mode == .bar { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
        printError(
            "rung \(held.rung + 1)/\(plan.rungs.count): \(held.count) candidate\(held.count == 1 ? "" : "s") dropped by the budget "
                + "before \(held.count == 1 ? "its" : "their") first fold")
    }

    /// Prints the choice (standard error; the tables on standard output without --json).
    func chose(_ search: TuningResult) {
        flushUntrained()
        let accuracies = search.recipeAccuracies
        printError(
            "chose \(search.recipeLabel): accuracy \(MeanStd(accuracies).formatted) over \(accuracies.count) held-out folds"
                + Self.tieNote(search) + "; search \(String(format: "%.1f", search.seconds)) s"
                + (search.budgetBound ? " (the budget dropped some candidates)" : "") + Self.refinementNote(search)
                + "; training the final model")
        guard mode != .json else { return }
        let rungs = search.plan.rungs.enumerated().map { "\($0.offset + 1): \($0.element.label)" }
        print("  #  outcome    settings  mean held-out accuracy per rung (\(rungs.joined(separator: " → ")))")
        for (index, candidate) in search.candidates.enumerated() {
            let record = search.outcome.records[index]
            let rungs = candidate.duplicateOf.map { "= \($0 + 1)" }
                ?? record.results.map { $0.completed ? String(format: "%.3f", $0.mean) : "dropped" }.joined(separator: " → ")
            let number = String(index + 1), outcome = record.outcome.rawValue
            print(String(repeating: " ", count: max(0, 3 - number.count)) + number + "  " + outcome
                + String(repeating: " ", count: max(0, 9 - outcome.count)) + "  " + candidate.label + "  " + rungs)
        }
        guard let refinement = search.refinement else { return }
        print("refinement (\(search.splits) fold splits × \(search.folds) folds):")
        for entry in refinement.entries {
            let score = entry.completed ? String(format: "%.4f ± %.4f", entry.mean, entry.std) : "dropped"
            print("  round \(entry.round)  \(entry.chosen ? "chosen " : "       ")  \(entry.label)  \(score)")
        }
    }

    /// `; tied with #32, #88 on the highest rung, the cheapest to stream` when the halving winner
    /// (without a refinement stage to decide) won a tie.
    static func tieNote(_ search: TuningResult) -> String {
        guard search.chosen == nil, let winner = search.outcome.winner, let rung = search.outcome.highestRung else { return "" }
        let records = search.outcome.records
        let best = records[winner].results[rung].mean
        let tied = records.indices.filter { index in
            index != winner && records[index].results.count > rung && records[index].results[rung].completed
                && abs(records[index].results[rung].mean - best) <= 1e-6
        }
        guard !tied.isEmpty else { return "" }
        let cheaper = tied.allSatisfy { search.costs[$0] != search.costs[winner] }
        return " (tied with " + tied.map { "#\($0 + 1)" }.joined(separator: ", ") + " on rung \(rung + 1); "
            + (cheaper ? "the cheapest to stream)" : "the cheapest to stream, first in the table)")
    }

    /// Why the refinement stage did not run, when it did not.
    static func refinementNote(_ search: TuningResult) -> String {
        guard search.refinement == nil, let rung = search.outcome.highestRung else { return "" }
        if rung < search.plan.rungs.count - 1 {
            return "; no refinement: the budget ended the search in rung \(rung + 2) of \(search.plan.rungs.count)"
        }
        if search.splits == 0 { return "; no refinement (--splits 0)" }
        return search.splits == 1 && search.changes.isEmpty ? "; no refinement (--splits 1 and every change fixed by a flag)" : ""
    }

    /// `4m05s` or `42s`.
    static func clock(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded())
        return whole >= 60 ? "\(whole / 60)m\(String(format: "%02d", whole % 60))s" : "\(whole)s"
    }
}
