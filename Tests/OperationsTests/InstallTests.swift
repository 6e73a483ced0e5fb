import Foundation
import Testing

/// `deploy/install.sh` and `deploy/uninstall.sh` into a DESTDIR, with the debug binaries built for
/// the tests.
@Suite struct InstallTests {
    private let install = Paths.packageRoot.appendingPathComponent("deploy/install.sh").path
    private let uninstall = Paths.packageRoot.appendingPathComponent("deploy/uninstall.sh").path

    private func files(under root: URL) -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        var found: [String] = []
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: root.appendingPathComponent(path).path, isDirectory: &isDirectory)
            if !isDirectory.boolValue { found.append(path) }
        }
        return found.sorted()
    }

    /// What install.sh puts under PREFIX/share/lstmd besides the model and the example
    /// configuration: the recipe, the Python helpers and the Python package.
    private func sharedSupportFiles(prefix: String) -> [String] {
        let tools = files(under: Paths.packageRoot.appendingPathComponent("deploy/tools")).filter {
            !$0.contains("/") && ($0.hasSuffix(".py") || $0 == "requirements.txt" || $0 == "MODEL_FORMAT.md")
        }
        let python = files(under: Paths.packageRoot.appendingPathComponent("deploy/python")).filter {
            !$0.contains("__pycache__") && !$0.hasSuffix(".pyc") && !$0.contains(".egg-info/") && !$0.hasPrefix("build/")
        }
        return ["\(prefix)/share/lstmd/train.recipe"] + tools.map { "\(prefix)/share/lstmd/tools/\($0)" }
            + python.map { "\(prefix)/share/lstmd/python/\($0)" }
    }

    private func mode(_ path: URL) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path.path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test func installsTwiceKeepsTheConfigurationAndUninstalls() throws {
        let destination = try Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: destination) }
        let arguments = ["--skip-build", "--allow-dynamic", "--build-dir", Paths.buildDirectory.path]
        var environment = ProcessInfo.processInfo.environment
        environment["DESTDIR"] = destination.path
        environment["PREFIX"] = nil

        let first = try run(install, arguments, environment: environment)
        #expect(first.status == 0, "\(first.stderr)")
        let expected = [
            "etc/lstmd/lstmd.conf", "etc/systemd/system/lstmd.service", "etc/systemd/system/lstmd@.service",
            "usr/local/bin/lstmctl", "usr/local/bin/lstmd", "usr/local/share/lstmd/default.safetensors",
            "usr/local/share/lstmd/lstmd.conf.example",
        ].sorted()
        let installedFiles = files(under: destination)
        #expect(installedFiles == (expected + sharedSupportFiles(prefix: "usr/local")).sorted())
        // The helpers the installed lstmctl runs are installed, not read from this checkout.
        #expect(installedFiles.contains("usr/local/share/lstmd/tools/bench_pytorch.py"))
        let bin = destination.appendingPathComponent("usr/local/bin")
        #expect(try mode(bin.appendingPathComponent("lstmd")) == 0o755)
        #expect(try mode(destination.appendingPathComponent("etc/systemd/system/lstmd.service")) == 0o644)
        let shipped = Paths.packageRoot.appendingPathComponent("deploy/config/lstmd.conf")
        let config = destination.appendingPathComponent("etc/lstmd/lstmd.conf")
        #expect(try Data(contentsOf: config) == Data(contentsOf: shipped))
        #expect(
            try Data(contentsOf: destination.appendingPathComponent("usr/local/share/lstmd/default.safetensors"))
                == Data(contentsOf: Paths.packageRoot.appendingPathComponent("Sources/Daemon/Resources/default.safetensors")))
        let unit = try String(contentsOf: destination.appendingPathComponent("etc/systemd/system/lstmd.service"), encoding: .utf8)
        #expect(unit.contains("\nExecStart=/usr/local/bin/lstmd\n"))

        // The installed daemon finds the installed model (../share/lstmd) and the config parses.
        let help = try run(bin.appendingPathComponent("lstmd").path, ["--help"])
        #expect(help.status == 0)

        // A second run changes nothing, and never overwrites an edited configuration.
        try "# edited\nmax_streams = 5\n".write(to: config, atomically: true, encoding: .utf8)
        let second = try run(install, arguments, environment: environment)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("kept the existing"))
        #expect(try String(contentsOf: config, encoding: .utf8) == "# edited\nmax_streams = 5\n")
        #expect(files(under: destination) == installedFiles)

        // Uninstall keeps /etc/lstmd (and any state) unless --purge; it is idempotent.
        let state = destination.appendingPathComponent("var/lib/lstmd")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        try "x".write(to: state.appendingPathComponent("buffer"), atomically: true, encoding: .utf8)
        let wants = destination.appendingPathComponent("etc/systemd/system/multi-user.target.wants")
        try FileManager.default.createDirectory(at: wants, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: wants.appendingPathComponent("lstmd@a.service").path, withDestinationPath: "/etc/systemd/system/lstmd@.service")
        for _ in 0..<2 {
            let removed = try run(uninstall, [], environment: environment)
            #expect(removed.status == 0, "\(removed.stderr)")
            #expect(files(under: destination) == ["etc/lstmd/lstmd.conf", "var/lib/lstmd/buffer"])
            // It names what it kept, and only what exists.
            #expect(removed.stderr.contains("kept \(destination.path)/etc/lstmd \(destination.path)/var/lib/lstmd (--purge"), "\(removed.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: destination.appendingPathComponent("usr/local/share/lstmd").path))
        let purged = try run(uninstall, ["--purge"], environment: environment)
        #expect(purged.status == 0, "\(purged.stderr)")
        #expect(files(under: destination) == [])
        // Not even empty directories are left in the staging tree.
        let left = try FileManager.default.contentsOfDirectory(atPath: destination.path)
        #expect(left.isEmpty, "left behind: \(left)")
        let again = try run(uninstall, ["--purge"], environment: environment)
        #expect(again.stderr.contains("there was no configuration or state"), "\(again.stderr)")
    }

    @Test func prefixRewritesExecStartAndRunsTheInstalledDaemon() throws {
        let destination = try Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: destination) }
        let result = try run(
            install,
            ["--destdir", destination.path, "--prefix", "/opt/lstmd", "--skip-build", "--allow-dynamic", "--build-dir", Paths.buildDirectory.path])
        #expect(result.status == 0, "\(result.stderr)")
        let unit = try String(contentsOf: destination.appendingPathComponent("etc/systemd/system/lstmd@.service"), encoding: .utf8)
        #expect(unit.contains("\nExecStart=/opt/lstmd/bin/lstmd --config /etc/lstmd/%i.conf\n"))
        #expect(unit.contains("\nExecReload=/opt/lstmd/bin/lstmctl reload --configuration --endpoint ipc:///run/lstmd-%i/control.sock"))

        // The staged binary runs with the staged configuration and loads the staged model.
        let binary = destination.appendingPathComponent("opt/lstmd/bin/lstmd").path
        let directory = destination.path
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: binary)
        daemon.arguments = [
            "--config", destination.appendingPathComponent("etc/lstmd/lstmd.conf").path, "--metrics", "",
            "--ingest", "ipc://\(directory)/i.sock", "--publish", "ipc://\(directory)/p.sock", "--control", "",
            "--log-destination", "stderr",
        ]
        let log = destination.appendingPathComponent("log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        daemon.standardError = handle
        daemon.standardOutput = handle
        try daemon.run()
        let serving = eventually(timeout: 30) {
            ((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("serving") ? true : nil
        }
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        try handle.close()
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(serving == true, "\(text)")
        #expect(daemon.terminationStatus == 0, "\(text)")

        let removed = try run(uninstall, ["--destdir", destination.path, "--prefix", "/opt/lstmd"])
        #expect(removed.status == 0)
        #expect(!FileManager.default.fileExists(atPath: binary))
    }

    @Test func refusesUnknownOptionsAndMissingBinaries() throws {
        let destination = try Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: destination) }
        let unknown = try run(install, ["--frobnicate"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("unknown option '--frobnicate'"))
        let missing = try run(install, ["--destdir", destination.path, "--skip-build", "--build-dir", destination.path])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("lstmd is missing"))
        #expect(try run(install, ["--help"]).stdout.contains("--skip-build"))
    }

    /// The test build links the Swift runtime dynamically: without --allow-dynamic it is refused,
    /// and nothing is installed.
    @Test func refusesADynamicallyLinkedBuild() throws {
        let destination = try Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: destination) }
        let linked = try run("/usr/bin/ldd", [Paths.lstmd.path])
        try #require(linked.stdout.contains("libswiftCore.so"), "the test build is expected to link libswiftCore.so dynamically")
        let refused = try run(install, ["--destdir", destination.path, "--skip-build", "--build-dir", Paths.buildDirectory.path])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("links the Swift runtime dynamically"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--static-swift-stdlib"))
        #expect(files(under: destination) == [])
    }
}
