import NIOCore
import NIOHTTP1

/// Answers one request per connection.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let recorder: MetricsRecorder
    private let server: MetricsServer
    private var head: HTTPRequestHead?

    init(recorder: MetricsRecorder, server: MetricsServer) {
        self.recorder = recorder
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
        case .body:
            break
        case .end:
            guard let request = head else { return }
            head = nil
            respond(to: request, context: context)
        }
    }

    private func respond(to request: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        let status: HTTPResponseStatus
        let contentType: String
        let body: [UInt8]
        if request.method != .GET && request.method != .HEAD {
            (status, contentType, body) = (.methodNotAllowed, "text/plain; charset=utf-8", Array("only GET\n".utf8))
        } else if path == "/metrics" {
            (status, contentType, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", server.scrape())
        } else if path == "/healthz" {
            (status, contentType, body) =
                server.isReady
                ? (.ok, "text/plain; charset=utf-8", Array("ready\n".utf8))
                : (.serviceUnavailable, "text/plain; charset=utf-8", Array("not ready\n".utf8))
        } else {
            (status, contentType, body) = (.notFound, "text/plain; charset=utf-8", Array("GET /metrics or /healthz\n".utf8))
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.count)")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
