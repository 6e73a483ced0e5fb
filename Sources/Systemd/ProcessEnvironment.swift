import Glibc

/// Read access to the process environment (the C `environ`).
enum ProcessEnvironment {
    /// The value of the environment variable `name`, or `nil` when it is unset.
    static func value(_ name: String) -> String? {
        guard let pointer = getenv(name) else { return nil }
        return String(cString: pointer)
    }
}
