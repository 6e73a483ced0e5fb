import LSTMKit

/// One searched recipe setting: its recipe key and the values tried, each in the recipe-file
/// syntax (`TrainingConfiguration.set(_:_:)` reads them).
public struct TuningDimension: Sendable, Equatable {
    /// The recipe key, e.g. `hidden_size`.
    public var key: String
    /// The values tried, in the order candidates list them.
    public var values: [String]

    public init(key: String, values: [String]) {
        self.key = key
        self.values = values
    }
}

/// What `lstmctl tune` searches: a list of dimensions whose cartesian product, applied over the
/// user's recipe, gives the candidates.
///
/// A dimension whose key the trainer does not know is skipped with a note, so a setting a later
/// trainer adds (`normalize`, `downsample`, `ensemble`) is searched as soon as it exists, without
/// an edit here. A dimension whose key the user fixed (a recipe flag) is not searched either.
public struct TuningSpace: Sendable, Equatable {
    public var dimensions: [TuningDimension]
    /// The changes the refinement stage (``Refinement``) tries on the best recipe, one at a time.
    public var refinements: [TuningChange]

    public init(dimensions: [TuningDimension], refinements: [TuningChange] = []) {
        self.dimensions = dimensions
        self.refinements = refinements
    }

    /// The documented default space (README, "Tuning"): input normalisation, downsampling,
    /// hidden size, layers, direction, learning rate and ensemble size, every candidate with a
    /// convolutional front end of two causal 64×5 layers (a one-value dimension: `--front-end
    /// none` turns it off, e.g. for models whose continuous streams should be batched); the
    /// refinement stage tries
    /// ensemble 5, hidden size 64 and time-warp augmentation (all chosen by cross-validation on
    /// training data only; the README has the numbers).
    public static let standard = TuningSpace(dimensions: [
        TuningDimension(key: "normalize", values: ["global", "per-sample"]),
        TuningDimension(key: "downsample", values: ["1", "auto"]),
        TuningDimension(key: "hidden_size", values: ["32", "64"]),
        TuningDimension(key: "layers", values: ["1", "2"]),
        TuningDimension(key: "bidirectional", values: ["false", "true"]),
        TuningDimension(key: "learning_rate", values: ["0.001", "0.003"]),
        TuningDimension(key: "ensemble", values: ["1", "3"]),
        TuningDimension(key: "front_end", values: ["64x5,64x5"]),
    ], refinements: [
        TuningChange(key: "ensemble", value: "5"),
        TuningChange(key: "hidden_size", value: "64"),
        TuningChange(key: "time_warp", value: "0.5"),
    ])

    /// The keys a recipe file's text sets (empty when it does not parse; `apply(recipe:path:)`
    /// reports that).
    public static func keys(inRecipe text: String, path: String) -> [String] {
        ((try? TrainingConfiguration.table.parse(text, path: path))?.entries ?? []).map(\.key)
    }

    /// The candidates: every combination of the searched dimensions' values (the first dimension
    /// varies slowest), each applied over `base`.
    /// - Parameters:
    ///   - base: the recipe that fixes every setting the space does not search.
    ///   - pinned: keys the user set explicitly; their dimensions are not searched.
    /// - Returns: the candidates and one note per dimension that is not searched, saying why.
    /// - Throws: `TrainingError` when a value of the space is not valid for its key.
    public func candidates(
        base: TrainingConfiguration, pinned: Set<String> = []
    ) throws -> (candidates: [TuningCandidate], notes: [String]) {
        var searched: [TuningDimension] = []
        var notes: [String] = []
        for dimension in dimensions {
            if TrainingConfiguration.table.setting(named: dimension.key) == nil {
                notes.append("\(dimension.key) is not a setting of this trainer; not searched")
            } else if pinned.contains(dimension.key) {
                notes.append("\(dimension.key) fixed at \(base.value(of: dimension.key)) by the recipe options; not searched")
            } else if dimension.values.count > 1 {
                searched.append(dimension)
            } else if let value = dimension.values.first {
                searched.append(TuningDimension(key: dimension.key, values: [value]))
            }
        }
        var combinations: [[(key: String, value: String)]] = [[]]
        for dimension in searched {
            combinations = combinations.flatMap { prefix in dimension.values.map { prefix + [(dimension.key, $0)] } }
        }
        var candidates: [TuningCandidate] = []
        for (index, overrides) in combinations.enumerated() {
            var configuration = base
            for (key, value) in overrides {
                do {
                    try configuration.set(key, value)
                } catch let error as TrainingError {
                    throw TrainingError("search space: \(key) = \(value): \(error.message)")
                }
            }
            do {
                try configuration.validate()
            } catch let error as TrainingError {
                throw TrainingError(
                    "search space: candidate \(overrides.map { "\($0.key)=\($0.value)" }.joined(separator: " ")): \(error.message)")
            }
            candidates.append(TuningCandidate(index: index, overrides: overrides, configuration: configuration))
        }
        return (candidates, notes)
    }
}

extension TuningSpace {
    /// The recipe `configuration` trains on data whose training subsets have the longest samples
    /// `longest` (every fold's training part and the whole training data):
    /// - `downsample auto` is replaced by the factor it resolves to when it resolves to the same
    ///   one on all of them, with the trainer's own function
    ///   (``TrainingConfiguration/preprocessing(longest:)``);
    /// - on data whose samples are already z-normalised alike (`zNormalized`,
    ///   ``Dataset/isZNormalizedPerSample(tolerance:)``), `normalize per-sample` without
    ///   downsampling, under the z-score scaler, is `normalize global`: the same inputs up to
    ///   rounding. (With downsampling it is not: per-sample divides by the raw deviation, the
    ///   scaler by the block means', and augmentation noise does not scale with either.)
    public static func effective(
        _ configuration: TrainingConfiguration, longest: [Int], zNormalized: Bool = false
    ) -> TrainingConfiguration {
        var effective = configuration
        if configuration.downsample == 0 {
            let factors = Set(longest.map { configuration.preprocessing(longest: $0).downsample })
            if factors.count == 1, let factor = factors.first { effective.downsample = factor }
        }
        if zNormalized && effective.normalize == .perSample && effective.downsample == 1 && effective.scaler == .zscore {
            effective.normalize = .global
        }
        return effective
    }

    /// For each candidate, the first earlier one whose effective recipe (``effective(_:longest:zNormalized:)``)
    /// is identical, or nil: e.g. `downsample=auto` on data whose samples are at most 200 steps
    /// long repeats `downsample=1`. Identical effective recipes train identical models on the same
    /// folds (the z-normalised rule: identical up to rounding).
    public static func duplicates(_ candidates: [TuningCandidate], longest: [Int], zNormalized: Bool = false) -> [Int?] {
        let recipes = candidates.map { effective($0.configuration, longest: longest, zNormalized: zNormalized) }
        return recipes.indices.map { index in
            recipes[..<index].firstIndex(of: recipes[index])
        }
    }
}

/// One point of the search space: the recipe overrides and the recipe they make.
public struct TuningCandidate: Sendable {
    /// Position in the candidate list (0-based).
    public var index: Int
    /// The searched settings, as recipe key and value.
    public var overrides: [(key: String, value: String)]
    /// The base recipe with `overrides` applied.
    public var configuration: TrainingConfiguration
    /// The earlier candidate (0-based) whose recipe is the same on the data searched (see
    /// ``TuningSpace/duplicates(_:longest:zNormalized:)``), or nil. A duplicate is not trained.
    public var duplicateOf: Int?

    public init(
        index: Int, overrides: [(key: String, value: String)], configuration: TrainingConfiguration, duplicateOf: Int? = nil
    ) {
        self.index = index
        self.overrides = overrides
        self.configuration = configuration
        self.duplicateOf = duplicateOf
    }

    /// `hidden_size=32 layers=1 …`, or `the recipe as given` when nothing is searched.
    public var label: String {
        overrides.isEmpty ? "the recipe as given" : overrides.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}

/// What a model costs to stream: the tie-break between candidates whose accuracies are equal.
public struct StreamingCost: Sendable, Equatable, Comparable {
    /// Bidirectional models recompute their whole window per label; unidirectional ones step
    /// (with or without a front end).
    public var bidirectional: Bool
    /// Multiply–adds ×2 per raw input timestep of the front end and the recurrent layers, over
    /// every ensemble member, divided by a numeric downsampling factor.
    public var flopsPerStep: Double

    /// The cost of `configuration`'s network for `inputSize` channels. Reads `ensemble` and
    /// `downsample` by key, so it counts them once the trainer has them (1 until then; `auto`
    /// counts as 1).
    public init(_ configuration: TrainingConfiguration, inputSize: Int) {
        let h = Double(configuration.hiddenSize)
        let directions = configuration.bidirectional ? 2.0 : 1.0
        var flops = 0.0
        var input = Double(inputSize)
        for layer in configuration.frontEnd {
            flops += 2 * Double(layer.filters) * input * Double(layer.kernel)
            input = Double(layer.filters)
        }
        for _ in 0..<configuration.layers {
            flops += directions * 2 * 4 * h * (input + h)
            input = h * directions
        }
        let members = Double(Int(configuration.value(of: "ensemble")) ?? 1)
        let downsample = Double(max(1, Int(configuration.value(of: "downsample")) ?? 1))
        bidirectional = configuration.bidirectional
        flopsPerStep = flops * max(1, members) / downsample
    }

    public init(bidirectional: Bool, flopsPerStep: Double) {
        self.bidirectional = bidirectional
        self.flopsPerStep = flopsPerStep
    }

    /// Unidirectional before bidirectional, then fewer FLOPs per timestep.
    public static func < (lhs: StreamingCost, rhs: StreamingCost) -> Bool {
        lhs.bidirectional != rhs.bidirectional ? !lhs.bidirectional : lhs.flopsPerStep < rhs.flopsPerStep
    }
}
