import LSTMKit
import Logging

/// CURVE allowlists at a reload.
extension ServingLoop {
    /// Re-reads the allowlists of the CURVE directory (SIGHUP, `reload configuration:true`). A
    /// malformed or missing file refuses the whole reload, as a bad configuration does: the
    /// allowlists, configuration and model in force keep serving.
    /// - Returns: the refusal to reply, or nil when the allowlists were replaced (or CURVE is off).
    func reloadAllowlists() -> JSONValue? {
        guard let authenticator else { return nil }
        do {
            let allowlists = try authenticator.reload()
            logger.notice("CURVE allowlists reloaded", metadata: ["keys": "\(allowlists.summary)"])
            return nil
        } catch {
            state.reloadHook?(.began)
            logger.error("CURVE allowlists refused; the previous allowlists, configuration and model keep serving", metadata: ["error": "\(error)"])
            state.reloadHook?(.failed("allowlists refused: \(error)"))
            return ControlHandler.failure("allowlists refused: \(error)")
        }
    }
}
