import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import TollgateCore
import TollgateStores
import TollgateSQLite
import TollgateServer
import TollgateTestSupport

/// An MCP server stand-in: echoes what it received, streams server-sent events, or stalls.
struct EchoBackend {
    static func start() async throws -> (url: String, task: Task<Void, Error>) {
        let router = Router()
        router.post("/mcp") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            var seen: [String: String] = [:]
            for field in request.headers { seen[field.name.canonicalName] = field.value }
            let json = try JSONSerialization.data(withJSONObject: ["headers": seen, "body": String(buffer: body), "path": request.uri.description])
            return Response(status: .ok, headers: [.contentType: "application/json", HTTPField.Name("Mcp-Session-Id")!: "session-42",
                                                   .connection: "keep-alive", HTTPField.Name("Keep-Alive")!: "timeout=5"],
                            body: .init(byteBuffer: ByteBuffer(bytes: json)))
        }
        router.get("/mcp/stream") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/event-stream"], body: ResponseBody { writer in
                for i in 0..<3 {
                    try await writer.write(ByteBuffer(string: "event: message\ndata: {\"n\":\(i)}\n\n"))
                    try await Task.sleep(nanoseconds: 50_000_000)
                }
                try await writer.finish(nil)
            })
        }
        router.post("/mcp/fail") { _, _ in Response(status: .internalServerError) }
        // Anything else: says which path it was asked for (where a forwarded request landed).
        router.post("/mcp/**") { request, _ in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(string: #"{"landed":"\#(request.uri.path)"}"#)))
        }
        router.post("/mcp/slow") { _, _ in
            try await Task.sleep(nanoseconds: 1_500_000_000)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"slow":true}"#)))
        }
        return try await serve(router)
    }

    /// Serves `router` on a free loopback port; returns its `/mcp` URL and the task to cancel when done.
    static func serve(_ router: Router<BasicRequestContext>) async throws -> (url: String, task: Task<Void, Error>) {
        var quiet = Logger(label: "test.backend")
        quiet.logLevel = .critical
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { continuation.yield($0.localAddress?.port ?? 0); continuation.finish() }, logger: quiet)
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var port = 0
        for await p in stream { port = p }
        return ("http://127.0.0.1:\(port)/mcp", task)
    }
}

@Suite("MCP gateway")
struct GatewayTests {
    static let challengePrefix = "Bearer error=\"invalid_token\""
    static let resourceMetadata = "resource_metadata=\"\(ServerHarness.base)/.well-known/oauth-protected-resource/mcp/files\""

    func withGateway(accessTTL: Int = 3600, _ body: @escaping @Sendable (ServerHarness, any TestClientProtocol) async throws -> Void) async throws {
        let (backend, task) = try await EchoBackend.start()
        defer { task.cancel() }
        try await ServerHarness.with(accessTTL: accessTTL, upstreamMCP: backend) { s in
            try await s.live { client in try await body(s, client) }
        }
    }

    func call(_ client: any TestClientProtocol, _ token: String?, path: String = "/mcp/files", extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        for f in extra { headers.append(f) }
        return try await client.execute(uri: path, method: .post, headers: headers,
                                        body: ByteBuffer(string: #"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#))
    }

    func expectChallenge(_ r: TestResponse, _ note: String = "") {
        #expect(r.status == .unauthorized, "\(note)")
        let challenge = r.header("WWW-Authenticate") ?? ""
        #expect(challenge.hasPrefix(Self.challengePrefix), "\(note): \(challenge)")
        #expect(challenge.contains(Self.resourceMetadata), "\(note): \(challenge)")
    }

    @Test func missingUnknownExpiredRevokedAndForeignTokensGet401WithTheChallenge() async throws {
        try await withGateway { s, client in
            expectChallenge(try await call(client, nil), "missing")
            expectChallenge(try await call(client, "tg_at_unknown"), "unknown")
            let (grantID, pair) = try await s.h.makeGrant()
            _ = try await s.h.tollgate.admin.addServer(NewServer(slug: "mail", upstreamMCPURL: "http://127.0.0.1:9/mcp"))
            let foreign = try await call(client, pair.accessToken.value, path: "/mcp/mail")
            #expect(foreign.status == .unauthorized)
            #expect(try await call(client, pair.accessToken.value).status == .ok)
            // A revoke from another process (another core instance on the same file) counts on the very next request.
            let other = try await Tollgate.open(.sqlite(path: s.h.databasePath), environment: [:])
            _ = try await other.admin.revokeGrant(id: grantID)
            await other.shutdown()
            expectChallenge(try await call(client, pair.accessToken.value), "revoked")
            let (_, fresh) = try await s.h.makeGrant(subject: "bob")
            s.h.clock.advance(by: 3601)
            expectChallenge(try await call(client, fresh.accessToken.value), "expired")
            let nowhere = try await call(client, fresh.accessToken.value, path: "/mcp/nowhere")
            #expect(nowhere.status == .notFound)
        }
    }

    @Test func forwardsWithTheUpstreamTokenAndNeverTheProxyToken() async throws {
        try await withGateway { s, client in
            let (grantID, pair) = try await s.h.makeGrant()
            let upstream = try #require(try await s.h.tollgate.refresher.credential(of: grantID))
            let r = try await call(client, pair.accessToken.value, path: "/mcp/files?x=1", extra: [
                HTTPField.Name("Mcp-Session-Id")!: "session-42", HTTPField.Name("MCP-Protocol-Version")!: "2026-07-28",
                .cookie: "tg_browser=abc",
                HTTPField.Name("Proxy-Authorization")!: "Basic eA==", .te: "trailers"])
            #expect(r.status == .ok)
            let seen = try #require(r.json["headers"] as? [String: String])
            #expect(seen["authorization"] == "Bearer \(upstream.accessToken.value)")
            #expect(seen["mcp-session-id"] == "session-42")
            #expect(seen["mcp-protocol-version"] == "2026-07-28")
            #expect(seen["cookie"] == nil)
            #expect(seen["proxy-authorization"] == nil)
            #expect(seen["te"] == nil)
            #expect(!r.text.contains(pair.accessToken.value))
            #expect(r.json["path"] as? String == "/mcp?x=1")
            #expect(r.json["body"] as? String == #"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
            #expect(r.header("Mcp-Session-Id") == "session-42")
            #expect(r.header("Keep-Alive") == nil)
        }
    }

    /// Sub-paths are forwarded below the server's MCP URL, never outside it: dot segments, raw or
    /// percent-encoded, are refused before anything reaches the backend.
    @Test func subPathsStayBelowTheMCPURL() async throws {
        try await withGateway { s, client in
            let (_, pair) = try await s.h.makeGrant()
            let below = try await call(client, pair.accessToken.value, path: "/mcp/files/tools/extra")
            #expect(below.status == .ok)
            #expect(below.json["landed"] as? String == "/mcp/tools/extra")
            for path in ["/mcp/files/../admin", "/mcp/files/a/../../admin", "/mcp/files/%2e%2e/admin", "/mcp/files/%2E./admin",
                         "/mcp/files/./x", "/mcp/files/..%2fadmin", "/mcp/files/%2e%2e%2fadmin"] {
                let r = try await call(client, pair.accessToken.value, path: path)
                #expect(r.status == .badRequest, "\(path): \(r.status) \(r.text)")
                #expect(r.json["landed"] == nil, "\(path) reached the backend at \(r.json["landed"] ?? "")")
            }
        }
    }

    @Test func serverSentEventsAreStreamed() async throws {
        try await withGateway { s, client in
            let (_, pair) = try await s.h.makeGrant()
            let r = try await client.execute(uri: "/mcp/files/stream", method: .get,
                                             headers: [.authorization: "Bearer \(pair.accessToken.value)", .accept: "text/event-stream"])
            #expect(r.status == .ok)
            #expect(r.header("Content-Type") == "text/event-stream")
            // A reverse proxy in front (nginx) must not buffer the stream.
            #expect(r.header("X-Accel-Buffering") == "no")
            #expect(r.text.components(separatedBy: "event: message").count == 4)
            #expect(r.text.contains(#"data: {"n":2}"#))
        }
    }

    @Test func anExpiredUpstreamTokenIsRefreshedOnceBeforeForwarding() async throws {
        try await withGateway(accessTTL: 60) { s, client in
            let (grantID, pair) = try await s.h.makeGrant()
            let before = try #require(try await s.h.tollgate.refresher.credential(of: grantID))
            s.h.clock.advance(by: 120)
            await s.h.setBehaviour { $0.tokenDelay = 0.2 }
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<20 { group.addTask { try await call(client, pair.accessToken.value).status.code } }
                for try await status in group { #expect(status == 200) }
            }
            #expect(await s.h.stats().refreshCalls == 1)
            let after = try #require(try await s.h.tollgate.refresher.credential(of: grantID))
            #expect(after.accessToken != before.accessToken)
            let r = try await call(client, pair.accessToken.value)
            #expect((r.json["headers"] as? [String: String])?["authorization"] == "Bearer \(after.accessToken.value)")
        }
    }

    @Test func aRefusedUpstreamRefreshIs401AndATransientOneIs503() async throws {
        try await withGateway(accessTTL: 60) { s, client in
            let (grantID, pair) = try await s.h.makeGrant()
            let (_, other) = try await s.h.makeGrant(subject: "bob")
            s.h.clock.advance(by: 120)
            await s.h.setBehaviour { $0.refreshFailure = "http500" }
            let transient = try await call(client, other.accessToken.value)
            #expect(transient.status == .serviceUnavailable)
            #expect(transient.header("Retry-After") != nil)
            await s.h.setBehaviour { $0.refreshFailure = "invalid_grant" }
            expectChallenge(try await call(client, pair.accessToken.value), "invalid_grant upstream")
            #expect(try await s.h.grant(grantID).state == .needsReauth)
        }
    }

    @Test func retryAfterIsTheBackoffInForce() async throws {
        try await withGateway(accessTTL: 60) { s, client in
            let (_, pair) = try await s.h.makeGrant()
            s.h.clock.advance(by: 120)
            await s.h.setBehaviour { $0.refreshFailure = "http500" }
            var seen: [String] = []
            for _ in 0..<4 {
                let r = try await call(client, pair.accessToken.value)
                #expect(r.status == .serviceUnavailable)
                let retryAfter = r.header("Retry-After") ?? "missing"
                seen.append(retryAfter)
                // Within the backoff the answer says how much of it is left (rounded up to whole seconds).
                s.h.clock.advance(by: 0.5)
                let early = try await call(client, pair.accessToken.value)
                #expect(early.status == .serviceUnavailable)
                #expect(early.header("Retry-After") == retryAfter)
                s.h.clock.advance(by: Double(Int(retryAfter) ?? 0))
            }
            #expect(seen == ["1", "2", "4", "8"])
            #expect(await s.h.stats().refreshCalls == 4)
        }
    }

    @Test func anUnreachableBackendIs502() async throws {
        try await ServerHarness.with(upstreamMCP: "http://127.0.0.1:9/mcp") { s in
            let (_, pair) = try await s.h.makeGrant()
            try await s.live { client in
                let r = try await client.execute(uri: "/mcp/files", method: .post, headers: [.authorization: "Bearer \(pair.accessToken.value)"],
                                                 body: ByteBuffer(string: "{}"))
                #expect(r.status == .badGateway)
                #expect(!r.text.contains("9/mcp"))
            }
        }
    }

    @Test func oversizedBodiesAreRefused() async throws {
        try await withGateway { s, client in
            let (_, pair) = try await s.h.makeGrant()
            let r = try await client.execute(uri: "/mcp/files", method: .post, headers: [.authorization: "Bearer \(pair.accessToken.value)"],
                                             body: ByteBuffer(repeating: 0x20, count: (1 << 20) + 10))
            #expect(r.status == .contentTooLarge)
        }
    }
}

@Suite("tollgate serve process")
struct ServeProcessTests {
    @Test func sigtermLetsTheInFlightRequestFinishAndExitsZero() async throws {
        let binary = try CLI.binary()
        let (backend, task) = try await EchoBackend.start()
        defer { task.cancel() }
        try await Harness.with(upstreamMCPURL: backend) { h in
            let (_, pair) = try await h.makeGrant()
            let serve = try BackgroundCommand(binary, ["serve", "--db", h.databasePath, "--listen", "127.0.0.1:0", "--log-level", "error"])
            let base = serve.url
            #expect(base.hasPrefix("http://127.0.0.1:"))
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            var request = HTTPClientRequest(url: base + "/mcp/files/slow")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(pair.accessToken.value)")
            request.body = .bytes(ByteBuffer(string: "{}"))
            let inFlight = Task { try await http.execute(request, timeout: .seconds(10)) }
            try await Task.sleep(nanoseconds: 400_000_000)
            serve.process.terminate()   // SIGTERM while the request is in flight
            let response = try await inFlight.value
            let body = try await response.body.collect(upTo: 1024)
            #expect(response.status.code == 200)
            #expect(String(buffer: body) == #"{"slow":true}"#)
            try await http.shutdown()
            #expect(serve.stop() == 0)
            // The store is consistent and usable after the shutdown.
            _ = try await h.tollgate.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files")
        }
    }
}
