import Foundation
import ZeroMQ

/// A PUSH socket to lstmd's ingest endpoint as `send` and `label` use it: frames queue only on a
/// completed connection (a missing daemon shows as a send timeout, not frames piling up in a
/// pipe to nowhere), each send waits at most `timeout`, and closing waits as long for queued
/// frames instead of discarding them (libzmq's linger default here is 0).
/// The socket keeps its own context alive; releasing both at the end of the caller's scope makes
/// zmq_ctx_term wait (up to the linger) until the queued frames are written.
func producerSocket(to endpoint: String, timeout: Double, keys: CurveClientKeys?) throws(ZMQError) -> ZMQSocket {
    let milliseconds = max(1, Int(timeout * 1000))
    let context = try ZMQContext()
    let socket = try ZMQSocket(.push, context: context)
    try socket.set(.immediate, to: true)
    try socket.set(.sendTimeout, to: milliseconds)
    try socket.set(.linger, to: milliseconds)
    try keys.apply(to: socket)
    try socket.connect(endpoint)
    return socket
}

/// CLOCK_REALTIME, ns since the epoch: the frame timestamp, and what label latencies are
/// measured against.
func realtimeNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}
