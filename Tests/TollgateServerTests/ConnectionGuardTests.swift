import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
@testable import TollgateServer

/// The connection guard's timeouts and limit on embedded channels, whose event loop runs on a virtual clock.
@Suite("Connection guard")
struct ConnectionGuardTests {
    static let limits = ConnectionLimits(maxConnections: 2, headTimeout: 10, bodyTimeout: 5, idleTimeout: 30)

    func makeGuard(_ limits: ConnectionLimits = Self.limits) -> ConnectionGuard {
        var quiet = Logger(label: "test.connections")
        quiet.logLevel = .critical
        return ConnectionGuard(limits: limits, logger: quiet)
    }

    /// A connected channel with the HTTP/1.1 server pipeline and the guard's handlers.
    func connect(_ connectionGuard: ConnectionGuard, loop: EmbeddedEventLoop = EmbeddedEventLoop()) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: false)
        try connectionGuard.watch(channel)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    func send(_ channel: EmbeddedChannel, _ text: String) throws {
        try channel.writeInbound(ByteBuffer(string: text))
        while try channel.readInbound(as: HTTPServerRequestPart.self) != nil {}
    }

    func respond(_ channel: EmbeddedChannel, end: Bool = true) throws {
        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["transfer-encoding": "chunked"])))
        if end { try channel.writeOutbound(HTTPServerResponsePart.end(nil)) }
        while try channel.readOutbound(as: ByteBuffer.self) != nil {}
    }

    /// Advances the clock to just before a deadline (the connection is still open), then just past it (closed, for `reason`).
    func expectClosed(_ channel: EmbeddedChannel, by connectionGuard: ConnectionGuard, for reason: ConnectionCloseReason,
                      openFor justBefore: TimeAmount, thenClosedWithin margin: TimeAmount, _ note: Comment) {
        channel.embeddedEventLoop.advanceTime(by: justBefore)
        #expect(channel.isActive, note)
        channel.embeddedEventLoop.advanceTime(by: margin)
        #expect(!channel.isActive, note)
        #expect(connectionGuard.closedCount(reason) == 1)
    }

    @Test func aHeadThatNeverCompletesIsClosedAtTheHeadTimeoutFromTheConnectionsStart() throws {
        let connectionGuard = makeGuard()
        let silent = try connect(connectionGuard)
        let partial = try connect(connectionGuard)
        silent.embeddedEventLoop.advanceTime(by: .seconds(4))
        try send(partial, "GET /healthz HTTP/1.1\r\nHost: a\r\n")
        partial.embeddedEventLoop.advanceTime(by: .seconds(4))
        try send(partial, "X-Slow: 1\r\n")
        partial.embeddedEventLoop.advanceTime(by: .seconds(5))
        silent.embeddedEventLoop.advanceTime(by: .seconds(5))
        #expect(partial.isActive && silent.isActive, "9 s: still within the head timeout")
        partial.embeddedEventLoop.advanceTime(by: .milliseconds(1100))
        silent.embeddedEventLoop.advanceTime(by: .milliseconds(1100))
        #expect(!partial.isActive, "a trickled head does not extend its deadline")
        #expect(!silent.isActive)
        #expect(connectionGuard.closedCount(.headTimeout) == 2)
        #expect(connectionGuard.openConnections == 0)
    }

    @Test func aBodyThatStallsWhileTheServerWaitsForItIsClosedAtTheBodyTimeout() throws {
        let connectionGuard = makeGuard()
        let channel = try connect(connectionGuard)
        try send(channel, "POST /oauth/files/token HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345")
        channel.read()
        channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        try send(channel, "67")
        channel.read()
        expectClosed(channel, by: connectionGuard, for: .bodyTimeout, openFor: .seconds(4), thenClosedWithin: .milliseconds(1100),
                     "progress moved the deadline")
    }

    @Test func aBodyTheServerIsNotReadingYetIsNotTheClientsStall() throws {
        let connectionGuard = makeGuard()
        let channel = try connect(connectionGuard)
        try send(channel, "POST /mcp/files HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345")
        // No read requested: the handler is busy elsewhere (backpressure), so the client is not to blame.
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(channel.isActive)
        channel.read()
        channel.embeddedEventLoop.advanceTime(by: .seconds(11))
        #expect(!channel.isActive)
        #expect(connectionGuard.closedCount(.bodyTimeout) == 1)
    }

    @Test func aStreamingResponseIsNeverTimedOutAndTheIdleTimeoutFollowsItsEnd() throws {
        let connectionGuard = makeGuard()
        let channel = try connect(connectionGuard)
        try send(channel, "GET /mcp/files HTTP/1.1\r\nHost: a\r\nAccept: text/event-stream\r\n\r\n")
        try respond(channel, end: false)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1000))
        #expect(channel.isActive, "the server is still answering")
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        expectClosed(channel, by: connectionGuard, for: .idleTimeout, openFor: .seconds(29), thenClosedWithin: .milliseconds(1100),
                     "idle from the response's end")
    }

    @Test func theNextHeadOnAKeptAliveConnectionIsTimedFromItsFirstByte() throws {
        let connectionGuard = makeGuard()
        let channel = try connect(connectionGuard)
        try send(channel, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        try respond(channel)
        channel.embeddedEventLoop.advanceTime(by: .seconds(20))
        try send(channel, "GET /healthz HTTP/1.1\r\n")
        expectClosed(channel, by: connectionGuard, for: .headTimeout, openFor: .milliseconds(9900), thenClosedWithin: .milliseconds(200),
                     "idle 20 s, then 9.9 s into the head")
    }

    @Test func atTheLimitTheConnectionWaitingLongestOnItsClientMakesRoomAndBusyOnesAreKept() throws {
        let connectionGuard = makeGuard()
        let loop = EmbeddedEventLoop()
        let oldestWaiting = try connect(connectionGuard, loop: loop)
        loop.advanceTime(by: .seconds(1))
        let busy = try connect(connectionGuard, loop: loop)
        try send(busy, "GET /mcp/files HTTP/1.1\r\nHost: a\r\n\r\n")
        loop.advanceTime(by: .seconds(1))
        let newcomer = try connect(connectionGuard, loop: loop)
        #expect(!oldestWaiting.isActive, "evicted to make room")
        #expect(busy.isActive && newcomer.isActive)
        #expect(connectionGuard.closedCount(.evicted) == 1)
        try send(newcomer, "GET /mcp/files HTTP/1.1\r\nHost: a\r\n\r\n")
        let refused = try connect(connectionGuard, loop: loop)
        #expect(!refused.isActive, "every open connection is busy")
        #expect(busy.isActive && newcomer.isActive)
        #expect(connectionGuard.closedCount(.refused) == 1)
        #expect(connectionGuard.openConnections == 2)
    }

    @Test func theConnectionLimitStaysWellBelowTheOpenFileLimit() {
        #expect(ConnectionLimits.affordableConnections(requested: 4096, descriptorLimit: 1024) == 480)
        #expect(ConnectionLimits.affordableConnections(requested: 4096, descriptorLimit: 1_048_576) == 4096)
        #expect(ConnectionLimits.affordableConnections(requested: 100, descriptorLimit: 20) == 1)
    }
}
