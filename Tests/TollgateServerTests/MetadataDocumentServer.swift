import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// An HTTPS server on 127.0.0.1 (certificate of ``TestCertificateAuthority``) that answers every request with
/// what `reply` says for its path, and counts the requests: the other end of a client metadata document fetch.
final class MetadataDocumentServer: Sendable {
    /// One answer: status, headers, body, and how long to wait before sending it.
    struct Reply: Sendable {
        var status: Int = 200
        var headers: [(String, String)] = [("Content-Type", "application/json")]
        var body: Data
        var delay: TimeInterval = 0

        /// A JSON document served as `application/json` (or with `contentType`).
        static func json(_ object: [String: Any], contentType: String = "application/json", cacheControl: String? = nil) -> Reply {
            var headers = [("Content-Type", contentType)]
            if let cacheControl { headers.append(("Cache-Control", cacheControl)) }
            let body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            return Reply(headers: headers, body: body)
        }
    }

    /// Where the server listens: what a reply needs to name its own URL.
    struct Address: Sendable {
        let port: Int

        /// The document URL of `path` on this server, with `host` (`127.0.0.1`, `localhost`, `docs.test`, …).
        func url(_ path: String = "/client.json", host: String = "127.0.0.1") -> String { "https://\(host):\(port)\(path)" }
    }

    /// The paths requested and the bound port, shared with the connections' handlers.
    final class RequestLog: Sendable {
        let paths = Mutex<[String]>([])
        let port = Mutex(0)
    }

    private let channel: Channel
    private let log: RequestLog
    let port: Int

    /// The paths requested so far, in order.
    var requests: [String] { log.paths.withLock { $0 } }

    init(authority: TestCertificateAuthority = .shared, reply: @escaping @Sendable (_ path: String, _ server: Address) -> Reply) async throws {
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(authority.certificatePath).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: authority.keyPath, format: .pem)))
        let context = try NIOSSLContext(configuration: tls)
        let served = RequestLog()
        log = served
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(reply: reply, served: served))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let bound = channel.localAddress?.port ?? 0
        port = bound
        served.port.withLock { $0 = bound }
    }

    /// The document URL of `path` on this server, with `host` (`127.0.0.1`, `localhost`, `docs.test`, …).
    func url(_ path: String = "/client.json", host: String = "127.0.0.1") -> String { Address(port: port).url(path, host: host) }

    func shutdown() async {
        try? await channel.close()
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let reply: @Sendable (String, Address) -> Reply
        let served: RequestLog
        var path = "/"

        init(reply: @escaping @Sendable (String, Address) -> Reply, served: RequestLog) {
            self.reply = reply
            self.served = served
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                path = head.uri
            case .body:
                break
            case .end:
                let path = self.path
                served.paths.withLock { $0.append(path) }
                let answer = reply(path, Address(port: served.port.withLock { $0 }))
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .milliseconds(Int64(answer.delay * 1000))) {
                    let (handler, context) = bound.value
                    handler.send(answer, context: context)
                }
            }
        }

        func send(_ answer: Reply, context: ChannelHandlerContext) {
            var headers = HTTPHeaders(answer.headers)
            headers.replaceOrAdd(name: "Content-Length", value: String(answer.body.count))
            headers.replaceOrAdd(name: "Connection", value: "close")
            let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: answer.status), headers: headers)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: answer.body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
