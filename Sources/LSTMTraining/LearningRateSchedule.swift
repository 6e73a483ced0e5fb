import Foundation

/// How the learning rate changes from epoch to epoch (a multiple of the optimiser's base rate).
public enum LearningRateSchedule: Sendable, Equatable, Hashable {
    /// The base rate throughout.
    case constant
    /// Multiply by `factor` every `every` epochs.
    case step(every: Int, factor: Float)
    /// Linear warm-up over `warmup` epochs (from base/warmup to base), then cosine decay to
    /// `minimum` at the last epoch.
    case cosine(warmup: Int, minimum: Float)
    /// ReduceLROnPlateau: multiply by `factor` when the monitored validation loss has not improved
    /// for `patience` epochs, never below `minimum`.
    case plateau(factor: Float, patience: Int, minimum: Float)

    /// Parses `constant`, `step[:EVERY[:FACTOR]]`, `cosine[:WARMUP[:MIN]]`, `plateau[:FACTOR[:PATIENCE[:MIN]]]`.
    /// - Throws: `TrainingError` for anything else.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func number<T: LosslessStringConvertible>(_ index: Int, _ fallback: T) throws -> T {
            guard index < parts.count else { return fallback }
            guard let value = T(parts[index]) else {
                throw TrainingError("schedule '\(text)': '\(parts[index])' is not a number")
            }
            return value
        }
        switch parts[0] {
        case "constant" where parts.count == 1: self = .constant
        case "step" where parts.count <= 3: self = .step(every: try number(1, 30), factor: try number(2, Float(0.5)))
        case "cosine" where parts.count <= 3: self = .cosine(warmup: try number(1, 5), minimum: try number(2, Float(1e-5)))
        case "plateau" where parts.count <= 4:
            self = .plateau(factor: try number(1, Float(0.5)), patience: try number(2, 10), minimum: try number(3, Float(1e-5)))
        default:
            throw TrainingError(
                "unknown schedule '\(text)': use constant, step[:EVERY[:FACTOR]], cosine[:WARMUP[:MIN]] or plateau[:FACTOR[:PATIENCE[:MIN]]]")
        }
        try validate()
    }

    /// The text form `init(parsing:)` reads.
    public var description: String {
        switch self {
        case .constant: "constant"
        case .step(let every, let factor): "step:\(every):\(factor)"
        case .cosine(let warmup, let minimum): "cosine:\(warmup):\(minimum)"
        case .plateau(let factor, let patience, let minimum): "plateau:\(factor):\(patience):\(minimum)"
        }
    }

    /// - Throws: `TrainingError` for out-of-range values.
    public func validate() throws {
        switch self {
        case .constant: break
        case .step(let every, let factor):
            guard every >= 1, factor > 0, factor <= 1 else { throw TrainingError("step schedule needs EVERY ≥ 1 and FACTOR in (0, 1]") }
        case .cosine(let warmup, let minimum):
            guard warmup >= 0, minimum >= 0 else { throw TrainingError("cosine schedule needs WARMUP ≥ 0 and MIN ≥ 0") }
        case .plateau(let factor, let patience, let minimum):
            guard factor > 0, factor < 1, patience >= 0, minimum >= 0 else {
                throw TrainingError("plateau schedule needs FACTOR in (0, 1), PATIENCE ≥ 0, MIN ≥ 0")
            }
        }
    }
}

/// The schedule's state over one training run: a small state machine fed one validation loss
/// per epoch.
public struct LearningRateController: Sendable {
    public let schedule: LearningRateSchedule
    public let base: Float
    public let epochs: Int
    /// The rate for the next epoch.
    public private(set) var rate: Float
    private var best = Double.infinity
    private var waited = 0
    private var epoch = 0

    /// Starts at epoch 1 of `epochs`.
    public init(schedule: LearningRateSchedule, base: Float, epochs: Int) {
        self.schedule = schedule
        self.base = base
        self.epochs = epochs
        rate = Self.rate(schedule, base: base, epoch: 1, epochs: epochs) ?? base
    }

    static func rate(_ schedule: LearningRateSchedule, base: Float, epoch: Int, epochs: Int) -> Float? {
        switch schedule {
        case .constant: return base
        case .step(let every, let factor): return base * Float(Foundation.pow(Double(factor), Double((epoch - 1) / every)))
        case .cosine(let warmup, let minimum):
            if epoch <= warmup { return base * Float(epoch) / Float(warmup) }
            let span = max(1, epochs - warmup - 1)
            let progress = min(1, Double(epoch - warmup - 1) / Double(span))
            return minimum + (base - minimum) * Float(0.5 * (1 + Foundation.cos(Double.pi * progress)))
        case .plateau: return nil
        }
    }

    /// Records the finished epoch's monitored loss and moves to the next epoch's rate.
    public mutating func finishEpoch(monitoredLoss: Double) {
        epoch += 1
        if case .plateau(let factor, let patience, let minimum) = schedule {
            if !best.isFinite || monitoredLoss < best - 1e-4 * abs(best) {
                best = monitoredLoss
                waited = 0
            } else {
                waited += 1
                if waited > patience {
                    rate = max(minimum, rate * factor)
                    waited = 0
                }
            }
        } else {
            rate = Self.rate(schedule, base: base, epoch: epoch + 1, epochs: epochs) ?? rate
        }
    }
}
