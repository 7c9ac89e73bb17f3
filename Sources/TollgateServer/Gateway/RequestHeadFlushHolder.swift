import NIOCore
import NIOHTTP1

/// Holds back the flush that follows a request head declaring a body (a non-zero `Content-Length`), so a
/// forwarded request's head and body leave in one `writev` and one TCP segment. AsyncHTTPClient flushes
/// them separately: on loopback each flush is a system call that also does the receiver's TCP work, and a
/// backend that receives head and body apart parses the request in two goes. Nothing is delayed: the body
/// is written right after such a head and its own flush sends both; any other part (a body chunk, the end,
/// a bodiless head) flushes as before, so streamed request bodies are untouched. (Hummingbird already
/// sends a response's head and body in one write.) Sits right after AHC's request encoder.
final class RequestHeadFlushHolder: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private var holdFlush = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .head(let head) = unwrapOutboundIn(data) {
            holdFlush = head.headers.first(name: "content-length").flatMap { Int($0) }.map { $0 > 0 } ?? false
        } else {
            holdFlush = false
        }
        context.write(data, promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        if !holdFlush { context.flush() }
    }
}
