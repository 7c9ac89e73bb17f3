import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import TollgateCore
@testable import TollgateServer
import TollgateTestSupport

/// Malformed requests at every endpoint, seeded and bounded: bad methods, query strings, content types,
/// headers and bodies (garbled, oversized, of the wrong shape), then protocol-level garbage on raw sockets.
/// Nothing may answer 5xx; every OAuth error must be RFC-shaped (an error object, or an error page where a
/// browser is talking).
@Suite("Endpoint fuzz")
struct EndpointFuzzTests {
    static let seed: UInt64 = ProcessInfo.processInfo.environment["TOLLGATE_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x7011_6A7E
    static let structuredRequests = 3000

    static let paths = [
        "/oauth/files/register", "/oauth/files/authorize", "/oauth/files/consent", "/oauth/files/callback", "/oauth/files/token",
        "/oauth/files/revoke", "/oauth/files/introspect", "/.well-known/oauth-authorization-server/oauth/files",
        "/.well-known/oauth-protected-resource/mcp/files", "/oauth/nope/token", "/oauth/nope/authorize", "/oauth/files/unknown",
        "/.well-known/oauth-authorization-server/oauth/nope", "/mcp/files", "/mcp/files/tools/list", "/mcp/nope", "/healthz", "/metrics",
    ]
    static let methods: [HTTPRequest.Method] = [.get, .post, .put, .delete, .patch, .options, .head, HTTPRequest.Method("BREW")!, HTTPRequest.Method("M-SEARCH")!]
    static let contentTypes = [
        "application/x-www-form-urlencoded", "application/json", "text/plain", "multipart/form-data; boundary=x", "",
        "application/x-www-form-urlencoded; charset=utf-16", "\u{1}garbage", "application/json; charset=\"", "*/*",
    ]
    static let parameterNames = [
        "grant_type", "code", "redirect_uri", "code_verifier", "client_id", "client_secret", "refresh_token", "scope", "token",
        "token_type_hint", "response_type", "state", "code_challenge", "code_challenge_method", "resource", "transaction", "csrf_token",
        "decision", "error", "error_description", "iss",
    ]
    static let nastyValues = [
        "", "%", "%zz", "%ff%fe", "%00", "%C0%AE%C0%AE", "+++", "&&&", "==", "authorization_code", "refresh_token", "S256", "plain", "code",
        "token", "approve", "tg_rt_nope", "tg_at_nope", "tg_code_nope", "http://127.0.0.1:33418/callback", "javascript:alert(1)",
        "é🚀\u{2028}", "<script>", "'\"", "\\", String(repeating: "a", count: 5000), "-1", "99999999999999999999",
    ]

    func pick<T>(_ items: [T], _ rng: inout SeededGenerator) -> T { items[Int(rng.next() % UInt64(items.count))] }
    func chance(_ percent: UInt64, _ rng: inout SeededGenerator) -> Bool { rng.next() % 100 < percent }

    func randomBytes(_ count: Int, _ rng: inout SeededGenerator) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }

    func formText(_ rng: inout SeededGenerator, clientID: String) -> String {
        (0..<Int(rng.next() % 7)).map { _ in
            let name = chance(85, &rng) ? pick(Self.parameterNames, &rng) : pick(Self.nastyValues, &rng)
            let value = chance(15, &rng) ? clientID : pick(Self.nastyValues, &rng)
            return chance(10, &rng) ? name : name + "=" + (chance(50, &rng) ? FormEncoding.encodeComponent(value) : value)
        }.joined(separator: chance(10, &rng) ? ";" : "&")
    }

    func jsonText(_ rng: inout SeededGenerator) -> String {
        pick([
            #"{"redirect_uris": 5}"#, #"{"redirect_uris": [null]}"#, "[]", #""x""#, #"{"client_name": 123, "redirect_uris": ["https://a.example/cb"]}"#,
            #"{"redirect_uris": ["https://a.example/cb"], "grant_types": "authorization_code"}"#, "{", "null", "1e999999",
            #"{"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": {"a": 1}}"#,
            #"{"redirect_uris": ["https://a.example/cb"], "client_name": "\u0000\u0007"}"#,
            String(repeating: "[", count: 3000) + String(repeating: "]", count: 3000),
            #"{"redirect_uris": [""# + String(repeating: "a", count: 3000) + #""]}"#,
            #"{"redirect_uris": ["http://127.0.0.1:1/cb"], "response_types": ["code", "token"], "client_name": "ok"}"#,
        ], &rng)
    }

    func makeRequest(_ rng: inout SeededGenerator, clientID: String) -> (uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) {
        let path = pick(Self.paths, &rng)
        let expected = OAuthEndpoint.method(for: path) ?? (path.hasPrefix("/mcp/") ? .post : .get)
        let method = chance(70, &rng) ? expected : pick(Self.methods, &rng)
        var uri = path
        if chance(60, &rng) {
            uri += "?" + (chance(80, &rng) ? formText(&rng, clientID: clientID) : String(decoding: randomBytes(Int(rng.next() % 40), &rng).map {
                (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "#") ? $0 : UInt8(ascii: "%")
            }, as: UTF8.self))
        }
        var headers: HTTPFields = [:]
        if chance(80, &rng) {
            let type = pick(Self.contentTypes, &rng)
            if let field = HTTPField.Name("Content-Type"), !type.isEmpty { headers[field] = type }
        }
        if chance(40, &rng) {
            headers[.authorization] = pick([
                "Basic !!!", "Basic " + Data(randomBytes(12, &rng)).base64EncodedString(), "Basic " + Data("\(clientID):wrong".utf8).base64EncodedString(),
                "Basic " + Data("%zz:%".utf8).base64EncodedString(), "Bearer", "Bearer tg_at_nope", "Digest x", "bearer   ", "Basic",
            ], &rng)
        }
        if chance(25, &rng) { headers[.cookie] = pick(["tg_browser=x", "tg_browser=; tg_remember_files=garbage", "a", "tg_remember_files=" + String(repeating: "z", count: 3000)], &rng) }
        if chance(10, &rng) { headers[HTTPField.Name("MCP-Protocol-Version")!] = pick(Self.nastyValues, &rng).filter(\.isASCII) }
        var body: ByteBuffer?
        switch rng.next() % 10 {
        case 0: body = nil
        case 1, 2: body = ByteBuffer(bytes: randomBytes(Int(rng.next() % 2000), &rng))
        case 3, 4, 5: body = ByteBuffer(string: formText(&rng, clientID: clientID))
        case 6, 7: body = ByteBuffer(string: jsonText(&rng))
        case 8:
            // Oversized, mostly as a form (what the form endpoints read before looking any further).
            body = ByteBuffer(repeating: UInt8(ascii: "a"), count: pick([65 * 1024, 70 * 1024, (1 << 20) + 1], &rng))
            if chance(60, &rng) { headers[.contentType] = "application/x-www-form-urlencoded" }
        default: body = ByteBuffer()
        }
        return (uri, method, headers, body)
    }

    /// What is wrong with an answer (nil when it is fine).
    static func problem(path: String, method: HTTPRequest.Method, _ r: TestResponse) -> String? {
        if r.status.code >= 500 { return "\(r.status.code)" }
        guard r.status.code >= 400, method != .head, OAuthEndpoint.isOAuthPath(path) else { return nil }
        let browserEndpoint = ["authorize", "consent", "callback"].contains(path.split(separator: "/").last ?? "") && OAuthEndpoint.method(for: path) == method
        if browserEndpoint && r.header("Content-Type")?.hasPrefix("text/html") == true {
            return r.text.contains("Authorization error") ? nil : "an HTML answer that is not the error page"
        }
        guard r.header("Content-Type") == "application/json" else { return "content type \(r.header("Content-Type") ?? "none")" }
        guard r.json["error"] is String, r.json["error_description"] is String else { return "not an RFC 6749 error object: \(r.text.prefix(200))" }
        return nil
    }

    @Test func malformedRequestsAtEveryEndpointNeverAnswer5xxAndAreRFCShaped() async throws {
        try await ServerHarness.with(confidentialClient: true) { s in
            let clientID = s.h.client.client.id
            let (serverErrors, problems) = try await s.test { client in
                var rng = SeededGenerator(seed: Self.seed)
                var serverErrors = 0
                var problems: [String] = []
                for _ in 0..<Self.structuredRequests {
                    let request = makeRequest(&rng, clientID: clientID)
                    let r = try await client.execute(uri: request.uri, method: request.method, headers: request.headers, body: request.body)
                    if r.status.code >= 500 { serverErrors += 1 }
                    if let problem = Self.problem(path: String(request.uri.prefix { $0 != "?" }), method: request.method, r) {
                        problems.append("\(request.method) \(request.uri.prefix(120)): \(problem)")
                    }
                }
                return (serverErrors, problems)
            }
            print("endpoint fuzz: \(Self.structuredRequests) structured requests (seed \(Self.seed)): \(serverErrors) answered 5xx, \(problems.count) not RFC-shaped")
            #expect(serverErrors == 0)
            #expect(problems.isEmpty, "\(problems.prefix(20).joined(separator: "\n"))")
        }
    }

    /// Protocol-level garbage that no HTTP client library would send, each on its own connection.
    static let rawRequests: [String] = {
        var out = [
            "GARBAGE\r\n\r\n", "GET\r\n\r\n", "GET /oauth/files/token HTTP/9.9\r\nHost: a\r\n\r\n",
            "GET /oauth/files/authorize?client_id=%zz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            "POST /oauth/files/token HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n",
            "POST /oauth/files/token HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
            "POST /oauth/files/token HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            "POST /oauth/files/token HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
            "POST /oauth/files/token HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
            "POST /oauth/files/register HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
            "POST /oauth/files/consent HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n",
            "POST /oauth/files/consent HTTP/1.1\r\nHost: a\r\n: empty-name\r\n\r\n",
            "GET /oauth/files/callback HTTP/1.1\r\nHost: a\r\nX-Nul: a\u{0}b\r\n\r\n",
            "GET /oauth/files/callback HTTP/1.1\nHost: a\nConnection: close\n\n",
            "GET /.well-known/oauth-authorization-server/oauth/files HTTP/1.1\r\nHost: a\r\nX-Big: " + String(repeating: "x", count: 100 * 1024) + "\r\n\r\n",
            "GET /oauth/files/authorize?" + String(repeating: "a", count: 100 * 1024) + " HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            "GET /oauth/files/authorize HTTP/1.1\r\nHost: a\r\n" + String(repeating: "X-Many: 1\r\n", count: 1200) + "\r\n",
            "GET /oauth/files/ authorize HTTP/1.1\r\nHost: a\r\n\r\n", "GET oauth/files/token HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET http://evil.example/oauth/files/token HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            "GET * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "CONNECT evil.example:443 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            "POST /oauth/files/introspect HTTP/1.1\r\nHost: a\r\n Folded: continuation\r\n\r\n",
        ]
        var rng = SeededGenerator(seed: seed)
        // Random bytes as the request line, or inside a header. (Blank lines alone are no request: a server
        // ignores them and waits, so every noise line starts with a visible byte.)
        for _ in 0..<80 {
            let noise = String(decoding: (0..<Int(1 + rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, as: UTF8.self)
            out.append(rng.next() % 2 == 0 ? "X" + noise + "\r\n\r\n"
                       : "POST /oauth/files/token HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX-Noise: \(noise)\r\n\r\n")
        }
        return out
    }()

    /// Request targets outside the OAuth face, where an empty router 404 is fine.
    static let targetsOutsideOAuth = ["* ", "evil.example:443 "]

    @Test func protocolGarbageOnRawSocketsIsA4xxWithAnRFCShapedBody() async throws {
        try await ServerHarness.with(configure: { $0.connectionLimits = ConnectionLimits(headTimeout: 2, bodyTimeout: 2, idleTimeout: 2) }) { s in
            try await s.live { client in
                let port = try #require(client.port)
                var statuses: [Int?] = []
                var problems: [String] = []
                for request in Self.rawRequests {
                    let connection = try await RawConnection.exchanged(port: port, request, within: 10)
                    let response = connection.firstResponse
                    statuses.append(response?.status)
                    let what = request.prefix(80).debugDescription
                    guard let response, (400..<500).contains(response.status) else {
                        problems.append("\(response.map { String($0.status) } ?? "no answer"): \(what)")
                        continue
                    }
                    if Self.targetsOutsideOAuth.contains(where: { request.contains(" " + $0) }) { continue }
                    let page = response.headers["content-type"]?.hasPrefix("text/html") == true && response.body.contains("Authorization error")
                    let errorObject = response.headers["content-type"] == "application/json" && response.json["error"] is String
                        && response.json["error_description"] is String
                    if !page && !errorObject { problems.append("\(response.status) without an error object or page: \(what)") }
                }
                print("endpoint fuzz: \(statuses.count) raw requests: \(statuses.filter { ($0 ?? 0) >= 500 }.count) answered 5xx, "
                      + "\(statuses.filter { $0 == nil }.count) closed without an answer")
                #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
            }
        }
    }
}
