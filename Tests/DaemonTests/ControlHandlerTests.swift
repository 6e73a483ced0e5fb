@testable import Daemon
import LSTMKit
import Testing

/// The control protocol's request checks and replies, against a fake target (no sockets).
@Suite struct ControlHandlerTests {
    final class FakeTarget: ControlTarget {
        var streams = ["b": 2, "a": 1]
        var resets: [String] = []
        var reloads: [String?] = []
        var configurationReloads = 0
        var canReloadConfiguration = true

        func statusSnapshot() -> StatusSnapshot {
            StatusSnapshot(
                uptimeSeconds: 3,
                model: .init(path: "/m", version: "v1", digest: "d", classes: ["x", "y"], window: 10, hop: 5, mode: "window", channels: 2),
                streams: .init(active: streams.count), counts: .init(frames: 9), rates: .init())
        }

        func streamListings(only id: String?) -> [StreamListing] {
            streams.filter { id == nil || $0.key == id }.map {
                StreamListing(id: $0.key, frames: $0.value, timesteps: 0, labels: 0, gaps: 0, lastSequence: 4, lastLabel: "x", idleSeconds: 0.5)
            }
        }

        func resetStream(_ id: String) -> Bool {
            resets.append(id)
            return streams[id] != nil
        }

        func closeStream(_ id: String) -> Bool { streams.removeValue(forKey: id) != nil }

        var forced: [Bool] = []
        func reload(model path: String?, force: Bool) -> JSONValue {
            reloads.append(path)
            forced.append(force)
            return .object(["ok": .bool(true)])
        }

        func reloadConfiguration() -> JSONValue {
            configurationReloads += 1
            return .object(["ok": .bool(true)])
        }

        var labelled: [(String, String)] = []
        func label(stream id: String, className: String) -> JSONValue {
            labelled.append((id, className))
            return .object(["ok": .bool(true)])
        }
        func retrain() -> JSONValue { .object(["ok": .bool(true), "job": .string("j1")]) }
        func job(_ id: String) -> JSONValue { .object(["ok": .bool(true), "job": .string(id)]) }
        func models() -> JSONValue { .object(["ok": .bool(true)]) }
        var rollbacks: [String] = []
        func rollback(to version: String, force: Bool) -> JSONValue {
            rollbacks.append(version)
            forced.append(force)
            return .object(["ok": .bool(true)])
        }
    }

    static func first(_ list: JSONValue?) -> JSONValue? {
        if case .array(let elements) = list { return elements.first }
        return nil
    }

    static func error(_ reply: JSONValue) -> String? { reply["ok"] == .bool(false) ? reply["error"]?.stringValue : nil }

    @Test func statusIsTheSnapshotRendered() {
        let reply = ControlHandler().handle(#"{"command":"status"}"#, target: FakeTarget())
        #expect(reply["ok"] == .bool(true))
        #expect(reply["model"]?["version"]?.stringValue == "v1")
        #expect(reply["counters"]?["frames"]?.numberValue == 9)
        #expect(reply["streams"]?["active"]?.numberValue == 2)
        #expect(reply["drops"]?["duplicate"]?.numberValue == 0)
    }

    @Test func streamsAreSortedLimitedAndFiltered() {
        let target = FakeTarget()
        let all = ControlHandler().handle(#"{"command":"streams"}"#, target: target)
        #expect(all["count"]?.numberValue == 2)
        #expect(Self.first(all["streams"])?["id"]?.stringValue == "a")
        let limited = ControlHandler().handle(#"{"command":"streams","limit":1}"#, target: target)
        #expect(limited["count"]?.numberValue == 2)
        if case .array(let list) = limited["streams"] { #expect(list.count == 1) } else { Issue.record("no list") }
        let one = ControlHandler().handle(#"{"command":"streams","stream":"b"}"#, target: target)
        #expect(one["count"]?.numberValue == 1 && Self.first(one["streams"])?["frames"]?.numberValue == 2)
        #expect(Self.error(ControlHandler().handle(#"{"command":"streams","limit":-1}"#, target: target)) != nil)
        #expect(Self.error(ControlHandler().handle(#"{"command":"streams","stream":3}"#, target: target)) != nil)
    }

    @Test func resetAndCloseNeedAKnownStream() {
        let target = FakeTarget()
        #expect(ControlHandler().handle(#"{"command":"reset","stream":"a"}"#, target: target)["ok"] == .bool(true))
        #expect(Self.error(ControlHandler().handle(#"{"command":"reset","stream":"zz"}"#, target: target)) == "unknown stream 'zz'")
        #expect(Self.error(ControlHandler().handle(#"{"command":"close"}"#, target: target)) == #"close needs a "stream" string"#)
        #expect(ControlHandler().handle(#"{"command":"close","stream":"a"}"#, target: target)["ok"] == .bool(true))
        #expect(target.streams["a"] == nil)
    }

    @Test func reloadRequestsAreChecked() {
        let target = FakeTarget()
        _ = ControlHandler().handle(#"{"command":"reload"}"#, target: target)
        _ = ControlHandler().handle(#"{"command":"reload","model":"/x"}"#, target: target)
        #expect(target.reloads == [nil, "/x"])
        _ = ControlHandler().handle(#"{"command":"reload","configuration":true}"#, target: target)
        #expect(target.configurationReloads == 1)
        #expect(Self.error(ControlHandler().handle(#"{"command":"reload","model":1}"#, target: target)) != nil)
        #expect(Self.error(ControlHandler().handle(#"{"command":"reload","configuration":"yes"}"#, target: target)) != nil)
        #expect(Self.error(ControlHandler().handle(#"{"command":"reload","configuration":true,"model":"/x"}"#, target: target)) != nil)
        target.canReloadConfiguration = false
        #expect(Self.error(ControlHandler().handle(#"{"command":"reload","configuration":true}"#, target: target)) != nil)
        #expect(target.configurationReloads == 1 && target.reloads.count == 2)
        // `force` is a boolean, for a model only.
        _ = ControlHandler().handle(#"{"command":"reload","model":"/y","force":true}"#, target: target)
        #expect(target.reloads.last == "/y" && target.forced == [false, false, true])
        #expect(Self.error(ControlHandler().handle(#"{"command":"reload","model":"/y","force":"yes"}"#, target: target)) != nil)
        target.canReloadConfiguration = true
        #expect(Self.error(ControlHandler().handle(#"{"command":"reload","configuration":true,"force":true}"#, target: target)) != nil)
        #expect(target.reloads.count == 3 && target.configurationReloads == 1)
    }

    @Test func retrainingRequestsAreChecked() {
        let target = FakeTarget()
        #expect(ControlHandler().handle(#"{"command":"label","stream":"s","class":"Walking"}"#, target: target)["ok"] == .bool(true))
        #expect(target.labelled.count == 1 && target.labelled[0] == ("s", "Walking"))
        #expect(Self.error(ControlHandler().handle(#"{"command":"label","stream":"s"}"#, target: target)) != nil)
        #expect(Self.error(ControlHandler().handle(#"{"command":"job"}"#, target: target)) != nil)
        #expect(ControlHandler().handle(#"{"command":"job","job":"x"}"#, target: target)["job"]?.stringValue == "x")
        #expect(Self.error(ControlHandler().handle(#"{"command":"rollback","version":3}"#, target: target)) != nil)
        #expect(ControlHandler().handle(#"{"command":"rollback","version":"v2"}"#, target: target)["ok"] == .bool(true))
        #expect(target.rollbacks == ["v2"] && target.labelled.count == 1)
        #expect(ControlHandler().handle(#"{"command":"rollback","version":"v1","force":true}"#, target: target)["ok"] == .bool(true))
        #expect(Self.error(ControlHandler().handle(#"{"command":"rollback","version":"v1","force":1}"#, target: target)) != nil)
        #expect(target.rollbacks == ["v2", "v1"] && target.forced == [false, true])
    }

    @Test func malformedRequestsAreRefused() {
        let target = FakeTarget()
        #expect(Self.error(ControlHandler().handle("nope", target: target))?.hasPrefix("request is not JSON (unexpected character") == true)
        #expect(Self.error(ControlHandler().handle("[1]", target: target)) == "request is not a JSON object")
        #expect(Self.error(ControlHandler().handle(#"{"cmd":"status"}"#, target: target)) == #"request has no "command" string"#)
        #expect(Self.error(ControlHandler().handle(#"{"command":"fly"}"#, target: target))?.hasPrefix("unknown command 'fly'") == true)
    }

    /// The attack from the security review: a 1 KB request nested 511 deep took 1.44 s to parse.
    /// Nesting is refused at depth 33 and size at 64 KiB, before any command runs.
    @Test func deepOrHugeRequestsAreRefusedBeforeTheyCost() {
        let target = FakeTarget()
        let deep = String(repeating: #"{"a":"#, count: 511) + "1" + String(repeating: "}", count: 511)
        #expect(Self.error(ControlHandler().handle(deep, target: target)) == "request is not JSON (nested deeper than 32 at byte 160)")
        let flatEnough = #"{"command":"status","x":"# + String(repeating: "[", count: 31) + String(repeating: "]", count: 31) + "}"
        #expect(ControlHandler().handle(flatEnough, target: target)["ok"] == .bool(true))
        let huge = #"{"command":"status","pad":""# + String(repeating: "x", count: 70_000) + #""}"#
        #expect(Self.error(ControlHandler().handle(huge, target: target)) == "request is larger than 65536 bytes")
    }

    /// State-changing requests leave an audit record naming what they touched and the result;
    /// read-only ones do not.
    @Test func stateChangingRequestsAreAudited() {
        let target = FakeTarget()
        let close = #"{"command":"close","stream":"s\u001b1"}"#
        #expect(
            ControlHandler.audit(request: close, reply: ControlHandler().handle(close, target: target))
                == ["command": "close", "stream": "s\u{1B}1", "result": "unknown stream 's\u{1B}1'"])
        let reload = #"{"command":"reload","configuration":true}"#
        #expect(
            ControlHandler.audit(request: reload, reply: .object(["ok": .bool(true), "model_version": .string("v9")]))
                == ["command": "reload", "configuration": "true", "result": "ok", "model_version": "v9"])
        #expect(ControlHandler.audit(request: #"{"command":"status"}"#, reply: .object(["ok": .bool(true)])) == nil)
        #expect(ControlHandler.audit(request: "nope", reply: .object(["ok": .bool(false)])) == nil)
    }

    @Test func auditNamesThePeerByKeyUIDOrAddress() {
        #expect(ControlHandler.peer(userID: "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", address: "127.0.0.1") == "key rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7")
        #expect(ControlHandler.peer(userID: nil, address: "localhost:1000:1000:4242") == "uid 1000 gid 1000 pid 4242")
        #expect(ControlHandler.peer(userID: nil, address: "::1") == "::1")
        #expect(ControlHandler.peer(userID: nil, address: "fe80::1:2:3") == "fe80::1:2:3")
        #expect(ControlHandler.peer(userID: "", address: "127.0.0.1") == "127.0.0.1")
        #expect(ControlHandler.peer(userID: nil, address: nil) == "unknown")
    }
}
