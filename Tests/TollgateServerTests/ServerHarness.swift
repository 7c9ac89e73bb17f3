import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import TollgateCore
import TollgateServer
import TollgateTestSupport

/// A store with a server, provider and client (``Harness``) plus the HTTP face over it.
struct ServerHarness {
    let h: Harness
    let server: TollgateHTTPServer
    static let base = "http://127.0.0.1:8080"

    /// Registration limits far above what any test sends, so only the tests of the limits meet them.
    static let generousRegistrationLimit = RateLimit(burst: 10_000, perMinute: 10_000)

    init(_ h: Harness, maxBodyBytes: Int = 1 << 20, registrationLimit: RateLimit = generousRegistrationLimit,
         registrationGlobalLimit: RateLimit = generousRegistrationLimit) {
        self.h = h
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, publicURL: Self.base, maxBodyBytes: maxBodyBytes, gatewayTimeout: 5)
        configuration.registrationLimitPerAddress = registrationLimit
        configuration.registrationLimitGlobal = registrationGlobalLimit
        server = TollgateHTTPServer(tollgate: h.tollgate, configuration: configuration, logger: Harness.logger)
    }

    /// Runs `body` against the application in memory (no sockets).
    func test<T>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        defer { Task { await server.shutdown() } }
        return try await server.makeApplication().test(.router, body)
    }

    /// Runs `body` against the application on a real loopback socket.
    func live<T>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        defer { Task { await server.shutdown() } }
        return try await server.makeApplication().test(.live, body)
    }

    static func with<T>(accessTTL: Int = 3600, confidentialClient: Bool = false, upstreamMCP: String? = nil,
                        _ body: (ServerHarness) async throws -> T) async throws -> T {
        try await Harness.with(accessTTL: accessTTL, confidentialClient: confidentialClient,
                               upstreamMCPURL: upstreamMCP ?? "http://127.0.0.1:9/mcp") { h in
            try await body(ServerHarness(h))
        }
    }
}

extension TestClientProtocol {
    /// POSTs `json` to a server's dynamic registration endpoint (RFC 7591).
    func register(_ json: String, slug: String = "files") async throws -> TestResponse {
        try await execute(uri: "/oauth/\(slug)/register", method: .post, headers: [.contentType: "application/json"],
                          body: ByteBuffer(string: json))
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]) ?? [:] }
    func header(_ name: String) -> String? { headers[HTTPField.Name(name)!] }
}

/// Form and query helpers.
enum Form {
    static func body(_ pairs: [(String, String)]) -> ByteBuffer { ByteBuffer(string: FormEncoding.encode(pairs)) }
    static let headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
    static func query(_ url: String) -> [String: String] {
        let q = URLComponents(string: url)?.percentEncodedQuery ?? ""
        return Dictionary(FormEncoding.decode(q), uniquingKeysWith: { a, _ in a })
    }
    static func basic(_ id: String, _ secret: String) -> String {
        "Basic " + Data((FormEncoding.encodeComponent(id) + ":" + FormEncoding.encodeComponent(secret)).utf8).base64EncodedString()
    }
}
