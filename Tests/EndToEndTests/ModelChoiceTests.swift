import Foundation
import LSTMKit
import Testing

/// Which model serves after `lstmctl reload --model`, a configuration reload (SIGHUP or
/// `systemctl reload`) and a restart: the operator's choice, recorded in the state directory,
/// until the configured model changes.
@Suite(.serialized) struct ModelChoiceTests {
    /// A state directory and two models, `configured-1` and `chosen-1`, in a fresh directory.
    private func fixture() throws -> (directory: TemporaryDirectory, state: URL, configured: String, chosen: String) {
        let directory = try TemporaryDirectory()
        let state = directory.url.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        let configured = try TestModels.write(to: directory, name: "configured", version: "configured-1")
        let chosen = try TestModels.write(to: directory, name: "chosen", version: "chosen-1")
        return (directory, state, configured.path, chosen.path)
    }

    @Test func aControlSocketChoiceSurvivesConfigurationReloadsAndRestartsUntilTheConfiguredModelChanges() throws {
        let (directory, state, configured, chosen) = try fixture()
        defer { directory.remove() }
        let other = try TestModels.write(to: directory, name: "other", version: "other-1")
        let base = ["--state-directory", state.path, "--config", "", "--metrics", "", "--model-directory", directory.path]
        func version(_ daemon: DaemonProcess) throws -> String? { try daemon.status()["model"]?["version"]?.stringValue }

        try withDaemon(base + ["--model", configured], subscribe: false) { daemon in
            #expect(try version(daemon) == "configured-1")
            let reply = try daemon.request(["command": .string("reload"), "model": .string(chosen), "force": .bool(true)])
            #expect(reply["ok"] == .bool(true), "\(reply)")
            // The unit's ExecReload: re-read the configuration; the choice stays.
            let reread = try daemon.request(["command": .string("reload"), "configuration": .bool(true)])
            #expect(reread["ok"] == .bool(true), "\(reread)")
            #expect(try version(daemon) == "chosen-1")
            #expect(daemon.log.contains("keeping the model loaded with `lstmctl reload --model`"), "\(daemon.log)")
        }
        #expect(FileManager.default.fileExists(atPath: state.appendingPathComponent("model-choice.json").path))

        // A restart with the same configuration serves the choice.
        try withDaemon(base + ["--model", configured], subscribe: false) { daemon in
            let served = try version(daemon)
            #expect(served == "chosen-1", "\(daemon.log)")
        }
        // The configured model changed: the configuration wins and the record goes.
        try withDaemon(base + ["--model", other.path], subscribe: false) { daemon in
            #expect(try version(daemon) == "other-1", "\(daemon.log)")
            // Dropped at start already: reverting `model` later must not bring the old choice back.
            #expect(!FileManager.default.fileExists(atPath: state.appendingPathComponent("model-choice.json").path))
            let reread = try daemon.request(["command": .string("reload"), "configuration": .bool(true)])
            #expect(reread["ok"] == .bool(true), "\(reread)")
            #expect(try version(daemon) == "other-1")
        }
        #expect(!FileManager.default.fileExists(atPath: state.appendingPathComponent("model-choice.json").path))
    }

    /// A chosen model that stops loading is forgotten: the configured model serves, and later
    /// reloads are not refused because of it.
    @Test func aChosenModelThatNoLongerLoadsIsForgotten() throws {
        let (directory, state, configured, chosen) = try fixture()
        defer { directory.remove() }
        let base = [
            "--state-directory", state.path, "--config", "", "--metrics", "", "--model", configured, "--model-directory", directory.path,
        ]
        try withDaemon(base, subscribe: false) { daemon in
            let reply = try daemon.request(["command": .string("reload"), "model": .string(chosen), "force": .bool(true)])
            #expect(reply["ok"] == .bool(true), "\(reply)")
            try Data("broken".utf8).write(to: URL(fileURLWithPath: chosen))
            let reread = try daemon.request(["command": .string("reload"), "configuration": .bool(true)])
            #expect(reread["ok"] == .bool(true), "\(reread)")
            #expect(reread["model_version"]?.stringValue == "configured-1", "\(reread)")
            #expect(!FileManager.default.fileExists(atPath: state.appendingPathComponent("model-choice.json").path))
        }
    }

    @Test func aConfigurationReloadOfARefusedModelFailsAndTheOldOneServes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let model = try TestModels.write(to: directory, name: "good", version: "good-1")
        let configuration = directory.url.appendingPathComponent("lstmd.conf")
        try "model = \(model.path)\n".write(to: configuration, atomically: true, encoding: .utf8)
        try withDaemon(["--config", configuration.path, "--metrics", ""], subscribe: false) { daemon in
            #expect(try daemon.status()["model"]?["version"]?.stringValue == "good-1")
            try Data("not a model".utf8).write(to: URL(fileURLWithPath: model.path))
            let reply = try daemon.request(["command": .string("reload"), "configuration": .bool(true)])
            #expect(reply["ok"] == .bool(false))
            #expect(reply["error"]?.stringValue?.contains("reload refused") == true, "\(reply)")
            #expect(try daemon.status()["model"]?["version"]?.stringValue == "good-1")
        }
    }
}
