@testable import Daemon
import Foundation
import Testing
import ZeroMQ

/// The allowlist parser, the ZAP decision, the loopback rule and the per-key stream quota.
@Suite struct CurveTests {
    static let keyA = try! ZMQCurveCertificate.generate().publicKey
    static let keyB = try! ZMQCurveCertificate.generate().publicKey

    @Test func allowlistsTakeKeysWithNamesAndSkipComments() throws {
        let text = """
            # producers of site 3
            \(Self.keyA)  gateway-3 (rack 2)

            \t\(Self.keyB)
            """
        #expect(try CurveAllowlists.parse(text, file: "producers") == [Self.keyA, Self.keyB])
        // Z85 has '#' in its alphabet: a key that starts with one is still a key.
        let hashKey = "#" + String(Self.keyA.dropFirst())
        if ZMQCurve.isKey(hashKey) { #expect(try CurveAllowlists.parse(hashKey + "\n", file: "p") == [hashKey]) }
    }

    @Test func allowlistsRefuseWhatIsNotAKeyNamingTheLine() throws {
        for (text, line) in [("\(Self.keyA)\nnot-a-key\n", 2), ("\(Self.keyA.dropLast())\n", 1), ("x.key\n", 1)] {
            do {
                _ = try CurveAllowlists.parse(text, file: "producers")
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.message.hasPrefix("producers:\(line): "), "\(error)")
            }
        }
    }

    @Test func allowlistsLoadEveryRoleAndNamedCertificates() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("curve-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let client = try ZMQCurveCertificate.generate()
        try client.text(includingSecret: false).write(to: directory.appendingPathComponent("gw.key"), atomically: true, encoding: .utf8)
        try "gw.key\n".write(to: directory.appendingPathComponent("producers"), atomically: true, encoding: .utf8)
        try "\(Self.keyA)\n".write(to: directory.appendingPathComponent("subscribers"), atomically: true, encoding: .utf8)
        #expect(throws: CurveAllowlists.Problem.self) { try CurveAllowlists.load(directory: directory.path) }  // no operators file
        try "".write(to: directory.appendingPathComponent("operators"), atomically: true, encoding: .utf8)
        let lists = try CurveAllowlists.load(directory: directory.path)
        #expect(lists.admits(client.publicKey, as: .producers) && !lists.admits(client.publicKey, as: .subscribers))
        #expect(lists.admits(Self.keyA, as: .subscribers) && lists.keys[.operators] == [])
        #expect(lists.summary == "producers=1 subscribers=1 operators=0")
    }

    static func request(domain: String, mechanism: String = "CURVE", key: String?) -> [[UInt8]] {
        [Array("1.0".utf8), Array("7".utf8), Array(domain.utf8), Array("127.0.0.1".utf8), [], Array(mechanism.utf8)]
            + (key.map { [ZMQCurve.decode($0)!] } ?? [])
    }

    @Test func zapAdmitsAKeyOnlyInItsRolesAllowlist() {
        let lists = CurveAllowlists(keys: [.producers: [Self.keyA], .subscribers: [], .operators: [Self.keyB]])
        let admitted = CurveAuthenticator.decide(Self.request(domain: "producers", key: Self.keyA), allowlists: lists)
        #expect(admitted.reply == [Array("1.0".utf8), Array("7".utf8), Array("200".utf8), Array("OK".utf8), Array(Self.keyA.utf8), []])
        #expect(admitted.refused == nil)

        let wrongRole = CurveAuthenticator.decide(Self.request(domain: "operators", key: Self.keyA), allowlists: lists)
        #expect(wrongRole.reply[2] == Array("400".utf8) && wrongRole.reply[4] == [])
        #expect(wrongRole.refused?.role == .operators && wrongRole.refused?.key == Self.keyA)

        let plain = CurveAuthenticator.decide(Self.request(domain: "producers", mechanism: "NULL", key: nil), allowlists: lists)
        #expect(plain.reply[2] == Array("400".utf8) && plain.refused?.role == .producers)
        let unknownDomain = CurveAuthenticator.decide(Self.request(domain: "global", key: Self.keyA), allowlists: lists)
        #expect(unknownDomain.reply[2] == Array("400".utf8))
        let malformed = CurveAuthenticator.decide([Array("2.0".utf8), Array("9".utf8)], allowlists: lists)
        #expect(malformed.reply[1] == Array("9".utf8) && malformed.reply[2] == Array("500".utf8))
    }

    @Test func refusalsAreCountedPerKeyUpToABoundThenAsOther() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("curve-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try ZMQCurveCertificate.generate().text(includingSecret: true)
            .write(to: directory.appendingPathComponent("server.key_secret"), atomically: true, encoding: .utf8)
        for role in CurveRole.allCases {
            try "\(Self.keyA)\n".write(to: directory.appendingPathComponent(role.rawValue), atomically: true, encoding: .utf8)
        }
        let authenticator = try CurveAuthenticator(directory: directory.path)
        #expect(authenticator.authenticate(Self.request(domain: "subscribers", key: Self.keyA))[2] == Array("200".utf8))
        let strangers = try (0...CurveAuthenticator.trackedKeys).map { _ in try ZMQCurve.keyPair().publicKey }
        for key in strangers + [strangers[0]] {
            #expect(authenticator.authenticate(Self.request(domain: "producers", key: key))[2] == Array("400".utf8))
        }
        let security = authenticator.security(insecureTCP: false)
        #expect(security.curve && security.refused == strangers.count + 1 && security.refusedByRole == ["producers": strangers.count + 1])
        #expect(security.refusedByKey.count == CurveAuthenticator.trackedKeys + 1)
        #expect(security.refusedByKey[strangers[0]] == 2 && security.refusedByKey["other"] == 1)
    }

    @Test func loopbackRule() throws {
        for endpoint in ["tcp://127.0.0.1:5555", "tcp://127.1.2.3:1", "tcp://[::1]:5555", "tcp://localhost:5", "tcp://lo:5555"] {
            #expect(Configuration.isLoopback(tcpEndpoint: endpoint), "\(endpoint)")
        }
        for endpoint in ["tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://10.0.0.1:5555", "tcp://eth0:5555", "tcp://128.0.0.1:1", "tcp://[::]:5"] {
            #expect(!Configuration.isLoopback(tcpEndpoint: endpoint), "\(endpoint)")
        }
        var configuration = Configuration()
        configuration.ingestEndpoints = ["ipc:///tmp/x", "tcp://0.0.0.0:5555"]
        #expect(throws: DaemonError.self) { try configuration.checkTransportSecurity() }
        configuration.insecureTCP = true
        #expect(try configuration.checkTransportSecurity()?.contains("tcp://0.0.0.0:5555") == true)
        configuration.insecureTCP = false
        configuration.curveDirectory = "/etc/lstmd/curve"
        #expect(try configuration.checkTransportSecurity() == nil)
    }

    @Test func streamQuotaPerKey() {
        var table = StreamTable(maxStreams: 10, idleTimeout: 1_000_000_000)
        table.maxStreamsPerKey = 2
        func accept(_ id: String, _ owner: String?) -> StreamTable.Admission {
            Array(id.utf8).withUnsafeBytes { table.accept(id: $0, sequence: 0, now: 0, owner: { owner }) }
        }
        guard case .new(let first) = accept("a1", Self.keyA) else { Issue.record("a1 not new"); return }
        guard case .new = accept("a2", Self.keyA) else { Issue.record("a2 not new"); return }
        #expect(accept("a3", Self.keyA) == .keyQuota)
        guard case .new = accept("b1", Self.keyB), case .new = accept("plain", nil) else { Issue.record("others not new"); return }
        #expect(table.streamsByOwner == [Self.keyA: 2, Self.keyB: 1])
        table.remove(slot: first)
        guard case .new = accept("a3", Self.keyA) else { Issue.record("a3 not admitted after a1 left"); return }
    }

    /// With sequence 0 meaning a producer restart, another key (or a sender without one) must not
    /// be able to reset, or feed, a stream a key made; its owner goes on.
    @Test func aStreamTakesFramesOnlyFromItsOwner() {
        var table = StreamTable(maxStreams: 10, idleTimeout: 1_000_000_000)
        func accept(_ sequence: UInt64, _ owner: String?) -> StreamTable.Admission {
            Array("a".utf8).withUnsafeBytes { table.accept(id: $0, sequence: sequence, now: 0, owner: { owner }) }
        }
        guard case .new(let slot) = accept(5, Self.keyA) else { Issue.record("not new"); return }
        #expect(accept(0, Self.keyB) == .otherOwner)
        #expect(accept(0, nil) == .otherOwner)
        #expect(accept(6, Self.keyA) == .next(slot: slot))
        #expect(accept(0, Self.keyA) == .restart(slot: slot, last: 6))
    }
}
