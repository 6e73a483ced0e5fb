import Foundation
import Testing

/// `lstmctl tune` as a user runs it (tiny models and 2 folds: these are debug builds).
extension ClientToolTests {
    /// Fixes everything but `bidirectional` and `learning_rate`: 4 candidates, 2 rungs; the
    /// refinement's changes are fixed too, so it only re-scores the finalists.
    static let tinyTune = [
        "--hidden-size", "8", "--layers", "1", "--epochs", "3", "--batch-size", "8", "--normalize", "global", "--downsample", "1",
        "--ensemble", "1", "--time-warp", "0", "--front-end", "none",
    ]

    @Test func tuneSearchesThenWritesAModelWithItsSearchTable() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var files: [Data] = []
        for name in ["a", "b"] {
            let model = directory.appendingPathComponent("\(name).safetensors").path
            let result = try run(
                try lstmctl, ["tune", "--train", Self.trainData, "--budget", "5m", "--folds", "2", "--out", model, "--json"] + Self.tinyTune,
                timeout: 300)
            #expect(result.status == 0, "\(result.err)")
            let events = result.out.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            // 4 candidates on rung 1 (1 epoch), the best 2 on rung 2 (3 epochs), the 2 finalists
            // on 2 more fold splits (the refinement's changes are all fixed by the flags), then
            // the summary.
            #expect(
                events.map { $0["event"] as? String } == Array(repeating: "candidate", count: 6) + ["refinement", "refinement", "finished"],
                "\(result.out)")
            #expect(events[6...7].allSatisfy { ($0["fold_accuracies"] as? [Double])?.count == 6 && $0["round"] as? Int == 0 })
            #expect(events.prefix(4).map { $0["rung"] as? Int } == [1, 1, 1, 1] && events[4]["rung"] as? Int == 2)
            #expect(events.prefix(6).allSatisfy { ($0["fold_accuracies"] as? [Double])?.count == 2 })
            #expect(result.err.contains("tuning 4 candidates in 2 rungs"), "\(result.err)")
            #expect(result.err.contains("hidden_size fixed at 8 by the recipe options; not searched"), "\(result.err)")
            #expect(result.err.contains("refinement ensemble fixed at 1 by the recipe options; not tried"), "\(result.err)")
            let summary = events.last!
            #expect(summary["model"] as? String == model && summary["budget_bound"] as? Bool == false)
            let winner = summary["winner"] as! [String: Any]
            #expect(winner["outcome"] as? String == "winner")
            #expect((summary["fold_accuracies"] as? [Double])?.count == 6 && summary["duplicates"] as? Int == 0)
            files.append(try Data(contentsOf: URL(fileURLWithPath: model)))

            let report = try String(contentsOfFile: directory.appendingPathComponent("\(name).report.html").path, encoding: .utf8)
            #expect(report.contains("<section id=\"search\">") && report.contains("learning_rate") && report.contains(">winner<"))
            #expect(report.contains("Recipe chosen by lstmctl tune"))
            let summaryAt = report.range(of: "id=\"summary\"")!.lowerBound
            #expect(summaryAt < report.range(of: "id=\"search\"")!.lowerBound, "the search table follows the summary")
        }
        #expect(files[0] == files[1], "same seed, same model file")

        let model = directory.appendingPathComponent("a.safetensors").path
        let inspect = try run(try lstmctl, ["inspect", model, "--json"])
        #expect(inspect.status == 0, "\(inspect.err)")
        let object = try JSONSerialization.jsonObject(with: Data(inspect.out.utf8)) as! [String: Any]
        let provenance = object["provenance"] as! [String: Any]
        #expect(provenance["trainer"] as? String == "lstmctl tune")
        let tuning = provenance["tuning"] as! [String: Any]
        #expect((tuning["candidates"] as! [[String: Any]]).count == 4 && tuning["winner"] is Int && tuning["folds"] as? Int == 2)
        let refinement = tuning["refinement"] as! [String: Any]
        #expect((refinement["entries"] as! [[String: Any]]).count == 2 && refinement["splits"] as? Int == 3)

        let evaluate = try run(try lstmctl, ["evaluate", "--model", model, "--data", Self.testData, "--json"])
        #expect(evaluate.status == 0, "\(evaluate.err)")
        #expect((try JSONSerialization.jsonObject(with: Data(evaluate.out.utf8)) as! [String: Any])["accuracy"] is Double)
    }

    @Test func theFinalTrainingDoesNotSuggestWhatTheSearchMeasured() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appendingPathComponent("m.safetensors").path
        let base = ["tune", "--train", Self.trainData, "--budget", "5m", "--folds", "2", "--out", model, "--splits", "0"]
        // BasicMotions' amplitudes differ by 10^1.3 across samples: train suggests per-sample.
        let pinned = try run(try lstmctl, base + Self.tinyTune, timeout: 300)
        #expect(pinned.status == 0, "\(pinned.err)")
        #expect(pinned.err.contains("suggestion: samples differ in amplitude"), "normalize fixed by a flag: \(pinned.err)")
        var searching = Self.tinyTune
        searching.removeSubrange(searching.firstIndex(of: "--normalize")!...searching.firstIndex(of: "--normalize")! + 1)
        let searched = try run(try lstmctl, base + searching, timeout: 300)
        #expect(searched.status == 0, "\(searched.err)")
        #expect(searched.err.contains("normalize=per-sample"), "normalize searched: \(searched.err)")
        // The suggestion would be made (a global recipe won), so its absence is the filter's doing.
        let chose = searched.err.split(separator: "\n").first { $0.hasPrefix("chose ") } ?? ""
        #expect(chose.contains("normalize=global"), "\(chose)")
        #expect(!searched.err.contains("try --normalize per-sample"), "\(searched.err)")
        let report = try String(contentsOfFile: directory.appendingPathComponent("m.report.html").path, encoding: .utf8)
        #expect(!report.contains("try --normalize per-sample"))
    }

    @Test func tuneRefusesBadInputClearly() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appendingPathComponent("m.safetensors").path
        let base = ["tune", "--train", Self.trainData, "--out", model]
        let zero = try run(try lstmctl, base + ["--budget", "0"])
        #expect(zero.status == 78 && zero.err.contains("--budget must be more than 0, got '0'"), "\(zero.err)")
        let word = try run(try lstmctl, base + ["--budget", "soon"])
        #expect(word.status == 78 && word.err.contains("--budget must be a duration such as 20m, 90s, 1h"), "\(word.err)")
        let one = try run(try lstmctl, base + ["--folds", "1"])
        #expect(one.status == 78 && one.err.contains("--folds must be at least 2, got 1"), "\(one.err)")
        let missing = try run(try lstmctl, ["tune", "--train", "no/such.ts", "--out", model])
        #expect(missing.status == 65 && missing.err.contains("such.ts: cannot read"), "\(missing.err)")
        let tooMany = try run(try lstmctl, base + ["--folds", "11"])
        #expect(tooMany.status == 65 && tooMany.err.contains("11 folds need at least 11 samples in some class"), "\(tooMany.err)")
        let negative = try run(try lstmctl, base + ["--budget", "-5"])
        #expect(negative.status == 78 && negative.err.contains("--budget must be more than 0, got '-5'"), "\(negative.err)")
        // A budget too short for any rung: one line for the candidates it never started, then the error.
        let short = try run(try lstmctl, base + ["--budget", "0.01"] + Self.tinyTune)
        #expect(short.status == 78 && short.err.contains("did not fit one rung of any candidate"), "\(short.err)")
        #expect(short.err.contains("candidates dropped by the budget before their first fold"), "\(short.err)")
        #expect(short.err.split(separator: "\n").filter { $0.contains("dropped by the budget") }.count <= 2, "\(short.err)")
        for result in [zero, word, one, missing, tooMany, negative] { #expect(!result.err.contains("Usage:"), "\(result.err)") }
        #expect(!FileManager.default.fileExists(atPath: model))
        let help = try run(try lstmctl, ["tune", "--help"])
        for text in ["--budget", "--folds", "--splits", "--hidden-size", "refinement"] {
            #expect(help.out.contains(text), "tune --help lacks \(text)")
        }
    }
}
