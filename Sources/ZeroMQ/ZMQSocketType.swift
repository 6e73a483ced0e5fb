internal import CZeroMQ

/// The pattern a ``ZMQSocket`` takes part in.
public enum ZMQSocketType: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// An exclusive pair of sockets (`ZMQ_PAIR`).
    case pair
    /// Publishes to every subscriber; never blocks, drops at the high-water mark (`ZMQ_PUB`).
    case pub
    /// Receives what publishers send under subscribed prefixes (`ZMQ_SUB`).
    case sub
    /// Sends a request and then receives its reply, strictly alternating (`ZMQ_REQ`).
    case req
    /// Receives a request and then sends its reply, strictly alternating (`ZMQ_REP`).
    case rep
    /// Asynchronous requests, load-balanced over peers (`ZMQ_DEALER`).
    case dealer
    /// Asynchronous replies; the first part of each message is the peer's routing id
    /// (`ZMQ_ROUTER`).
    case router
    /// The receiving end of a pipeline; fair-queues from all peers (`ZMQ_PULL`).
    case pull
    /// The sending end of a pipeline; load-balances over peers (`ZMQ_PUSH`).
    case push
    /// A publisher that also sees subscriptions as messages (`ZMQ_XPUB`).
    case xpub
    /// A subscriber that sends subscriptions as messages (`ZMQ_XSUB`).
    case xsub

    var rawType: Int32 {
        switch self {
        case .pair: ZMQ_PAIR
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        case .dealer: ZMQ_DEALER
        case .router: ZMQ_ROUTER
        case .pull: ZMQ_PULL
        case .push: ZMQ_PUSH
        case .xpub: ZMQ_XPUB
        case .xsub: ZMQ_XSUB
        }
    }

    /// The libzmq name without its prefix, for example `PUSH`.
    public var description: String {
        switch self {
        case .pair: "PAIR"
        case .pub: "PUB"
        case .sub: "SUB"
        case .req: "REQ"
        case .rep: "REP"
        case .dealer: "DEALER"
        case .router: "ROUTER"
        case .pull: "PULL"
        case .push: "PUSH"
        case .xpub: "XPUB"
        case .xsub: "XSUB"
        }
    }
}
