import Foundation
import Testing

/// The command-line tools and the Python client, run as a user would run them.
@Suite(.serialized) struct ClientToolTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs a program to completion (bounded), returning status, stdout and stderr.
    func run(_ executable: URL, _ arguments: [String], timeout: Double = 60) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = Self.repository
        // Output goes to files: a full pipe could block the child.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lstmd-run-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outURL = directory.appendingPathComponent("out"), errURL = directory.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            Issue.record("\(executable.lastPathComponent) \(arguments) did not finish within \(timeout) s")
        }
        process.waitUntilExit()
        let outData = try Data(contentsOf: outURL), errData = try Data(contentsOf: errURL)
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    var lstmctl: URL {
        get throws { try LSTMDBinary.url().deletingLastPathComponent().appendingPathComponent("lstmctl") }
    }

    @Test func predictJSONMatchesThePyTorchOracle() throws {
        let result = try run(try lstmctl, [
            "predict", "--model", "Sources/Daemon/Resources/default.safetensors",
            "--data", "Tests/LSTMTrainingTests/Fixtures/BasicMotions_TEST.ts", "--json",
        ])
        #expect(result.status == 0, "\(result.err)")
        let lines = result.out.split(separator: "\n")
        #expect(lines.count == 40)
        let expected = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Self.repository.appendingPathComponent("Tests/LSTMKitTests/Fixtures/basicmotions_expected.json"))) as! [String: Any]
        let classes = expected["classes"] as! [String]
        let samples = expected["samples"] as! [[String: Any]]
        for (line, sample) in zip(lines, samples) {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            #expect(object["index"] as? Int == sample["index"] as? Int)
            #expect(object["label"] as? String == classes[sample["predicted"] as! Int])
            let probabilities = object["probabilities"] as! [String: Double]
            let reference = sample["probabilities"] as! [Double]
            for (index, name) in classes.enumerated() {
                #expect(abs(probabilities[name]! - reference[index]) <= 1e-5, "sample \(sample["index"]!) class \(name)")
            }
        }
    }

    @Test func predictRefusesAFileWithALineNumberedError() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lstmctl-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let bad = directory.appendingPathComponent("bad.ts")
        try "@problemName x\n@univariate false\n@dimensions 6\n@equalLength true\n@seriesLength 2\n@classLabel true Standing Running\n@data\n1,2:3,4:5,6:7,8:9,10:11,12:Standing\n1,2:3,4:Running\n"
            .write(to: bad, atomically: true, encoding: .utf8)
        let result = try run(try lstmctl, ["predict", "--model", "Sources/Daemon/Resources/default.safetensors", "--data", bad.path])
        #expect(result.status != 0)
        #expect(result.err.contains("bad.ts:9"), "\(result.err)")
    }

    /// The README's command for the bundled default model ("The bundled default model"), run with
    /// this build's `lstmctl`, makes the bundled file byte for byte.
    @Test func theReadmeCommandRegeneratesTheBundledModel() throws {
        let readme = try String(contentsOf: Self.repository.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.range(of: "### The bundled default model"), "README lost the section")
        let block = try #require(readme[section.upperBound...].components(separatedBy: "```sh\n").dropFirst().first)
        let command = block.components(separatedBy: "```")[0].replacingOccurrences(of: "\\\n", with: " ")
        var words = command.split(whereSeparator: \.isWhitespace).map(String.init)
        var assignments: [String] = []
        while let first = words.first, first.contains("="), !first.hasPrefix("-") { assignments.append(words.removeFirst()) }
        let bundled = "Sources/Daemon/Resources/default.safetensors"
        let out = try #require(words.firstIndex(of: "--out"))
        try #require(Array(words.prefix(2)) == ["lstmctl", "train"] && words[out + 1] == bundled, "\(words)")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        words[out + 1] = directory.url.appendingPathComponent("default.safetensors").path
        words[0] = try lstmctl.path
        words += ["--report", directory.url.appendingPathComponent("report.html").path]
        // The environment the README sets, through env(1), as a shell would.
        let result = try run(URL(fileURLWithPath: "/usr/bin/env"), assignments + words, timeout: 600)
        #expect(result.status == 0, "\(words): \(result.err.suffix(2000))")
        let made = try Data(contentsOf: URL(fileURLWithPath: words[out + 1]))
        let expected = try Data(contentsOf: Self.repository.appendingPathComponent(bundled))
        // A Bool, not `made == expected` inside #expect: the failure message would diff 200 kB.
        let same = made == expected
        #expect(same, "the README command made \(made.count) bytes that differ from \(bundled): regenerate it with deploy/tools/default_model.py")
    }

    @Test func inspectShowsArchitectureClassesScalerAndProvenance() throws {
        let result = try run(try lstmctl, ["inspect", "Sources/Daemon/Resources/default.safetensors", "--json"])
        #expect(result.status == 0, "\(result.err)")
        let object = try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as! [String: Any]
        #expect(object["classes"] as? [String] == ["Standing", "Running", "Walking", "Badminton"])
        #expect((object["architecture"] as? [String: Any])?["input_size"] as? Int == 6)
        #expect((object["scaler"] as? [String: Any])?["kind"] as? String == "zscore")
        #expect(((object["provenance"] as? [String: Any])?["trainer"] as? String) == "lstmctl train")
        let text = try run(try lstmctl, ["inspect", "Sources/Daemon/Resources/default.safetensors"])
        #expect(text.out.contains("classes     Standing, Running, Walking, Badminton"))
        // The bundled model carries its tensor checksum; an older file has none.
        #expect(object["integrity"] as? String == "verified")
        #expect(text.out.contains("integrity   verified"))
        let old = try run(try lstmctl, ["inspect", "Tests/LSTMKitTests/Fixtures/uni_l1_h8_last.safetensors"])
        #expect(old.status == 0, "\(old.err)")
        #expect(old.out.contains("integrity   unverified (no checksum)"), "\(old.out)")
    }

    @Test func inspectSaysWhichComputePathsRunAndRejectsAnISATheCPULacks() throws {
        let result = try run(try lstmctl, ["inspect", "Sources/Daemon/Resources/default.safetensors", "--json"])
        #expect(result.status == 0, "\(result.err)")
        let object = try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as! [String: Any]
        let compute = try #require(object["compute"] as? [String: Any])
        #expect((compute["gemm"] as? String)?.hasPrefix("BLIS ") == true)
        #expect(["avx2", "avx512"].contains(compute["isa"] as? String ?? ""))
        #expect((compute["paths"] as? [String])?.first?.contains("single-stream step: lstmd's fused gate kernel") == true)
        let text = try run(try lstmctl, ["inspect", "Sources/Daemon/Resources/default.safetensors"])
        #expect(text.out.contains("  GEMM      BLIS "), "\(text.out)")
        // LSTMD_ISA is checked before any work: a name that is no path is a configuration error.
        let env = URL(fileURLWithPath: "/usr/bin/env")
        let bad = try run(env, ["LSTMD_ISA=sse", try lstmctl.path, "inspect", "Sources/Daemon/Resources/default.safetensors"])
        #expect(bad.status == 78)
        #expect(bad.err.contains("LSTMD_ISA='sse' is not one of avx2, avx512"), "\(bad.err)")
    }

    /// The Python client (pyzmq + numpy) against the real daemon: `deploy/clients/python/test_client.py`.
    /// The Python package (format reader, exporters, scaler fitting) passes its own tests, among them
    /// scalers and preprocessed (format version 2) models made by this build's `lstmctl`; the
    /// torch/keras parts skip themselves when those are not installed.
    @Test func pythonPackageTests() throws {
        let python = URL(fileURLWithPath: "/usr/bin/env")
        let probe = try run(python, ["python3", "-c", "import numpy"], timeout: 30)
        guard probe.status == 0 else {
            print("skipping the Python package tests: python3 lacks numpy (pip install numpy)")
            return
        }
        // With LSTMCTL the package also checks itself against the Swift trainer and `lstmctl predict`.
        let result = try run(python, ["LSTMCTL=\(try lstmctl.path)", "python3", "deploy/python/tests/test_package.py"], timeout: 600)
        #expect(result.status == 0, "\(result.out)\n\(result.err)")
    }

    @Test func pythonClientAgainstTheRealDaemon() throws {
        let python = URL(fileURLWithPath: "/usr/bin/env")
        let probe = try run(python, ["python3", "-c", "import zmq, numpy"], timeout: 30)
        guard probe.status == 0 else {
            // CI installs both (.ci/run); a developer machine without them skips with a note.
            print("skipping the Python client test: python3 lacks pyzmq or numpy (pip install pyzmq numpy)")
            return
        }
        let result = try run(python, [
            "python3", "deploy/clients/python/test_client.py", "--lstmd", try LSTMDBinary.url().path,
        ], timeout: 120)
        #expect(result.status == 0, "\(result.out)\n\(result.err)")
        #expect(result.out.contains(" 0 failed"), "\(result.out)")
    }
}
