import Foundation

/// The model bundled with lstmd (trained on the public BasicMotions data), used when no model
/// path is configured.
public enum DefaultModel {
    /// Where the bundled model is found: next to an installed binary
    /// (`/usr/share/lstmd/default.safetensors` or `../share/lstmd/` beside the executable), else
    /// inside the SwiftPM resource bundle of a build tree.
    public static var url: URL? {
        var candidates: [URL] = []
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(executable.deletingLastPathComponent().appendingPathComponent("../share/lstmd/default.safetensors").standardized)
        candidates.append(URL(fileURLWithPath: "/usr/share/lstmd/default.safetensors"))
        // SwiftPM copies target resources into `<package>_<target>.resources` beside the binary.
        // (Bundle.module is not used: it traps when the bundle is missing, as in an install.)
        let directory = executable.deletingLastPathComponent()
        for bundle in ["lstmd_Daemon.resources", "lstmd_Daemon.bundle/Contents/Resources"] {
            candidates.append(directory.appendingPathComponent("\(bundle)/default.safetensors"))
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0.path) }
    }
}
