import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
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

    /// - Parameters:
    ///   - configure: changes to the test configuration (connection limits, forwarded headers, …).
    ///   - logger: where the server logs (tests that look at log lines record them).
    init(_ h: Harness, maxBodyBytes: Int = 1 << 20, logger: Logger = Harness.logger,
         configure: (inout ServerConfiguration) -> Void = { _ in }) {
        self.h = h
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, publicURL: Self.base, maxBodyBytes: maxBodyBytes, gatewayTimeout: 5)
        configure(&configuration)
        server = TollgateHTTPServer(tollgate: h.tollgate, configuration: configuration, logger: logger)
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

    static func with<T>(accessTTL: Int = 3600, confidentialClient: Bool = false, upstreamMCP: String? = nil, logger: Logger = Harness.logger,
                        configure: (inout ServerConfiguration) -> Void = { _ in },
                        _ body: (ServerHarness) async throws -> T) async throws -> T {
        try await Harness.with(accessTTL: accessTTL, confidentialClient: confidentialClient,
                               upstreamMCPURL: upstreamMCP ?? "http://127.0.0.1:9/mcp") { h in
            try await body(ServerHarness(h, logger: logger, configure: configure))
        }
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
