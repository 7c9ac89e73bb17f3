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
    /// The public URL this harness's server announces (``base`` unless given).
    let publicURL: String
    /// The core's log lines, when `with` was given a handler to record them in.
    var coreLog: RecordingLogHandler?
    static let base = "http://127.0.0.1:8080"

    /// Registration (and client metadata document) limits far above what any test sends, so only the tests of the
    /// limits meet them.
    static let generousRegistrationLimit = RateLimit(burst: 10_000, perMinute: 10_000)

    /// - Parameters:
    ///   - publicURL: the server's public URL; an `https` one switches the consent cookies to `__Host-` names.
    ///   - logger: where the server logs (tests that look at log lines record them).
    ///   - configure: changes to the test configuration (connection limits, forwarded headers, …).
    init(_ h: Harness, maxBodyBytes: Int = 1 << 20, publicURL: String = Self.base, registrationLimit: RateLimit = generousRegistrationLimit,
         registrationGlobalLimit: RateLimit = generousRegistrationLimit, clientMetadataLimit: RateLimit = generousRegistrationLimit,
         clientMetadataGlobalLimit: RateLimit = generousRegistrationLimit, logger: Logger = Harness.logger,
         configure: (inout ServerConfiguration) -> Void = { _ in }) {
        self.h = h
        self.publicURL = publicURL
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, publicURL: publicURL, maxBodyBytes: maxBodyBytes, gatewayTimeout: 5)
        configuration.registrationLimitPerAddress = registrationLimit
        configuration.registrationLimitGlobal = registrationGlobalLimit
        configuration.authorizationLimitPerAddress = Self.generousRegistrationLimit
        configuration.authorizationLimitGlobal = Self.generousRegistrationLimit
        configuration.clientMetadataLimitPerAddress = clientMetadataLimit
        configuration.clientMetadataLimitGlobal = clientMetadataGlobalLimit
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

    /// - Parameter publicURL: the server's public URL; an `https` one switches the consent cookies to `__Host-` names.
    static func with<T>(accessTTL: Int = 3600, confidentialClient: Bool = false, upstreamMCP: String? = nil, publicURL: String = base,
                        serverScopes: [String] = ["files.read"], providerScopes: [String] = ["openid", "offline_access"],
                        logger: Logger = Harness.logger, coreLog: RecordingLogHandler? = nil,
                        configure: (inout ServerConfiguration) -> Void = { _ in },
                        clientMetadataFetcher: (any ClientMetadataFetcher)? = nil,
                        _ body: (ServerHarness) async throws -> T) async throws -> T {
        try await Harness.with(accessTTL: accessTTL, confidentialClient: confidentialClient,
                               upstreamMCPURL: upstreamMCP ?? "http://127.0.0.1:9/mcp", serverScopes: serverScopes,
                               providerScopes: providerScopes, clientMetadataFetcher: clientMetadataFetcher,
                               logger: coreLog.map { RecordingLogHandler.logger($0) } ?? Harness.logger) { h in
            var harness = ServerHarness(h, publicURL: publicURL, logger: logger, configure: configure)
            harness.coreLog = coreLog
            return try await body(harness)
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

/// One browser's cookies: what its responses set (name and value; attributes are for the tests to read
/// in ``setCookies``), sent back as one `Cookie` header.
struct CookieJar {
    private(set) var cookies: [(name: String, value: String)] = []
    /// Every `Set-Cookie` value received, in order, attributes included.
    private(set) var setCookies: [String] = []

    /// Keeps the cookies a response sets (a new value replaces the old one of the same name).
    mutating func store(_ response: TestResponse) {
        for field in response.headers[values: .setCookie] {
            setCookies.append(field)
            guard let pair = field.split(separator: ";").first, let eq = pair.firstIndex(of: "=") else { continue }
            let name = String(pair[..<eq]).trimmingCharacters(in: .whitespaces), value = String(pair[pair.index(after: eq)...])
            cookies.removeAll { $0.name == name }
            cookies.append((name, value))
        }
    }

    mutating func set(_ name: String, _ value: String) {
        cookies.removeAll { $0.name == name }
        cookies.append((name, value))
    }

    func value(_ name: String) -> String? { cookies.first { $0.name == name }?.value }

    /// The `Set-Cookie` value last received for `name`, attributes included.
    func setCookie(_ name: String) -> String? { setCookies.last { $0.hasPrefix(name + "=") } }

    /// The request headers carrying the jar (none when it is empty).
    var headers: HTTPFields {
        cookies.isEmpty ? [:] : [.cookie: cookies.map { "\($0.name)=\($0.value)" }.joined(separator: "; ")]
    }
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
