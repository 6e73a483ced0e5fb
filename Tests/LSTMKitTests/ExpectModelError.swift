import LSTMKit
import Testing

/// Expects `body` to throw a `ModelError` with `code` whose message mentions `text`.
func expectError(
    _ code: ModelError.Code, containing text: String, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record("expected a \(code) error mentioning '\(text)'", sourceLocation: sourceLocation)
    } catch let error as ModelError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(error.message.contains(text), "'\(error.message)' should mention '\(text)'", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
    }
}
