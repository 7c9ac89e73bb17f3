import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import TollgateCore
@testable import TollgateServer
import TollgateTestSupport

/// The gateway forwards nothing that could leave the MCP URL once a lenient backend reads it, and nothing
/// about the client that Tollgate did not see itself.
@Suite("MCP gateway hardening")
struct GatewayHardeningTests {
    func withGateway(configure: @escaping (inout ServerConfiguration) -> Void = { _ in },
                     _ body: @escaping @Sendable (ServerHarness, any TestClientProtocol) async throws -> Void) async throws {
        let (backend, task) = try await EchoBackend.start()
        defer { task.cancel() }
        try await ServerHarness.with(upstreamMCP: backend, configure: configure) { s in
            try await s.live { client in try await body(s, client) }
        }
    }

    func call(_ client: any TestClientProtocol, _ token: String, path: String = "/mcp/files", extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json", .authorization: "Bearer \(token)"]
        for field in extra { headers.append(field) }
        return try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: #"{"jsonrpc":"2.0","id":1}"#))
    }

    static let escapes = [
        // Tomcat-style path parameters after a dot segment.
        "/mcp/files/..;/admin", "/mcp/files/.;/admin", "/mcp/files/..;jsessionid=1/admin", "/mcp/files/a/..;x=y/..;/admin",
        "/mcp/files/%2e%2e;/admin", "/mcp/files/..%3b/admin", "/mcp/files/%2e%2e%3Bx/admin",
        // Double (and deeper) encoded dot segments and separators.
        "/mcp/files/%252e%252e/admin", "/mcp/files/%252E%252E/admin", "/mcp/files/%25%32%65%25%32%65/admin", "/mcp/files/%25%32%65/admin",
        "/mcp/files/%25252e%25252e/admin", "/mcp/files/.%252e/admin", "/mcp/files/..%252fadmin", "/mcp/files/..%255cadmin",
        "/mcp/files/%252e%252e%253b/admin", "/mcp/files/%2525252525252e%2525252525252e/admin",
        // Backslashes and NULs, raw or encoded.
        "/mcp/files/..%5cadmin", "/mcp/files/%2e%2e%255c..%255cadmin", "/mcp/files/..%00/admin", "/mcp/files/%2e%2e%2500/admin",
    ]

    @Test func pathEscapesThroughParametersAndRepeatedEncodingAreRefusedBeforeForwarding() async throws {
        try await withGateway { s, client in
            let (_, pair) = try await s.h.makeGrant()
            for path in Self.escapes {
                let r = try await call(client, pair.accessToken.value, path: path)
                #expect(r.status == .badRequest, "\(path): \(r.status) \(r.text)")
                #expect(r.json["error"] as? String == "invalid_request", "\(path): \(r.text)")
                #expect(r.json["landed"] == nil, "\(path) reached the backend at \(r.json["landed"] ?? "")")
            }
            // A raw backslash is not even valid HTTP: the request parser refuses it before any routing.
            let port = try #require(client.port)
            let raw = try await RawConnection.exchange(port: port, "POST /mcp/files/..\\admin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                                       + "Authorization: Bearer \(pair.accessToken.value)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            #expect(raw.status == 400, "\(raw.response)")
            #expect(!raw.response.contains("landed"))
            // Ordinary segments, also with parameters or escapes that decode to nothing dangerous, still pass.
            for (path, landed) in [("/mcp/files/tools;v=2/list", "/mcp/tools;v=2/list"), ("/mcp/files/a%20b", "/mcp/a%20b"),
                                   ("/mcp/files/...", "/mcp/..."), ("/mcp/files/x..;y", "/mcp/x..;y")] {
                let r = try await call(client, pair.accessToken.value, path: path)
                #expect(r.status == .ok, "\(path): \(r.status) \(r.text)")
                #expect(r.json["landed"] as? String == landed, "\(path): \(r.text)")
            }
        }
    }

    @Test func subPathPolicyDecodesRepeatedlyButBoundedly() {
        #expect(SubPathPolicy.staysBelow("tools/list"))
        #expect(!SubPathPolicy.staysBelow("%252e%252e"))
        // Encoded more deeply than the policy decodes: refused rather than trusted.
        let deep = (0..<SubPathPolicy.maxDecodingRounds + 1).reduce("x") { encoded, _ in encoded.replacingOccurrences(of: "%", with: "%25") + "%41" }
        #expect(!SubPathPolicy.staysBelow(deep))
        #expect(!SubPathPolicy.staysBelow("100%"), "a malformed escape")
    }

    static let clientClaims: HTTPFields = [
        HTTPField.Name("X-Forwarded-For")!: "10.9.8.7", HTTPField.Name("Forwarded")!: "for=10.9.8.7;proto=https;host=admin.internal",
        HTTPField.Name("X-Forwarded-Host")!: "admin.internal", HTTPField.Name("X-Forwarded-Proto")!: "https",
        HTTPField.Name("X-Forwarded-Port")!: "8443", HTTPField.Name("X-Real-IP")!: "10.9.8.7",
        HTTPField.Name("X-Forwarded-Prefix")!: "/admin",
    ]

    @Test func clientForwardingHeadersAreDroppedByDefault() async throws {
        try await withGateway { s, client in
            let (_, pair) = try await s.h.makeGrant()
            let r = try await call(client, pair.accessToken.value, extra: Self.clientClaims)
            #expect(r.status == .ok)
            let seen = try #require(r.json["headers"] as? [String: String])
            for name in ["x-forwarded-for", "forwarded", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "x-real-ip", "x-forwarded-prefix"] {
                #expect(seen[name] == nil, "\(name) reached the backend: \(seen[name] ?? "")")
            }
            #expect(seen["content-type"] == "application/json", "other headers still pass")
        }
    }

    @Test func forwardedHeadersSetModeReplacesTheClientsClaimsWithWhatTollgateSaw() async throws {
        try await withGateway(configure: { $0.forwardedHeaders = .set }) { s, client in
            let (_, pair) = try await s.h.makeGrant()
            let r = try await call(client, pair.accessToken.value, extra: Self.clientClaims)
            #expect(r.status == .ok)
            let seen = try #require(r.json["headers"] as? [String: String])
            // The test client connects from 127.0.0.1; the public URL is ServerHarness.base.
            #expect(seen["x-forwarded-for"] == "127.0.0.1")
            #expect(seen["x-real-ip"] == "127.0.0.1")
            #expect(seen["x-forwarded-proto"] == "http")
            #expect(seen["x-forwarded-host"] == "127.0.0.1:8080")
            #expect(seen["x-forwarded-port"] == "8080")
            #expect(seen["forwarded"] == #"for=127.0.0.1;host="127.0.0.1:8080";proto=http"#)
            #expect(seen["x-forwarded-prefix"] == nil)
        }
    }

    @Test func forwardedValuesForIPv6PeersAndDefaultPorts() {
        let seen = ForwardedHeaders(peer: try? SocketAddress(ipAddress: "::1", port: 5000), publicBaseURL: "https://mcp.example.com")
        let fields = Dictionary(seen.fields.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        #expect(fields["Forwarded"] == #"for="[::1]";host=mcp.example.com;proto=https"#)
        #expect(fields["X-Forwarded-For"] == "::1")
        #expect(fields["X-Forwarded-Port"] == "443")
        #expect(fields["X-Forwarded-Host"] == "mcp.example.com")
    }
}
