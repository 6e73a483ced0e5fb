import Foundation
import LSTMKit
import Testing
import ZeroMQ

/// CURVE authentication and authorisation against a real daemon: tcp endpoints on 127.0.0.1 are
/// CURVE servers with per-role allowlists; the harness's own ipc endpoints stay plain.
@Suite(.serialized) struct CurveTests {
    /// A CURVE directory with a server key pair and one client key per role, plus a stranger.
    struct Keys {
        let directory: TemporaryDirectory
        let server: ZMQCurveCertificate
        let producer: ZMQCurveCertificate
        let subscriber: ZMQCurveCertificate
        let operator_: ZMQCurveCertificate
        let stranger: ZMQCurveCertificate

        init() throws {
            directory = try TemporaryDirectory()
            (server, producer, subscriber) = (try .generate(), try .generate(), try .generate())
            (operator_, stranger) = (try .generate(), try .generate())
            try write(server.text(includingSecret: true), "server.key_secret")
            try write(server.text(includingSecret: false), "server.key")
            try write("# gateways\n\(producer.publicKey) gateway-1\n", "producers")
            try write("\(subscriber.publicKey) dashboard\n", "subscribers")
            try write("\(operator_.publicKey) ops\n", "operators")
        }

        func write(_ text: String, _ name: String) throws {
            try text.write(to: directory.url.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }

        func path(_ name: String) -> String { directory.url.appendingPathComponent(name).path }

        /// Writes `certificate`'s `NAME.key_secret` and returns its path.
        func secretFile(_ certificate: ZMQCurveCertificate, _ name: String) throws -> String {
            try write(certificate.text(includingSecret: true), name + ".key_secret")
            return path(name + ".key_secret")
        }

        /// A socket of `type` that is a CURVE client with `certificate`, connected to `endpoint`.
        func client(_ type: ZMQSocketType, _ certificate: ZMQCurveCertificate, _ endpoint: String, context: ZMQContext) throws -> ZMQSocket {
            let socket = try ZMQSocket(type, context: context)
            try socket.set(.linger, to: 0)
            try socket.set(.sendTimeout, to: Int(Timeouts.arrival * 1000))
            if type == .sub {
                try socket.set(.receiveHighWaterMark, to: 0)
                try socket.subscribe([UInt8]())
            }
            try socket.makeCurveClient(serverKey: server.publicKey, publicKey: certificate.publicKey, secretKey: certificate.secretKey!)
            try socket.connect(endpoint)
            return socket
        }
    }

    /// Three tcp endpoints on 127.0.0.1 ports that were free a moment ago.
    static func loopbackEndpoints(context: ZMQContext) throws -> [String] {
        let probes = try (0..<3).map { _ in try ZMQSocket(.pull, context: context) }
        let endpoints = try probes.map { try $0.bind("tcp://127.0.0.1:*") }
        probes.forEach { $0.close() }
        return endpoints
    }

    static func refusedByKey(_ status: JSONValue, _ key: String) -> Int {
        Int(status["security"]?["refused_by_key"]?[key]?.numberValue ?? 0)
    }

    /// Receives labels on `socket` until one of `stream` arrives or `timeout` passes.
    static func awaitLabel(on socket: ZMQSocket, stream: String, timeout: Double) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            try socket.set(.receiveTimeout, to: 100)
            if let message = try socket.receiveMultipart(), message.parts.first == Array(stream.utf8) { return true }
        }
        return false
    }

    @Test func allowedKeysStreamAndListenUnknownKeysGetNothingAndAreCounted() throws {
        let keys = try Keys()
        defer { keys.directory.remove() }
        let context = try ZMQContext()
        let tcp = try Self.loopbackEndpoints(context: context)
        try withDaemon([
            "--curve-directory", keys.directory.path, "--max-streams-per-key", "2",
            "--ingest", tcp[0], "--publish", tcp[1], "--control", tcp[2],
        ]) { daemon in
            #expect(daemon.initialStatus["security"]?["curve"] == .bool(true))
            let window = daemon.window, channels = daemon.channels
            let subscriber = try keys.client(.sub, keys.subscriber, tcp[1], context: context)
            let eavesdropper = try keys.client(.sub, keys.stranger, tcp[1], context: context)
            let producer = try keys.client(.push, keys.producer, tcp[0], context: context)
            let intruder = try keys.client(.push, keys.stranger, tcp[0], context: context)

            // The intruder's frames never become a stream; its refusal is counted under its key.
            var intruding = TestStream(id: "curve-intruder", channels: channels)
            _ = try intruder.send(parts: intruding.frame(values: [Float](repeating: 0.1, count: window * channels)), dontWait: true)
            let refused = try daemon.waitForStatus { Self.refusedByKey($0, keys.stranger.publicKey) >= 1 }
            #expect(refused != nil, "the stranger's handshake is refused and counted")

            // The producer streams (frames until the subscriber, which joins late, sees a label).
            var stream = TestStream(id: "curve-ok", channels: channels)
            var labelled = false
            let deadline = Date().addingTimeInterval(Timeouts.arrival)
            while !labelled, Date() < deadline {
                #expect(try producer.send(parts: stream.frame(values: [Float](repeating: 0.2, count: window * channels))))
                labelled = try Self.awaitLabel(on: subscriber, stream: stream.id, timeout: 0.2)
            }
            #expect(labelled, "an allowed subscriber gets the allowed producer's labels")
            // Once the subscriber has a label published after this frame, the eavesdropper would
            // have one too if it were admitted.
            #expect(try producer.send(parts: stream.frame(values: [Float](repeating: 0.2, count: window * channels))))
            #expect(try Self.awaitLabel(on: subscriber, stream: stream.id, timeout: Timeouts.arrival))
            try eavesdropper.set(.receiveTimeout, to: 0)
            #expect(try eavesdropper.receiveMultipart(dontWait: true) == nil, "an unknown subscriber gets nothing")
            #expect(Self.refusedByKey(try daemon.status(), keys.stranger.publicKey) >= 2, "producer and subscriber refusals")
            let streams = try daemon.streams()
            #expect(streams[stream.id] != nil && streams["curve-intruder"] == nil)

            // Per-key stream quota: the producer's key already holds curve-ok; a second stream
            // fits, a third is dropped (key_quota).
            for id in ["curve-2", "curve-3"] {
                var extra = TestStream(id: id, channels: channels)
                #expect(try producer.send(parts: extra.frame(values: [Float](repeating: 0.3, count: channels))))
            }
            let quota = try daemon.waitForStatus { Int($0["drops"]?["key_quota"]?.numberValue ?? 0) >= 1 }
            #expect(quota != nil, "the third stream of one key is dropped as key_quota")
            #expect(try daemon.streams()["curve-2"] != nil)
            #expect(try daemon.streams()["curve-3"] == nil)
            withExtendedLifetime((intruder, eavesdropper)) {}
        }
    }

    @Test func controlNeedsAnOperatorKey() throws {
        let keys = try Keys()
        defer { keys.directory.remove() }
        let context = try ZMQContext()
        let tcp = try Self.loopbackEndpoints(context: context)
        try withDaemon(["--curve-directory", keys.directory.path, "--control", tcp[2]], subscribe: false) { daemon in
            // A producer key on the control socket: the handshake is refused, no reply comes.
            let wrong = try keys.client(.req, keys.producer, tcp[2], context: context)
            try wrong.set(.receiveTimeout, to: 1000)
            #expect(try wrong.send(Array(#"{"command":"status"}"#.utf8)))
            #expect(try wrong.receiveMultipart() == nil, "a producer key cannot use control")
            let status = try daemon.waitForStatus { Self.refusedByKey($0, keys.producer.publicKey) >= 1 }
            #expect(status != nil, "the producer key's refusal on control is counted")
            #expect((status?["security"]?["refused_by_role"]?["operators"]?.numberValue ?? 0) >= 1)

            // lstmctl with the operator's key gets its answer; with the producer's, none.
            let lstmctl = try LSTMDBinary.url().deletingLastPathComponent().appendingPathComponent("lstmctl")
            let serverKey = keys.path("server.key")
            let allowed = try runTool(lstmctl, [
                "status", "--endpoint", tcp[2], "--json", "--server-key", serverKey,
                "--client-key", try keys.secretFile(keys.operator_, "ops"),
            ])
            #expect(allowed.status == 0 && allowed.out.contains("\"curve\":true"), "\(allowed.err)")
            let refused = try runTool(lstmctl, [
                "status", "--endpoint", tcp[2], "--timeout", "1", "--server-key", serverKey,
                "--client-key", try keys.secretFile(keys.producer, "gw"),
            ])
            #expect(refused.status == 1 && refused.err.contains("no reply"), "\(refused.err)")
            let half = try runTool(lstmctl, ["status", "--endpoint", tcp[2], "--server-key", serverKey])
            #expect(half.status != 0 && half.err.contains("--server-key and --client-key go together"), "\(half.err)")

            // The Python client with the operator's key files.
            let python = URL(fileURLWithPath: "/usr/bin/env")
            guard try runTool(python, ["python3", "-c", "import zmq.auth, numpy"]).status == 0 else {
                print("skipping the Python CURVE client check: python3 lacks pyzmq or numpy (pip install pyzmq numpy)")
                return
            }
            let script = """
                import sys; sys.path.insert(0, "deploy/python")
                from lstmd.client import control
                print(control(sys.argv[1], "status", server_key=sys.argv[2], client_key=sys.argv[3])["security"]["curve"])
                """
            let fromPython = try runTool(python, ["python3", "-c", script, tcp[2], serverKey, keys.path("ops.key_secret")])
            #expect(fromPython.out == "True\n", "\(fromPython.out)\n\(fromPython.err)")
        }
    }

    @Test func sighupReloadsTheAllowlistsAndABadOneIsRefused() throws {
        let keys = try Keys()
        defer { keys.directory.remove() }
        let context = try ZMQContext()
        let tcp = try Self.loopbackEndpoints(context: context)
        try withDaemon(["--curve-directory", keys.directory.path, "--ingest", tcp[0]]) { daemon in
            let window = daemon.window, channels = daemon.channels
            let newcomer = try ZMQCurveCertificate.generate()
            let producer = try keys.client(.push, newcomer, tcp[0], context: context)
            var stream = TestStream(id: "curve-new", channels: channels)
            _ = try producer.send(parts: stream.frame(values: [Float](repeating: 0.2, count: window * channels)), dontWait: true)
            #expect(try daemon.waitForStatus { Self.refusedByKey($0, newcomer.publicKey) >= 1 } != nil)

            // A malformed allowlist is refused at reload; the old lists stay.
            try keys.write("\(keys.producer.publicKey)\nnot a key\n", "producers")
            let bad = try daemon.request(["command": .string("reload"), "configuration": .bool(true)])
            #expect(bad["ok"] == .bool(false))
            #expect(bad["error"]?.stringValue?.contains("producers:2") == true, "\(bad)")

            // Add the newcomer's key, SIGHUP: its next connection is admitted (libzmq gives up a
            // connection whose handshake was refused, so the client connects anew).
            try keys.write("\(keys.producer.publicKey) gateway-1\n\(newcomer.publicKey) gateway-2\n", "producers")
            kill(daemon.process.processIdentifier, SIGHUP)
            #expect(try daemon.waitForLog { $0.contains("CURVE allowlists reloaded") })
            producer.close()
            let admitted = try keys.client(.push, newcomer, tcp[0], context: context)
            var labelled = false
            let deadline = Date().addingTimeInterval(Timeouts.arrival)
            while !labelled, Date() < deadline {
                #expect(try admitted.send(parts: stream.frame(values: [Float](repeating: 0.2, count: window * channels))))
                labelled = try daemon.subscriber.waitFor(stream: stream.id, count: 1, timeout: 0.2)
            }
            #expect(labelled, "the key added to producers streams after SIGHUP\n\(daemon.log.suffix(2000))")
        }
    }

    @Test func plainTCPBeyondLoopbackNeedsInsecureTCP() throws {
        let daemon = try DaemonProcess(arguments: ["--ingest", "tcp://0.0.0.0:*", "--insecure-tcp", "true"])
        defer { daemon.stop() }
        #expect(daemon.initialStatus["security"]?["insecure_tcp"] == .bool(true))
        #expect(daemon.log.contains("plain TCP on a non-loopback endpoint (tcp://0.0.0.0:*): any host that reaches it"), "\(daemon.log)")
    }

    @Test func keygenWritesCertificatesPythonCanRead() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let lstmctl = try LSTMDBinary.url().deletingLastPathComponent().appendingPathComponent("lstmctl")
        let out = directory.path + "/client"
        let made = try runTool(lstmctl, ["keygen", "--out", out])
        #expect(made.status == 0, "\(made.err)")
        let certificate = try ZMQCurveCertificate(contentsOfFile: out + ".key_secret", requiringSecret: true)
        #expect(made.out == certificate.publicKey + "\n")
        #expect(try ZMQCurveCertificate(contentsOfFile: out + ".key").publicKey == certificate.publicKey)
        let mode = try FileManager.default.attributesOfItem(atPath: out + ".key_secret")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let again = try runTool(lstmctl, ["keygen", "--out", out])
        #expect(again.status != 0 && again.err.contains("--force"), "\(again.err)")
        #expect(try runTool(lstmctl, ["keygen", "--out", out, "--force"]).status == 0)

        let python = URL(fileURLWithPath: "/usr/bin/env")
        guard try runTool(python, ["python3", "-c", "import zmq.auth"]).status == 0 else {
            print("skipping the pyzmq certificate check: python3 lacks pyzmq (pip install pyzmq)")
            return
        }
        let script = "import sys, zmq.auth; p, s = zmq.auth.load_certificate(sys.argv[1]); print(p.decode(), s.decode())"
        let read = try runTool(python, ["python3", "-c", script, out + ".key_secret"])
        let fresh = try ZMQCurveCertificate(contentsOfFile: out + ".key_secret")
        #expect(read.out == "\(fresh.publicKey) \(fresh.secretKey!)\n", "\(read.err)")
    }
}

/// Runs a program to completion (bounded by `timeout` seconds): status, stdout, stderr.
func runTool(_ executable: URL, _ arguments: [String], timeout: Double = 60) throws -> (status: Int32, out: String, err: String) {
    try ClientToolTests().run(executable, arguments, timeout: timeout)
}
