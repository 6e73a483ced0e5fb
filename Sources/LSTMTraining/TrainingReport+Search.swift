import Foundation

// The `lstmctl tune` search table of a `TrainingReport`.

extension TrainingReport {
    /// The search table: one row per candidate with its settings, streaming cost, mean ± std
    /// held-out accuracy per rung (or why it stopped) and its outcome; the winner highlighted.
    func searchSection(_ search: TuningResult) -> String {
        var html = "<section id=\"search\">\n<h2>Search (lstmctl tune)</h2>\n"
        let rungs = search.plan.rungs.enumerated().map { "rung \($0.offset + 1): \($0.element.label)" }
        html += "<p class=\"hint\">Stratified \(search.folds)-fold cross-validation on the training data only; "
            + "successive halving (the best 1/\(search.plan.reduction) of each rung move on): \(Self.escape(rungs.joined(separator: ", "))). "
            + "Budget \(Self.decimal(search.budget, places: 0)) s, search took \(Self.decimal(search.seconds, places: 1)) s"
            + (search.budgetBound ? "; the budget dropped some candidates" : "") + ". "
            + "The winner has the best mean accuracy on the highest rung; ties go to the cheaper model to stream "
            + "(unidirectional, then fewer FLOPs per timestep).</p>\n"
        for note in search.notes { html += "<p class=\"hint\">\(Self.escape(note)).</p>\n" }
        let keys = search.candidates.first?.overrides.map(\.key) ?? []
        html += "<table class=\"numbers\">\n<thead><tr><th>#</th>"
        html += keys.map { "<th>\(Self.escape($0))</th>" }.joined()
        html += "<th>kFLOP/step</th>"
        html += search.plan.rungs.indices.map { "<th>Rung \($0 + 1)</th>" }.joined()
        html += "<th>Seconds</th><th>Outcome</th></tr></thead>\n<tbody>\n"
        for (index, candidate) in search.candidates.enumerated() {
            let record = search.outcome.records[index]
            html += "<tr\(record.outcome == .winner ? " class=\"best\"" : "")><th>\(index + 1)</th>"
            html += candidate.overrides.map { "<td>\(Self.escape($0.value))</td>" }.joined()
            html += "<td>\(Self.decimal(search.costs[index].flopsPerStep / 1000, places: 1))</td>"
            if let original = candidate.duplicateOf {
                html += "<td colspan=\"\(search.plan.rungs.count + 1)\">the same recipe as #\(original + 1) on this data</td>"
                html += "<td>\(record.outcome.rawValue)</td></tr>\n"
                continue
            }
            for rung in search.plan.rungs.indices {
                guard let result = record.results.first(where: { $0.rung == rung }) else {
                    html += "<td>—</td>"
                    continue
                }
                let text = result.completed
                    ? "\(Self.decimal(result.mean, places: 3)) ± \(Self.decimal(result.std, places: 3))"
                    : "dropped after \(result.accuracies.count) folds"
                html += "<td title=\"folds: \(result.accuracies.map { Self.decimal($0, places: 3) }.joined(separator: ", "))\">\(text)</td>"
            }
            html += "<td>\(Self.decimal(record.results.reduce(0) { $0 + $1.seconds }, places: 1))</td>"
            html += "<td>\(record.outcome.rawValue)</td></tr>\n"
        }
        html += "</tbody>\n</table>\n"
        if let refinement = search.refinement { html += refinementTable(refinement, search: search) }
        return html + "</section>\n"
    }

    /// The refinement stage: every recipe it scored, round by round, the adopted ones highlighted.
    func refinementTable(_ refinement: Refinement.Outcome, search: TuningResult) -> String {
        var html = "<h3>Refinement</h3>\n<p class=\"hint\">With the budget left: the finalists (round 0), then one change at a "
            + "time to the best recipe, each cross-validated on \(search.splits) fold splits of \(search.folds) folds; a change is "
            + "adopted when its gain over the current recipe is significant (one-sided 5%, corrected for the changes scored in "
            + "the round: more than 1.645, 1.960 or 2.128 standard errors of their per-fold differences for 1, 2 or 3 changes)"
            + (refinement.budgetBound ? "; the budget stopped the stage" : "") + ".</p>\n"
        html += "<table class=\"numbers\">\n<thead><tr><th>Round</th><th>Recipe</th><th>Accuracy</th><th>Folds</th>"
            + "<th>Seconds</th><th>Chosen</th></tr></thead>\n<tbody>\n"
        for (index, entry) in refinement.entries.enumerated() {
            let final = index == refinement.chosen
            html += "<tr\(final ? " class=\"best\"" : "")><td>\(entry.round)</td><td>\(Self.escape(entry.label))</td>"
            let text = entry.completed
                ? "\(Self.decimal(entry.mean, places: 4)) ± \(Self.decimal(entry.std, places: 4))"
                : "dropped after \(entry.accuracies.count) folds"
            html += "<td title=\"folds: \(entry.accuracies.map { Self.decimal($0, places: 3) }.joined(separator: ", "))\">\(text)</td>"
            html += "<td>\(entry.accuracies.count)</td><td>\(Self.decimal(entry.seconds, places: 1))</td>"
            html += "<td>\(final ? "final" : entry.chosen ? "adopted" : "")</td></tr>\n"
        }
        return html + "</tbody>\n</table>\n"
    }
}
