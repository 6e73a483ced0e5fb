internal import CZeroMQ

/// A libzmq version number.
public struct ZMQVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The major version (the `4` in 4.3.4).
    public let major: Int
    /// The minor version (the `3` in 4.3.4).
    public let minor: Int
    /// The patch version (the last `4` in 4.3.4).
    public let patch: Int

    /// Creates a version number, for comparisons with ``current``.
    public init(major: Int, minor: Int, patch: Int) {
        self.major = major
        self.minor = minor
        self.patch = patch
    }

    /// The version of the libzmq library loaded at run time (`zmq_version`).
    public static var current: ZMQVersion {
        var major: Int32 = 0
        var minor: Int32 = 0
        var patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return ZMQVersion(major: Int(major), minor: Int(minor), patch: Int(patch))
    }

    /// Orders versions by major, then minor, then patch.
    public static func < (lhs: ZMQVersion, rhs: ZMQVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
    }

    /// The dotted form, for example `4.3.4`.
    public var description: String { "\(major).\(minor).\(patch)" }
}
