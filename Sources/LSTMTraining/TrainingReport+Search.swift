import Foundation

// The `lstmctl tune` search table of a `TrainingReport`.

extension TrainingReport {
    /// The search table: one row per candidate with its settings, streaming cost, mean ± std
    /// held-out accuracy per rung (or why it stopped) and its outcome; the winner highlighted.
    func searchSection(_ search: TuningResult) -> String {
        var html = "<section id=\"search\">\n<h2>Search (lstmctl tune)</h2>\n"
        let rungs = search.plan.rungs.enumerated().map { "rung \($0.offset + 1): \($0.element.epochs) epochs × \($0.element.folds) folds" }
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
        return html + "</tbody>\n</table>\n</section>\n"
    }
}
