import Foundation
import Testing

/// `systemd-analyze` runs offline here (PID 1 need not be systemd). Debian: `apt-get install
/// systemd`.
let systemdAnalyze = which("systemd-analyze")

/// The units in `systemd/` pass `systemd-analyze verify` without a word and score at most 2.0 in
/// `systemd-analyze security --offline=true`.
@Suite(.enabled(if: systemdAnalyze != nil, "systemd-analyze is not installed (apt-get install systemd); unit checks skipped"))
struct SystemdUnitTests {
    static let units = ["lstmd.service", "lstmd@.service"]

    /// A copy of `unit` whose ExecStart/ExecReload run the lstmd/lstmctl built with the tests
    /// (verify needs the binaries to exist), saved as `name` in a fresh directory.
    private func stage(_ unit: String, as name: String) throws -> (URL, String) {
        let source = Paths.packageRoot.appendingPathComponent("systemd").appendingPathComponent(unit)
        let text = try String(contentsOf: source, encoding: .utf8)
        #expect(text.contains("ExecStart=/usr/local/bin/lstmd"), "ExecStart must name /usr/local/bin/lstmd (install.sh rewrites it)")
        #expect(text.contains("ExecReload=/usr/local/bin/lstmctl"), "ExecReload must name /usr/local/bin/lstmctl (install.sh rewrites it)")
        let rewritten = text.replacingOccurrences(of: "ExecStart=/usr/local/bin/lstmd", with: "ExecStart=\(Paths.lstmd.path)")
            .replacingOccurrences(of: "ExecReload=/usr/local/bin/lstmctl", with: "ExecReload=\(Paths.buildDirectory.appendingPathComponent("lstmctl").path)")
        let directory = try Paths.temporaryDirectory()
        let path = directory.appendingPathComponent(name).path
        try rewritten.write(toFile: path, atomically: true, encoding: .utf8)
        return (directory, path)
    }

    @Test(arguments: [("lstmd.service", "lstmd.service"), ("lstmd@.service", "lstmd@.service"), ("lstmd@.service", "lstmd@edge.service")])
    func verifyIsSilent(unit: String, name: String) throws {
        let (directory, path) = try stage(unit, as: name)
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try run(systemdAnalyze!, ["verify", path], directory: directory)
        #expect(result.status == 0, "systemd-analyze verify \(name) exited \(result.status)")
        #expect(result.stderr.isEmpty, "systemd-analyze verify \(name):\n\(result.stderr)")
        #expect(result.stdout.isEmpty, "systemd-analyze verify \(name):\n\(result.stdout)")
    }

    @Test(arguments: [("lstmd.service", "lstmd.service"), ("lstmd@.service", "lstmd@edge.service")])
    func securityScoreIsAtMostTwo(unit: String, name: String) throws {
        let (directory, path) = try stage(unit, as: name)
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try run(systemdAnalyze!, ["security", "--offline=true", "--no-pager", path], directory: directory)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "systemd-analyze security \(name):\n\(result.stderr)")
        // "→ Overall exposure level for lstmd.service: 1.2 OK 🙂"
        let line = result.stdout.split(separator: "\n").first { $0.contains("Overall exposure level") }
        let score = line.flatMap { $0.split(separator: ":").last?.split(separator: " ").first }.flatMap { Double($0) }
        let measured = try #require(score, "no score in:\n\(result.stdout)")
        #expect(measured <= 2.0, "exposure \(measured) > 2.0:\n\(result.stdout)")
    }

    /// The daemon's needs are kept by the hardening: the settings it relies on stay in place.
    @Test(arguments: units) func keepsWhatTheDaemonNeeds(unit: String) throws {
        let text = try String(
            contentsOf: Paths.packageRoot.appendingPathComponent("systemd").appendingPathComponent(unit), encoding: .utf8)
        for line in [
            "Type=notify", "Restart=on-failure", "DynamicUser=yes",
            // libzmq's tcp bind resolves interface names through a netlink socket (getifaddrs).
            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK", "IPAddressAllow=localhost",
            "MemoryDenyWriteExecute=yes", "ConfigurationDirectory=lstmd", "RestartPreventExitStatus=78",
            // The watchdog's SIGABRT must end the process, not start Swift's backtracer.
            "WatchdogSignal=SIGABRT", "Environment=SWIFT_BACKTRACE=enable=no",
        ] {
            #expect(text.split(separator: "\n").contains { $0 == line }, "\(unit) lacks \(line)")
        }
        // A synchronous reload over the control socket (no /bin/kill on minimal systems).
        let reload = try #require(text.split(separator: "\n").first { $0.hasPrefix("ExecReload=") })
        #expect(reload.hasPrefix("ExecReload=/usr/local/bin/lstmctl reload --configuration --endpoint ipc:///run/lstmd"), "\(reload)")
        for prefix in ["WatchdogSec=", "TimeoutStopSec=", "StateDirectory=", "RuntimeDirectory="] {
            #expect(text.split(separator: "\n").contains { $0.hasPrefix(prefix) }, "\(unit) lacks \(prefix)")
        }
    }
}
