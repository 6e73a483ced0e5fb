import Foundation
import LSTMKit

extension ModelStore {
    /// A stored version's place in the store's history.
    public enum State: String, Sendable, Equatable, Codable {
        /// Served now: the `current` pointer names it.
        case current
        /// Served just before the current one: the rollback target; never pruned.
        case previous
        /// Refused by the promotion gate and never served.
        case rejected
        /// Anything else: served before the previous one, or installed and replaced.
        case retired
    }

    /// How a version entered the store.
    public enum Verdict: String, Sendable, Equatable, Codable {
        /// Given explicitly (`--model`, `model =`), not judged by the gate.
        case installed
        /// Passed the promotion gate.
        case promoted
        /// Failed the promotion gate.
        case rejected
    }

    /// What the store keeps about a version beside its model file, as `<version>.json`.
    public struct Metadata: Sendable, Equatable, Codable {
        /// The version, a file-name-safe identifier (see `ModelStore.isValidVersion`).
        public var version: String
        /// When the version was made.
        public var created: Date
        /// What made it: e.g. `explicit`, `interval`, `manual`.
        public var trigger: String
        /// How it entered the store.
        public var verdict: Verdict
        /// Why (the gate's reason, or a note).
        public var reason: String
        /// The gate's report, when a gate decided.
        public var gate: PromotionReport?
        /// The retraining job's own report (data counts, duration, …), free-form.
        public var job: JSONValue?

        /// Creates metadata.
        ///
        /// - Parameters:
        ///   - version: The version.
        ///   - created: When it was made; default now.
        ///   - trigger: What made it.
        ///   - verdict: How it entered the store.
        ///   - reason: Why.
        ///   - gate: The gate's report, if any.
        ///   - job: The job's report, if any.
        public init(
            version: String, created: Date = Date(), trigger: String, verdict: Verdict, reason: String = "",
            gate: PromotionReport? = nil, job: JSONValue? = nil
        ) {
            self.version = version
            self.created = created
            self.trigger = trigger
            self.verdict = verdict
            self.reason = reason
            self.gate = gate
            self.job = job
        }

        enum CodingKeys: String, CodingKey {
            case version, created, trigger, verdict, reason, gate, job
        }
    }

    /// One version as `lstmctl models` lists it.
    public struct Entry: Sendable, Equatable {
        /// What the store keeps about it; reconstructed (trigger `unknown`, created from the file's
        /// modification time) when `<version>.json` is missing or unreadable.
        public var metadata: Metadata
        /// Its state.
        public var state: State
        /// Its model file.
        public var modelURL: URL

        /// The version.
        public var version: String { metadata.version }
    }

    /// The model `resolve` chose to serve.
    public struct Resolution<Model> {
        /// The version served.
        public var version: String
        /// What the injected loader returned for it.
        public var model: Model
        /// The versions tried before it, with why each was passed over (missing, or the loader's
        /// error); empty when the pointer's version loaded.
        public var skipped: [(version: String, reason: String)]

        /// Whether the store fell back from the pointer's version.
        public var fellBack: Bool { !skipped.isEmpty }
    }
}

extension ModelStore.Resolution: Sendable where Model: Sendable {}
