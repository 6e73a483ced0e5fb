import Crypto
import Foundation

/// A dense float tensor: a shape and its row-major elements.
public struct Tensor: Sendable, Equatable {
    /// Dimensions, outermost first.
    public var shape: [Int]
    /// Elements in row-major order.
    public var scalars: [Float]

    /// Creates a tensor; the element count must match the shape.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.reduce(1, *) == scalars.count, "shape \(shape) does not hold \(scalars.count) elements")
        self.shape = shape
        self.scalars = scalars
    }
}

/// How a stream is classified by default.
public enum StreamingMode: String, Sendable, Codable, CaseIterable {
    /// A label every `hop` timesteps computed on the last `window` timesteps.
    case window
    /// One state per stream, never reset except on a gap, eviction or explicit reset.
    case continuous
}

/// Everything a model file holds: architecture, weights, classes, scaler, streaming defaults and
/// provenance. See the model format in the README: tensor names are PyTorch `nn.LSTM` names.
public struct ModelFile: Sendable {
    /// The newest version this build reads and writes to `format_version`; readers refuse newer
    /// versions. A file is written as version 1 unless it needs version 2's `preprocessing`
    /// (non-identity preprocessing), version 3's `ensemble` (more than one member) or version 4's
    /// `architecture.front_end` (a convolutional front end), so older readers refuse what they
    /// would misclassify.
    public static let formatVersion = 4

    /// The largest number of ensemble members a file may hold.
    public static let maxEnsemble = 16

    /// The tensor-name prefix of ensemble member `i` ≥ 1 (`ensemble.1.lstm.weight_ih_l0`); member
    /// 0's tensors keep the plain names.
    public static func memberPrefix(_ member: Int) -> String { member == 0 ? "" : "ensemble.\(member)." }

    /// The network's shape.
    public var architecture: Architecture
    /// Class names in output order.
    public var classes: [String]
    /// Timesteps per window `W` the model was trained on.
    public var window: Int
    /// Default timesteps between labels when streaming in window mode.
    public var hop: Int
    /// Default streaming mode.
    public var mode: StreamingMode
    /// Input scaling fitted at training.
    public var scaler: Scaler
    /// Per-sample normalisation and downsampling applied before the scaler (`Preprocessing`);
    /// `.none` for files without the `preprocessing` key.
    public var preprocessing: Preprocessing
    /// Where the model came from: `created_at`, `trainer`, `dataset_digest`, `validation`, ….
    public var provenance: JSONValue
    /// Members `N` of the ensemble (1: a single model). Member 0's tensors have the plain names,
    /// member `i` ≥ 1's the same names after `memberPrefix(i)`; metadata `ensemble`.
    public var ensemble: Int
    /// Weights by tensor name (every member's).
    public var tensors: [String: Tensor]
    /// `sha256:<hex>` of the file's bytes (as read, or as last serialised).
    public private(set) var digest: String = ""
    /// Whether the tensor data was checked against the checksum stored with it when read
    /// (`verified`), or the file has none (`unverified`: written before checksums, or by hand).
    public private(set) var integrity: Integrity = .unverified

    /// Whether a file's tensor bytes were checked against their stored checksum.
    public enum Integrity: String, Sendable {
        /// The data section's SHA-256 matches `lstmd.tensor_sha256`.
        case verified
        /// The file holds no `lstmd.tensor_sha256`: nothing proves the weights are intact.
        case unverified
    }

    /// The metadata key holding the SHA-256 (lower-case hex) of the data section: every tensor's
    /// bytes, in file order. Written by `serialized()`; checked when read.
    public static let tensorChecksumKey = "lstmd.tensor_sha256"

    /// Creates a model description; `validate()` checks it.
    public init(
        architecture: Architecture, classes: [String], window: Int, hop: Int,
        mode: StreamingMode = .window, scaler: Scaler, preprocessing: Preprocessing = .none,
        provenance: JSONValue = .object([:]), ensemble: Int = 1, tensors: [String: Tensor]
    ) {
        self.preprocessing = preprocessing
        self.ensemble = ensemble
        self.architecture = architecture
        self.classes = classes
        self.window = window
        self.hop = hop
        self.mode = mode
        self.scaler = scaler
        self.provenance = provenance
        self.tensors = tensors
    }

    /// A short identifier for labels and status: `provenance.version` when present, else the
    /// first 12 hex digits of the digest.
    public var version: String {
        if let explicit = provenance["version"]?.stringValue, !explicit.isEmpty { return explicit }
        return String(digest.dropFirst("sha256:".count).prefix(12))
    }

    /// Checks the whole description: architecture, classes, window and hop, scaler, and every
    /// tensor's presence, shape and finiteness. Unexpected tensors are refused.
    /// - Throws: `ModelError` naming the first problem.
    public func validate() throws {
        try architecture.validate()
        guard classes.count == architecture.numClasses else {
            throw ModelError(.metadata, "classes lists \(classes.count) names but num_classes is \(architecture.numClasses)")
        }
        guard Set(classes).count == classes.count, !classes.contains(where: \.isEmpty) else {
            throw ModelError(.metadata, "class names must be unique and non-empty")
        }
        guard (1...1_000_000).contains(window) else {
            throw ModelError(.metadata, "window \(window) must be in 1...1000000")
        }
        guard (1...window).contains(hop) else {
            throw ModelError(.metadata, "hop \(hop) must be in 1...window (\(window))")
        }
        try scaler.validate(channels: architecture.inputSize)
        try preprocessing.validate()
        let k = preprocessing.downsample
        guard window % k == 0, hop % k == 0 else {
            throw ModelError(
                .metadata, "window \(window) and hop \(hop) must be multiples of preprocessing.downsample \(k) (whole blocks)")
        }
        guard (1...Self.maxEnsemble).contains(ensemble) else {
            throw ModelError(.metadata, "ensemble \(ensemble) must be in 1...\(Self.maxEnsemble)")
        }
        let expected = expectedShapes
        for name in expected.keys.sorted() {
            guard let tensor = tensors[name] else {
                let owner = ensemble > 1 ? ", ensemble member \(Self.member(ofTensor: name)) of \(ensemble)" : ""
                throw ModelError(.tensor, "tensor '\(name)' is missing (architecture needs shape \(expected[name]!)\(owner))")
            }
            guard tensor.shape == expected[name] else {
                throw ModelError(.tensor, "tensor '\(name)' has shape \(tensor.shape), architecture needs \(expected[name]!)")
            }
            if let index = tensor.scalars.firstIndex(where: { !$0.isFinite }) {
                throw ModelError(.tensor, "tensor '\(name)' holds a non-finite value at element \(index)")
            }
            if name.hasSuffix(".norm.running_var"), let index = tensor.scalars.firstIndex(where: { $0 < 0 }) {
                throw ModelError(.tensor, "tensor '\(name)' holds a negative variance at element \(index)")
            }
        }
        if let extra = tensors.keys.sorted().first(where: { expected[$0] == nil }) {
            throw ModelError(
                .tensor, "unexpected tensor '\(extra)' for this architecture" + (ensemble > 1 ? " and an ensemble of \(ensemble)" : ""))
        }
    }

    /// Every tensor's name and shape: the architecture's for each member, under its prefix.
    private var expectedShapes: [String: [Int]] {
        let shapes = architecture.tensorShapes
        var expected: [String: [Int]] = [:]
        for member in 0..<ensemble {
            for (name, shape) in shapes { expected[Self.memberPrefix(member) + name] = shape }
        }
        return expected
    }

    /// The member a tensor name belongs to (0 for the plain names).
    private static func member(ofTensor name: String) -> Int {
        guard name.hasPrefix("ensemble.") else { return 0 }
        return Int(name.dropFirst("ensemble.".count).prefix { $0.isNumber }) ?? 0
    }
}

// MARK: - Ensembles

extension ModelFile {
    /// Member `index` of the ensemble as a single model (`ensemble` 1, its tensors under the plain
    /// names; metadata and provenance are the ensemble's).
    /// - Precondition: `index` in `0..<ensemble`.
    public func member(_ index: Int) -> ModelFile {
        precondition((0..<ensemble).contains(index), "member \(index) of an ensemble of \(ensemble)")
        let prefix = Self.memberPrefix(index)
        var single = self
        single.ensemble = 1
        single.tensors = [:]
        for name in architecture.tensorShapes.keys {
            if let tensor = tensors[prefix + name] { single.tensors[name] = tensor }
        }
        return single
    }

    /// One file holding `members` (each a single model of the same architecture, classes, window,
    /// hop, mode, scaler and preprocessing) as an ensemble: member 0's metadata, `provenance`, and
    /// member `i`'s tensors under `memberPrefix(i)`.
    /// - Throws: `ModelError(.metadata)` when there are no members, more than `maxEnsemble`, or
    ///   they differ in anything but their weights.
    public init(ensemble members: [ModelFile], provenance: JSONValue) throws {
        guard let first = members.first, members.count <= Self.maxEnsemble else {
            throw ModelError(.metadata, "an ensemble needs 1...\(Self.maxEnsemble) members, got \(members.count)")
        }
        for (index, member) in members.enumerated() {
            guard member.ensemble == 1 else { throw ModelError(.metadata, "ensemble member \(index) is itself an ensemble") }
            guard member.architecture == first.architecture, member.classes == first.classes, member.window == first.window,
                member.hop == first.hop, member.mode == first.mode, member.scaler == first.scaler,
                member.preprocessing == first.preprocessing
            else {
                throw ModelError(
                    .metadata, "ensemble member \(index) differs from member 0 in more than its weights (architecture, classes, window, "
                        + "hop, mode, scaler and preprocessing must be equal)")
            }
        }
        self = first
        self.provenance = provenance
        ensemble = members.count
        tensors = [:]
        for (index, member) in members.enumerated() {
            for (name, tensor) in member.tensors { tensors[Self.memberPrefix(index) + name] = tensor }
        }
    }
}

// MARK: - Size

extension Architecture {
    /// The number of trainable parameters: the elements of every tensor in `tensorShapes`. This
    /// is the one definition `lstmctl inspect`, the trainer's plan and the report use (a flat
    /// training buffer pads tensors, so its length is larger).
    /// The front end's running statistics are stored but not trained, so not counted.
    public var parameterCount: Int {
        tensorShapes.filter { !$0.key.contains(".running_") }.values.reduce(0) { $0 + $1.reduce(1, *) }
    }
}

extension ModelFile {
    /// The number of trainable parameters, `architecture.parameterCount` per ensemble member (a
    /// validated file holds exactly these tensors).
    public var parameterCount: Int { architecture.parameterCount * ensemble }
}

// MARK: - Reading and writing

extension ModelFile {
    /// Reads and validates a model file.
    /// - Throws: `ModelError` naming the problem (I/O, container, metadata, architecture, tensor).
    public init(contentsOf url: URL) throws {
        let bytes: [UInt8]
        do {
            bytes = try FileBytes.read(url.path)
        } catch {
            throw ModelError(.io, "cannot read model \(url.relativePath): \(error.reason)")
        }
        try self.init(bytes: bytes)
    }

    /// Parses and validates a model from the bytes of a file.
    /// - Throws: `ModelError` naming the problem.
    public init(bytes: [UInt8]) throws {
        let container = try SafeTensors(bytes: bytes)
        let metadata = container.metadata
        var integrity = Integrity.unverified
        if let expected = metadata[Self.tensorChecksumKey] {
            guard container.dataSHA256 == expected.lowercased() else {
                throw ModelError(
                    .integrity, "tensor data does not match its checksum (\(Self.tensorChecksumKey)): the file is corrupt")
            }
            integrity = .verified
        }
        func value(_ key: String) throws -> String {
            guard let text = metadata[key] else {
                throw ModelError(.metadata, "metadata key '\(key)' is missing")
            }
            return text
        }
        func json(_ key: String) throws -> JSONValue {
            do {
                return try JSONValue.parse(try value(key))
            } catch let error as ModelError {
                throw error
            } catch {
                throw ModelError(.metadata, "metadata key '\(key)' is not valid JSON")
            }
        }
        func integer(_ key: String) throws -> Int {
            guard let number = try json(key).numberValue, number == number.rounded(), abs(number) < 1e12 else {
                throw ModelError(.metadata, "metadata key '\(key)' must be an integer")
            }
            return Int(number)
        }
        guard try value("format") == "lstmd" else {
            throw ModelError(.metadata, "metadata 'format' is '\(metadata["format"]!)', expected 'lstmd'")
        }
        let version = try integer("format_version")
        guard version >= 1, version <= Self.formatVersion else {
            throw ModelError(.metadata, "format_version \(version) is not supported (this build reads 1...\(Self.formatVersion))")
        }
        let architecture: Architecture
        do {
            architecture = try JSONDecoder().decode(Architecture.self, from: Data(try value("architecture").utf8))
        } catch let error as ModelError {
            throw error
        } catch {
            throw ModelError(.metadata, "metadata 'architecture' is malformed: \(Self.describe(error))")
        }
        guard case .array(let classItems) = try json("classes") else {
            throw ModelError(.metadata, "metadata 'classes' must be a JSON array of strings")
        }
        let classes = try classItems.map {
            guard let name = $0.stringValue else {
                throw ModelError(.metadata, "metadata 'classes' must be a JSON array of strings")
            }
            return name
        }
        var mode = StreamingMode.window
        if let text = metadata["mode"] {
            let name = (try? JSONValue.parse(text))?.stringValue ?? text
            guard let parsed = StreamingMode(rawValue: name) else {
                throw ModelError(.metadata, "metadata 'mode' must be \"window\" or \"continuous\"")
            }
            mode = parsed
        }
        let preprocessing = metadata["preprocessing"] == nil ? Preprocessing.none : try Preprocessing(json: try json("preprocessing"))
        let ensemble = metadata["ensemble"] == nil ? 1 : try integer("ensemble")
        guard (1...Self.maxEnsemble).contains(ensemble) else {
            throw ModelError(.metadata, "metadata 'ensemble' is \(ensemble), expected 1...\(Self.maxEnsemble)")
        }
        guard ensemble == 1 || version >= 3 else {
            throw ModelError(
                .metadata, "metadata 'ensemble' \(ensemble) needs format_version 3 (the file says \(version)): older readers would use member 0 alone")
        }
        guard architecture.frontEnd.isEmpty || version >= 4 else {
            throw ModelError(
                .metadata, "architecture 'front_end' needs format_version 4 (the file says \(version)): older readers would skip it")
        }
        let provenance = metadata["provenance"] == nil ? JSONValue.object([:]) : try json("provenance")
        var tensors: [String: Tensor] = [:]
        for (name, entry) in container.entries {
            guard entry.dtype == .f32 else {
                throw ModelError(.tensor, "tensor '\(name)' has dtype \(entry.dtype.rawValue), expected F32")
            }
            tensors[name] = Tensor(shape: entry.shape, scalars: try container.floats(name))
        }
        self.init(
            architecture: architecture, classes: classes, window: try integer("window"),
            hop: try integer("hop"), mode: mode, scaler: try Scaler(json: try json("scaler")),
            preprocessing: preprocessing, provenance: provenance, ensemble: ensemble, tensors: tensors)
        try validate()
        digest = Self.sha256(bytes)
        self.integrity = integrity
    }

    private static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, _)?: "missing key '\(key.stringValue)'"
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?, .dataCorrupted(let context)?:
            "bad value at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        default: "not a valid JSON object"
        }
    }

    /// `sha256:<hex>` of any file's bytes (for provenance: the training data's digest).
    /// - Throws: `ModelError(.io)` when the file cannot be read.
    public static func digest(of url: URL) throws -> String {
        do {
            return sha256(try FileBytes.read(url.path))
        } catch {
            throw ModelError(.io, "cannot read \(url.relativePath): \(error.reason)")
        }
    }

    /// `sha256:<hex>` of `bytes` (an array, or the buffer a parser reads, without a copy).
    public static func digest(of bytes: some DataProtocol) -> String { sha256(bytes) }

    static func sha256(_ bytes: some DataProtocol) -> String {
        "sha256:" + SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// The metadata map written to the file (`serialized()` adds `tensorChecksumKey`).
    public var metadata: [String: String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let architectureText = (try? encoder.encode(architecture)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        var metadata = [
            "format": "lstmd",
            "format_version": !architecture.frontEnd.isEmpty ? "4" : ensemble > 1 ? "3" : preprocessing.isIdentity ? "1" : "2",
            "architecture": architectureText,
            "classes": JSONValue.array(classes.map { .string($0) }).jsonText,
            "window": String(window),
            "hop": String(hop),
            "mode": mode.rawValue,
            "scaler": scaler.json.jsonText,
            "provenance": provenance.jsonText,
        ]
        if !preprocessing.isIdentity { metadata["preprocessing"] = preprocessing.json.jsonText }
        if ensemble > 1 { metadata["ensemble"] = String(ensemble) }
        return metadata
    }

    /// The file's bytes, with the tensor data's checksum (`tensorChecksumKey`) in the metadata:
    /// deterministic for equal contents.
    public func serialized() -> [UInt8] {
        SafeTensors.serialize(
            tensors.map { .float32($0.key, shape: $0.value.shape, $0.value.scalars) }, metadata: metadata,
            dataChecksumKey: Self.tensorChecksumKey)
    }

    /// Validates and writes the model atomically (temporary file, fsync, rename), and updates `digest`.
    /// - Throws: `ModelError` when invalid or when the file cannot be written.
    public mutating func write(to url: URL) throws {
        try validate()
        let bytes = serialized()
        try AtomicFile.write(bytes, to: url)
        digest = Self.sha256(bytes)
        integrity = .verified
    }
}
