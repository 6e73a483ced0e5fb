import Glibc
import Logging
import Testing

@testable import Systemd

/// Everything that reads or changes the process environment (NOTIFY_SOCKET, WATCHDOG_*,
/// JOURNAL_STREAM) lives in this one serialized suite, and restores what it changed.
@Suite(.serialized)
struct SystemdEnvironmentTests {
    let notifier = SystemdNotifier()

    @Test func isEnabledFollowsNotifySocket() {
        withEnvironment(["NOTIFY_SOCKET": nil]) { #expect(!notifier.isEnabled) }
        withEnvironment(["NOTIFY_SOCKET": ""]) { #expect(!notifier.isEnabled) }
        withEnvironment(["NOTIFY_SOCKET": "/run/systemd/notify"]) { #expect(notifier.isEnabled) }
    }

    @Test func sendingWithoutSocketReturnsFalse() {
        withEnvironment(["NOTIFY_SOCKET": nil]) {
            #expect(!notifier.ready())
            #expect(!notifier.watchdog())
            #expect(!notifier.send("STATUS=nobody listens"))
        }
    }

    @Test func sendingToMissingSocketReturnsFalse() {
        withEnvironment(["NOTIFY_SOCKET": "/tmp/lstmd-no-such-socket-\(getpid())"]) {
            #expect(!notifier.ready())
        }
    }

    @Test func messagesArriveExactlyAsSent() throws {
        let socket = try NotifySocket()
        withEnvironment(["NOTIFY_SOCKET": socket.path]) {
            #expect(notifier.isEnabled)
            #expect(notifier.ready())
            #expect(socket.receive() == "READY=1")
            #expect(notifier.watchdog())
            #expect(socket.receive() == "WATCHDOG=1")
            #expect(notifier.stopping())
            #expect(socket.receive() == "STOPPING=1")
            #expect(notifier.status("serving 3 streams"))
            #expect(socket.receive() == "STATUS=serving 3 streams")
            #expect(notifier.status("line one\nline two"))
            #expect(socket.receive() == "STATUS=line one line two")
            #expect(notifier.extendTimeout(by: .seconds(90)))
            #expect(socket.receive() == "EXTEND_TIMEOUT_USEC=90000000")
            #expect(notifier.send("READY=1\nSTATUS=reloaded"))
            #expect(socket.receive() == "READY=1\nSTATUS=reloaded")
            #expect(socket.receive(timeoutMilliseconds: 0) == nil)
        }
    }

    @Test func reloadingCarriesMonotonicTimestamp() throws {
        let socket = try NotifySocket()
        try withEnvironment(["NOTIFY_SOCKET": socket.path]) {
            let before = SystemdNotifier.monotonicMicroseconds()
            #expect(notifier.reloading())
            let after = SystemdNotifier.monotonicMicroseconds()
            let message = try #require(socket.receive())
            let lines = message.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == 2)
            #expect(lines.first == "RELOADING=1")
            let field = try #require(lines.last)
            #expect(field.hasPrefix("MONOTONIC_USEC="))
            let value = try #require(UInt64(field.dropFirst("MONOTONIC_USEC=".count)))
            #expect(before <= value && value <= after)
        }
    }

    @Test func watchdogIntervalFromEnvironment() {
        let ownPID = String(getpid())
        withEnvironment(["WATCHDOG_USEC": nil, "WATCHDOG_PID": nil]) {
            #expect(notifier.watchdogInterval == nil)
        }
        withEnvironment(["WATCHDOG_USEC": "4000000", "WATCHDOG_PID": ownPID]) {
            #expect(notifier.watchdogInterval == .seconds(4))
        }
        withEnvironment(["WATCHDOG_USEC": "1500", "WATCHDOG_PID": nil]) {
            #expect(notifier.watchdogInterval == .microseconds(1_500))
        }
        withEnvironment(["WATCHDOG_USEC": "4000000", "WATCHDOG_PID": String(getpid() + 1)]) {
            #expect(notifier.watchdogInterval == nil)
        }
        withEnvironment(["WATCHDOG_USEC": "0", "WATCHDOG_PID": ownPID]) {
            #expect(notifier.watchdogInterval == nil)
        }
        withEnvironment(["WATCHDOG_USEC": "soon", "WATCHDOG_PID": ownPID]) {
            #expect(notifier.watchdogInterval == nil)
        }
    }

    @Test func journalAvailableComparesStderrWithJournalStream() {
        var status = stat()
        #expect(fstat(STDERR_FILENO, &status) == 0)
        let matching = "\(status.st_dev):\(status.st_ino)"
        let other = "\(status.st_dev):\(UInt64(status.st_ino) &+ 1)"
        withEnvironment(["JOURNAL_STREAM": nil]) {
            #expect(!JournalLogHandler.journalAvailable())
            #expect(LoggingBootstrap.resolve(.automatic) == .stderr)
            #expect(LoggingBootstrap.makeHandler(label: "t") is StderrLogHandler)
        }
        withEnvironment(["JOURNAL_STREAM": matching]) {
            #expect(JournalLogHandler.journalAvailable())
            #expect(LoggingBootstrap.resolve(.automatic) == .journal)
            #expect(LoggingBootstrap.makeHandler(label: "t") is JournalLogHandler)
            #expect(LoggingBootstrap.makeHandler(label: "t", destination: .stderr) is StderrLogHandler)
        }
        withEnvironment(["JOURNAL_STREAM": other]) {
            #expect(!JournalLogHandler.journalAvailable())
        }
    }
}
