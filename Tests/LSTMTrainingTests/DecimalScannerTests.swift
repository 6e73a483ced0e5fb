import Testing

@testable import LSTMTraining

@Suite("DecimalScanner")
struct DecimalScannerTests {
    private func scan(_ text: String) -> DecimalScanner.Result {
        var text = text
        return text.withUTF8 { DecimalScanner.scan($0, 0, $0.count) }
    }

    @Test("Plain decimals read as the correctly rounded Float", arguments: [
        "0.079106", "-0.903497", "1.6382", "0", "-0", "007", "1.", ".5", "+.5e-3", "-2E+1", "1e-05",
        "16777216", "16777217", "123456789", "0.1", "3.4028235e38", "1.4e-45", "1e-50",
        "9999999999999999999999", "0.00000000000000000000000000001234", "1234567.5", "8388609.5",
    ])
    func matchesStandardLibrary(_ text: String) throws {
        let expected = try #require(Float(text))
        guard case .value(let value) = scan(text) else {
            Issue.record("\(text) did not scan as a number")
            return
        }
        #expect(value.bitPattern == expected.bitPattern, "\(text): \(value) vs \(expected)")
    }

    @Test("Random decimals agree bit for bit with Float(String)")
    func randomAgreement() {
        var random = SeededGenerator(seed: 42)
        var mismatches: [String] = []
        for _ in 0..<200_000 {
            var text = ["", "-", "+"][Int.random(in: 0..<3, using: &random)]
            let integerDigits = Int.random(in: 0...12, using: &random)
            let fractionDigits = Int.random(in: (integerDigits == 0 ? 1 : 0)...12, using: &random)
            for _ in 0..<integerDigits { text += String(Int.random(in: 0...9, using: &random)) }
            if fractionDigits > 0 || Bool.random(using: &random) { text += "." }
            for _ in 0..<fractionDigits { text += String(Int.random(in: 0...9, using: &random)) }
            if Int.random(in: 0..<4, using: &random) == 0 {
                text += "e\(Int.random(in: -50...45, using: &random))"
            }
            let expected = Float(text)
            switch scan(text) {
            case .value(let value):
                if expected?.bitPattern != value.bitPattern { mismatches.append(text) }
            case .outOfRange:
                if expected?.isFinite != false { mismatches.append(text) }
            default:
                mismatches.append(text)
            }
        }
        #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(10))")
    }

    @Test("Non-numbers are classified")
    func classification() {
        #expect(scan("") == .empty)
        #expect(scan("?") == .missing)
        #expect(scan("NaN") == .notFinite)
        #expect(scan("-Infinity") == .notFinite)
        #expect(scan("inf") == .notFinite)
        #expect(scan("1e39") == .outOfRange)
        #expect(scan("-1e39") == .outOfRange)
        for text in ["-", ".", "1e", "1e+", "e5", "0x10", "1.2.3", "1,5", "12a", "--1", "1 2", "?1"] {
            #expect(scan(text) == .invalid, "\(text)")
        }
    }
}
