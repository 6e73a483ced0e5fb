@testable import Daemon
import Foundation
import Testing
import ZeroMQ

/// The connection limit's accounting, on scripted monitor events (the attack itself is
/// `DescriptorTests`, against a real daemon).
@Suite struct ConnectionGuardTests {
    static func event(_ kind: ZMQMonitorEvent.Kind, _ fd: Int32, _ endpoint: String = "tcp://127.0.0.1:5555") -> ZMQMonitorEvent {
        ZMQMonitorEvent(kind: kind, value: fd, endpoint: endpoint)
    }

    @Test func openCountsOnlyTheConnectionsKept() {
        var guarded = ConnectionGuard(maxConnections: 2)
        #expect(guarded.handle(Self.event(.accepted, 10), monitor: 0) == .keep)
        #expect(guarded.handle(Self.event(.accepted, 11), monitor: 0) == .keep)
        #expect(guarded.handle(Self.event(.accepted, 12), monitor: 0) == .refuse(fd: 12))
        #expect(guarded.handle(Self.event(.accepted, 13), monitor: 1) == .refuse(fd: 13))
        #expect(guarded.open == 2 && guarded.refused == 2 && guarded.refusedClosing == 2)
        // The refused ones close: the kept ones are still open, and still the limit.
        _ = guarded.handle(Self.event(.disconnected, 12), monitor: 0)
        _ = guarded.handle(Self.event(.disconnected, 13), monitor: 1)
        #expect(guarded.open == 2 && guarded.refusedClosing == 0)
        #expect(guarded.handle(Self.event(.accepted, 12), monitor: 0) == .refuse(fd: 12))
        // A kept one leaves: room for one more, on any socket.
        _ = guarded.handle(Self.event(.disconnected, 10), monitor: 0)
        #expect(guarded.open == 1)
        #expect(guarded.handle(Self.event(.accepted, 10), monitor: 1) == .keep)
        #expect(guarded.open == 2 && guarded.refused == 3)
    }

    @Test func aDescriptorRefusedOnOneSocketAndReusedOnAnotherIsToldApart() {
        var guarded = ConnectionGuard(maxConnections: 1)
        _ = guarded.handle(Self.event(.accepted, 10), monitor: 0)
        #expect(guarded.handle(Self.event(.accepted, 11), monitor: 0) == .refuse(fd: 11))
        // The kept connection on monitor 1 with the same number leaves before the refused one.
        _ = guarded.handle(Self.event(.disconnected, 10), monitor: 0)
        _ = guarded.handle(Self.event(.accepted, 11), monitor: 1)
        #expect(guarded.open == 1)
        _ = guarded.handle(Self.event(.disconnected, 11), monitor: 0)
        #expect(guarded.open == 1 && guarded.refusedClosing == 0)
        _ = guarded.handle(Self.event(.disconnected, 11), monitor: 1)
        #expect(guarded.open == 0)
    }

    @Test func aLostDisconnectOfARefusedConnectionDoesNotStayRemembered() {
        var guarded = ConnectionGuard(maxConnections: 1)
        _ = guarded.handle(Self.event(.accepted, 10), monitor: 0)
        #expect(guarded.handle(Self.event(.accepted, 11), monitor: 0) == .refuse(fd: 11))
        // The refused connection's disconnect never arrives; the kept one leaves, and descriptor
        // 11 comes back as a new connection, which is kept.
        _ = guarded.handle(Self.event(.disconnected, 10), monitor: 0)
        #expect(guarded.handle(Self.event(.accepted, 11), monitor: 0) == .keep)
        #expect(guarded.refusedClosing == 0 && guarded.open == 1)
        // Its disconnect is a kept connection's: open goes back to 0, not stuck at 1.
        _ = guarded.handle(Self.event(.disconnected, 11), monitor: 0)
        #expect(guarded.open == 0)
    }

    @Test func aRefusedConnectionAlreadyGoneInTheBatchIsNotShutDown() {
        var guarded = ConnectionGuard(maxConnections: 1)
        let refusals = guarded.handle([
            (0, Self.event(.accepted, 10)),
            (0, Self.event(.accepted, 11)),  // refused, but it is gone already: fd 11 may be anyone's now
            (0, Self.event(.accepted, 12)),  // refused, still there
            (0, Self.event(.disconnected, 11)),
            (1, Self.event(.accepted, 11, "ipc:///run/lstmd/control.sock")),  // refused: the limit holds
        ])
        #expect(refusals.map(\.fd) == [12, 11])
        #expect(refusals.last?.event.endpoint == "ipc:///run/lstmd/control.sock")
        #expect(guarded.open == 1 && guarded.refused == 3 && guarded.refusedClosing == 2)
    }

    @Test func aDescriptorIsShutOnlyForItsOwnListener() {
        var inet = sockaddr_in()
        inet.sin_family = sa_family_t(AF_INET)
        inet.sin_port = UInt16(5555).bigEndian
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { raw in withUnsafeBytes(of: inet) { raw.copyMemory(from: $0) } }
        #expect(ConnectionGuard.belongs(local: storage, to: "tcp://127.0.0.1:5555"))
        #expect(!ConnectionGuard.belongs(local: storage, to: "tcp://127.0.0.1:5556"))
        #expect(!ConnectionGuard.belongs(local: storage, to: "ipc:///run/lstmd/control.sock"))

        var unix = sockaddr_un()
        unix.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &unix.sun_path) { raw in
            for (index, byte) in "/run/lstmd/control.sock".utf8.enumerated() { raw[index] = byte }
        }
        storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { raw in withUnsafeBytes(of: unix) { raw.copyMemory(from: $0) } }
        #expect(ConnectionGuard.belongs(local: storage, to: "ipc:///run/lstmd/control.sock"))
        #expect(!ConnectionGuard.belongs(local: storage, to: "ipc:///run/lstmd/other.sock"))
        #expect(!ConnectionGuard.belongs(local: storage, to: "tcp://127.0.0.1:5555"))
    }
}
