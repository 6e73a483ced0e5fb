/// The `@` header lines of a UEA/UCR `.ts` file, collected before `@data`.
///
/// Keys and boolean values are case-insensitive. Each key may appear once.
struct TSHeader {
    var problemName: String?
    var timeStamps: Bool?
    var missing: Bool?
    var univariate: Bool?
    var dimensions: Int?
    var equalLength: Bool?
    var seriesLength: Int?
    var classLabel: Bool?
    var classNames: [String] = []
    var targetLabel: Bool?
    private var seen: Set<String> = []

    /// Applies one header line (starting with `@`, already trimmed). Returns `true` for `@data`.
    mutating func apply(_ text: String, line: Int, source: String) throws -> Bool {
        func fail(_ message: String, _ code: DatasetError.Code = .invalidHeader) -> DatasetError {
            DatasetError(code, source: source, line: line, message: message)
        }
        let tokens = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        let spelled = String(tokens[0])
        let key = spelled.lowercased()
        let arguments = tokens.dropFirst().map(String.init)
        guard !seen.contains(key) else { throw fail("duplicate header \(spelled)") }
        seen.insert(key)

        func bool() throws -> Bool {
            guard let first = arguments.first else { throw fail("\(spelled) needs a value, true or false") }
            switch first.lowercased() {
            case "true": return true
            case "false": return false
            default: throw fail("\(spelled) must be true or false, found '\(first)'")
            }
        }
        func onlyBool() throws -> Bool {
            let value = try bool()
            guard arguments.count == 1 else { throw fail("\(spelled) takes one value, found \(arguments.count)") }
            return value
        }
        func positiveInteger() throws -> Int {
            guard arguments.count == 1, let value = Int(arguments[0]), value >= 1 else {
                throw fail("\(spelled) must be one positive integer, found '\(arguments.joined(separator: " "))'")
            }
            return value
        }

        switch key {
        case "@problemname":
            guard !arguments.isEmpty else { throw fail("@problemName needs a name") }
            problemName = arguments.joined(separator: " ")
        case "@timestamps":
            timeStamps = try onlyBool()
            if timeStamps == true {
                throw fail("@timeStamps true is not supported; only plain value series can be read", .unsupportedFeature)
            }
        case "@missing":
            missing = try onlyBool()
        case "@univariate":
            univariate = try onlyBool()
        case "@dimensions":
            dimensions = try positiveInteger()
        case "@equallength":
            equalLength = try onlyBool()
        case "@serieslength":
            seriesLength = try positiveInteger()
        case "@classlabel":
            let labelled = try bool()
            let names = Array(arguments.dropFirst())
            if labelled {
                guard !names.isEmpty else { throw fail("@classLabel true must list the class names") }
                var distinct = Set<String>()
                for name in names where !distinct.insert(name).inserted {
                    throw fail("@classLabel lists class '\(name)' twice")
                }
            } else if !names.isEmpty {
                throw fail("@classLabel false takes no class names")
            }
            classLabel = labelled
            classNames = names
        case "@targetlabel":
            targetLabel = try onlyBool()
            if targetLabel == true {
                throw fail("@targetLabel true (regression) is not supported; only classification", .unsupportedFeature)
            }
        case "@data":
            guard arguments.isEmpty else { throw fail("@data takes no values") }
            try validate(line: line, source: source)
            return true
        default:
            throw fail("unknown header \(spelled)")
        }
        return false
    }

    /// Checks that the headers agree with each other; called at `@data`.
    private func validate(line: Int, source: String) throws {
        func fail(_ message: String) -> DatasetError {
            DatasetError(.invalidHeader, source: source, line: line, message: message)
        }
        if classLabel == nil && targetLabel == nil {
            throw fail("@data before @classLabel; the header must say whether samples carry class labels")
        }
        if univariate == true, let dimensions, dimensions != 1 {
            throw fail("@univariate true contradicts @dimensions \(dimensions)")
        }
    }

    /// The number of dimensions the header fixes, or `nil` to take it from the first sample.
    var declaredDimensions: Int? {
        dimensions ?? (univariate == true ? 1 : nil)
    }
}
