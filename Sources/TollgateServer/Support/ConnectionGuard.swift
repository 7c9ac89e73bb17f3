import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// How long a client may keep a connection without making progress, and how many connections may be open.
public struct ConnectionLimits: Sendable, Equatable {
    /// Most connections open at once. At the limit a new connection takes the place of the one that has waited
    /// longest on its client (an idle keep-alive, a head or body still being sent); when every connection is
    /// busy with a request the new one is closed.
    public var maxConnections: Int
    /// Time a request head has to arrive complete: from the connection's start for its first request, from
    /// the head's first byte for the next ones.
    public var headTimeout: TimeInterval
    /// Time a request body may go without a byte while the server waits for it.
    public var bodyTimeout: TimeInterval
    /// Time a kept-alive connection may stay silent after a response; longer than the idle time of common
    /// client pools (60 s in AsyncHTTPClient), so a client rarely sends into a connection being closed.
    public var idleTimeout: TimeInterval

    public init(maxConnections: Int = 4096, headTimeout: TimeInterval = 10, bodyTimeout: TimeInterval = 30, idleTimeout: TimeInterval = 75) {
        self.maxConnections = maxConnections
        self.headTimeout = headTimeout
        self.bodyTimeout = bodyTimeout
        self.idleTimeout = idleTimeout
    }

    /// The connection limit `serve` can afford with `descriptorLimit` open files: half of what is left after
    /// a reserve for the store, logs and the listening socket, since a forwarded request may hold a second
    /// descriptor (to the MCP server) for each client connection.
    public static func affordableConnections(requested: Int, descriptorLimit: Int) -> Int {
        max(1, min(requested, (descriptorLimit - 64) / 2))
    }
}

/// Why the server closed a client connection on its own.
enum ConnectionCloseReason: String, CaseIterable, Sendable {
    case headTimeout = "head_timeout"
    case bodyTimeout = "body_timeout"
    case idleTimeout = "idle_timeout"
    /// Made room for a new connection at the limit.
    case evicted
    /// Arrived at the limit with every open connection busy.
    case refused
}

/// The connection table shared by every event loop: counts open connections, applies the limit, and
/// counts the connections it closed (by reason).
final class ConnectionGuard: Sendable {
    let limits: ConnectionLimits
    let logger: Logger
    private let open = Mutex<[ObjectIdentifier: ConnectionRecord]>([:])
    private let closed = Mutex<[ConnectionCloseReason: Int]>([:])
    private let onClose: @Sendable (ConnectionCloseReason) -> Void

    /// - Parameter onClose: told of each connection the guard closes (the metrics count them).
    init(limits: ConnectionLimits, logger: Logger, onClose: @escaping @Sendable (ConnectionCloseReason) -> Void = { _ in }) {
        self.limits = limits
        self.logger = logger
        self.onClose = onClose
    }

    /// Connections open now.
    var openConnections: Int { open.withLock { $0.count } }

    /// Connections closed by the server, by reason.
    func closedCount(_ reason: ConnectionCloseReason) -> Int { closed.withLock { $0[reason] ?? 0 } }

    /// Counts a connection the guard (or a connection's watch) closed.
    func count(_ reason: ConnectionCloseReason) {
        closed.withLock { $0[reason, default: 0] += 1 }
        onClose(reason)
    }

    private enum Admission {
        case admitted
        case admittedInPlaceOf(ConnectionRecord)
        case refused
    }

    /// Admits a new connection; at the limit, closes the connection that has waited longest on its client
    /// to make room. Returns false when the new connection must be closed (every open one is busy).
    func admit(_ record: ConnectionRecord) -> Bool {
        let admission = open.withLock { table -> Admission in
            if table.count < limits.maxConnections {
                table[ObjectIdentifier(record)] = record
                return .admitted
            }
            var oldest: (record: ConnectionRecord, since: UInt64)?
            for candidate in table.values {
                let since = candidate.waitingOnClientSince.load(ordering: .relaxed)
                if since != ConnectionRecord.busy, since < (oldest?.since ?? .max) { oldest = (candidate, since) }
            }
            guard let oldest else { return .refused }
            table[ObjectIdentifier(oldest.record)] = nil
            table[ObjectIdentifier(record)] = record
            return .admittedInPlaceOf(oldest.record)
        }
        switch admission {
        case .admitted:
            return true
        case .admittedInPlaceOf(let victim):
            count(.evicted)
            logger.debug("connection closed to make room for a new one", metadata: ["limit": "\(limits.maxConnections)"])
            victim.channel.close(promise: nil)
            return true
        case .refused:
            count(.refused)
            logger.debug("connection refused: every connection is busy", metadata: ["limit": "\(limits.maxConnections)"])
            return false
        }
    }

    /// Watches a new connection whose pipeline has its HTTP/1.1 decoder: one handler in front of everything
    /// (raw reads), one right after the decoder (request and response parts). Call on the channel's event loop.
    func watch(_ channel: any Channel) throws {
        let watch = ConnectionWatch(limits: limits, connectionGuard: self, channel: channel)
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(RequestPhaseHandler(watch: watch),
                                position: .after(try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)))
        try pipeline.addHandler(ConnectionActivityHandler(watch: watch), position: .first)
    }

    /// Forgets a closed connection.
    func remove(_ record: ConnectionRecord) {
        open.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(record)) }
    }
}

/// One connection in the ``ConnectionGuard``'s table.
final class ConnectionRecord: Sendable {
    /// `waitingOnClientSince` while a request is being handled.
    static let busy: UInt64 = .max
    let channel: any Channel
    /// Uptime nanoseconds since which the connection waits on its client, or ``busy``.
    let waitingOnClientSince = Atomic<UInt64>(0)

    init(channel: any Channel) {
        self.channel = channel
    }
}

/// What one connection is doing, and the deadline that follows from it; lives on the connection's event loop.
/// Fed by ``ConnectionActivityHandler`` (raw bytes, before HTTP decoding) and ``RequestPhaseHandler`` (request
/// and response parts, after it).
final class ConnectionWatch {
    let limits: ConnectionLimits
    let connectionGuard: ConnectionGuard
    let record: ConnectionRecord
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?

    /// Between a request head and the end of its body.
    private var readingRequest = false
    /// Requests whose response has not been written to the end.
    private var requestsInFlight = 0
    /// Set when a request head started arriving (at the connection's start for the first one); nil once it is complete.
    private var headStartedAt: NIODeadline?
    /// The last byte of a request body that was waited for.
    private var lastBodyProgress = NIODeadline.uptimeNanoseconds(0)
    /// When the last response was written to the end.
    private var idleSince = NIODeadline.uptimeNanoseconds(0)
    /// Whether the pipeline asked the socket for more bytes: when it did not (the handler is not consuming
    /// the body yet), a silent client is not the one stalling.
    private var readRequested = false
    private var admitted = false

    init(limits: ConnectionLimits, connectionGuard: ConnectionGuard, channel: any Channel) {
        self.limits = limits
        self.connectionGuard = connectionGuard
        record = ConnectionRecord(channel: channel)
    }

    private var now: NIODeadline { context?.eventLoop.now ?? .now() }

    // MARK: Events

    func connectionStarted(_ context: ChannelHandlerContext) {
        guard self.context == nil else { return }
        self.context = context
        headStartedAt = now
        // Entered with its own start time, not as the oldest possible candidate for making room.
        record.waitingOnClientSince.store(now.uptimeNanoseconds, ordering: .relaxed)
        guard connectionGuard.admit(record) else {
            context.close(promise: nil)
            return
        }
        admitted = true
        rearm()
    }

    func connectionEnded() {
        timer?.cancel()
        timer = nil
        if admitted { connectionGuard.remove(record) }
        admitted = false
        context = nil
    }

    func bytesArrived() {
        readRequested = false
        if readingRequest {
            lastBodyProgress = now
        } else if headStartedAt == nil {
            headStartedAt = now
        }
        rearm()
    }

    func readRequestedFromSocket() {
        readRequested = true
    }

    /// No request is being read or answered.
    var isBetweenRequests: Bool { !readingRequest && requestsInFlight == 0 }

    func requestHeadReceived() {
        readingRequest = true
        requestsInFlight += 1
        headStartedAt = nil
        lastBodyProgress = now
        rearm()
    }

    func requestEnded() {
        readingRequest = false
        rearm()
    }

    func responseEnded() {
        requestsInFlight = max(0, requestsInFlight - 1)
        if requestsInFlight == 0 {
            idleSince = now
            // Bytes of a pipelined request may have arrived while this one was answered: its clock starts now.
            if headStartedAt != nil { headStartedAt = idleSince }
        }
        rearm()
    }

    // MARK: Deadlines

    /// The current deadline and what it stands for; nil while the server itself is working on a request.
    private func deadline() -> (at: NIODeadline, reason: ConnectionCloseReason)? {
        if readingRequest { return (lastBodyProgress + .interval(limits.bodyTimeout), .bodyTimeout) }
        if requestsInFlight > 0 { return nil }
        if let headStartedAt { return (headStartedAt + .interval(limits.headTimeout), .headTimeout) }
        return (idleSince + .interval(limits.idleTimeout), .idleTimeout)
    }

    private func rearm() {
        guard let context else { return }
        let next = deadline()
        if let next {
            let waitingSince = next.reason == .bodyTimeout ? lastBodyProgress : (headStartedAt ?? idleSince)
            record.waitingOnClientSince.store(waitingSince.uptimeNanoseconds, ordering: .relaxed)
        } else {
            record.waitingOnClientSince.store(ConnectionRecord.busy, ordering: .relaxed)
        }
        // No deadline while the server answers: a pending timer finds none when it fires and stops. A later
        // deadline keeps the timer too (it re-checks when it fires); only an earlier one reschedules, so a
        // kept-alive request costs one reschedule (idle to head), not one per phase.
        guard let at = next?.at else { return }
        if let timerDeadline, timerDeadline <= at { return }
        timer?.cancel()
        timerDeadline = at
        timer = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(deadline: at) { [weak self] in
            self?.deadlineReached()
        }
    }

    private func deadlineReached() {
        timer = nil
        timerDeadline = nil
        guard let context, let next = deadline() else { return }
        if next.reason == .bodyTimeout && !readRequested {
            // Tollgate is not reading the body yet (backpressure): the wait is not the client's.
            lastBodyProgress = now
        } else if next.at <= now {
            connectionGuard.count(next.reason)
            connectionGuard.logger.debug("closing a connection that made no progress", metadata: ["reason": "\(next.reason.rawValue)"])
            context.close(promise: nil)
            return
        }
        rearm()
    }
}

extension TimeAmount {
    static func interval(_ seconds: TimeInterval) -> TimeAmount { .nanoseconds(Int64(seconds * 1_000_000_000)) }
}

/// First in the pipeline: sees every raw read (progress, whatever the HTTP decoder makes of it) and every
/// read request, and registers the connection with the ``ConnectionGuard``.
final class ConnectionActivityHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData
    let watch: ConnectionWatch

    init(watch: ConnectionWatch) {
        self.watch = watch
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { watch.connectionStarted(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        watch.connectionEnded()
    }

    func channelActive(context: ChannelHandlerContext) {
        watch.connectionStarted(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        watch.connectionEnded()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        watch.bytesArrived()
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        watch.readRequestedFromSocket()
        context.read()
    }
}

/// Right after the HTTP decoder: sees where each request and response starts and ends, and answers a request
/// that is not valid HTTP with an RFC 6749 error object (Hummingbird's own answer is an empty 400).
final class RequestPhaseHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart
    let watch: ConnectionWatch

    /// Set once a CONNECT arrived: nothing more is read from the connection, which closes after the answer.
    private var refusingConnect = false

    init(watch: ConnectionWatch) {
        self.watch = watch
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refusingConnect else { return }
        switch unwrapInboundIn(data) {
        case .head(let head) where head.method == .CONNECT:
            refuseConnect(context: context)
            return
        case .head: watch.requestHeadReceived()
        case .body: break
        case .end: watch.requestEnded()
        }
        context.fireChannelRead(data)
    }

    /// Tollgate is no forward proxy: a CONNECT gets 405 and the connection closes (the HTTP decoder takes the bytes
    /// after a CONNECT for a tunnel, so no further request could be read from it). The response to a CONNECT has no
    /// body (NIO's encoder drops it, as RFC 9110 §9.3.6 asks of a 2xx), so it carries no content type either. A
    /// CONNECT pipelined behind an unanswered request just closes the connection.
    private func refuseConnect(context: ChannelHandlerContext) {
        refusingConnect = true
        guard watch.isBetweenRequests else {
            context.close(promise: nil)
            return
        }
        let headers = HTTPHeaders([("Allow", "GET, POST, DELETE, OPTIONS"), ("Cache-Control", "no-store"), ("Connection", "close")])
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .methodNotAllowed, headers: headers))), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { watch.responseEnded() }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Mid-request (or with answers still being written) the error is Hummingbird's to handle.
        guard error is HTTPParserError, watch.isBetweenRequests else {
            context.fireErrorCaught(error)
            return
        }
        let body = ByteBuffer(string: Responses.flatJSON(["error": "invalid_request", "error_description": "the request is not valid HTTP/1.1"]))
        let headers = HTTPHeaders([("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Connection", "close"),
                                   ("Content-Length", String(body.readableBytes))])
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .badRequest, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}

/// Hummingbird's HTTP/1.1 channel with the ``ConnectionGuard``'s two handlers around its HTTP decoder.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let http1: HTTP1Channel
    let connectionGuard: ConnectionGuard

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let connectionGuard = connectionGuard
        return http1.setup(channel: channel, logger: logger).flatMapThrowing { value in
            try connectionGuard.watch(channel)
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await http1.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with the connection limit and the head, body and idle timeouts of `connectionGuard`.
    static func guardedHTTP1(_ connectionGuard: ConnectionGuard) -> HTTPServerBuilder {
        .init { responder in
            GuardedHTTP1Channel(http1: HTTP1Channel(responder: responder), connectionGuard: connectionGuard)
        }
    }
}
