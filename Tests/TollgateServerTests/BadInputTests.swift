import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import TollgateCore
import TollgateServer
import TollgateTestSupport

/// Malformed requests at the OAuth endpoints are the client's fault: a 4xx with an RFC-shaped body, and no
/// error in the log.
@Suite("Bad input at the OAuth endpoints")
struct BadInputTests {
    /// Every OAuth endpoint with its method.
    static let endpoints: [(path: String, method: HTTPRequest.Method)] = [
        ("/oauth/files/register", .post), ("/oauth/files/authorize", .get), ("/oauth/files/consent", .post),
        ("/oauth/files/callback", .get), ("/oauth/files/token", .post), ("/oauth/files/revoke", .post),
        ("/oauth/files/introspect", .post), ("/.well-known/oauth-authorization-server/oauth/files", .get),
        ("/.well-known/oauth-protected-resource/mcp/files", .get),
    ]

    @Test func aConsentPostOverSixtyFourKilobytesIs413WithoutAnErrorLogLine() async throws {
        let log = RecordingLogHandler()
        try await ServerHarness.with(logger: RecordingLogHandler.logger(log)) { s in
            try await s.live { client in
                let body = "transaction=" + String(repeating: "a", count: 70 * 1024) + "&csrf_token=x&decision=approve"
                for _ in 0..<3 {
                    let r = try await client.execute(uri: "/oauth/files/consent", method: .post, headers: Form.headers, body: ByteBuffer(string: body))
                    #expect(r.status == .contentTooLarge, "\(r.status)")
                    #expect(r.header("Content-Type")?.hasPrefix("text/html") == true)
                    #expect(r.text.contains("invalid_request"))
                }
            }
        }
        let errors = log.recorded.filter { $0.level >= .error }
        #expect(errors.isEmpty, "error log lines: \(errors.map(\.message))")
    }

    @Test func aWrongMethodIs405WithAllowAndAnRFCShapedBody() async throws {
        try await ServerHarness.with { s in
            try await s.test { client in
                for (path, method) in Self.endpoints {
                    var wrong: [HTTPRequest.Method] = [method == .get ? .post : .get, .put, .delete, .patch, HTTPRequest.Method("BREW")!]
                    if !Self.crossOrigin.contains(path) { wrong.append(.options) }
                    for other in wrong {
                        let r = try await client.execute(uri: path, method: other, headers: Form.headers, body: ByteBuffer(string: "a=b"))
                        #expect(r.status == .methodNotAllowed, "\(other) \(path): \(r.status)")
                        #expect(r.header("Allow") == method.rawValue, "\(other) \(path)")
                        #expect(r.header("Cache-Control") == "no-store", "\(other) \(path)")
                        #expect(r.header("Content-Type") == "application/json", "\(other) \(path)")
                        #expect(r.json["error"] as? String == "invalid_request", "\(other) \(path): \(r.text)")
                        #expect(r.json["error_description"] is String, "\(other) \(path): \(r.text)")
                    }
                }
            }
        }
    }

    /// The endpoints browser-based clients may call from another origin.
    static let crossOrigin: Set<String> = ["/oauth/files/register", "/oauth/files/token", "/oauth/files/revoke",
                                           "/.well-known/oauth-authorization-server/oauth/files",
                                           "/.well-known/oauth-protected-resource/mcp/files"]

    @Test func browserClientsGetCORSOnDiscoveryRegistrationTokenAndRevocationOnly() async throws {
        try await ServerHarness.with { s in
            try await s.test { client in
                for (path, method) in Self.endpoints {
                    let preflight = try await client.execute(uri: path, method: .options,
                                                             headers: [.origin: "https://app.example", .accessControlRequestMethod: method.rawValue])
                    var headers = Form.headers
                    headers[.origin] = "https://app.example"
                    let answer = try await client.execute(uri: path, method: method, headers: headers, body: ByteBuffer(string: "a=b"))
                    if Self.crossOrigin.contains(path) {
                        #expect(preflight.status == .noContent, "\(path)")
                        #expect(preflight.header("Access-Control-Allow-Origin") == "*", "\(path)")
                        #expect(preflight.header("Access-Control-Allow-Methods")?.contains(method.rawValue) == true, "\(path)")
                        #expect(preflight.header("Access-Control-Allow-Headers")?.contains("Authorization") == true, "\(path)")
                        #expect(answer.header("Access-Control-Allow-Origin") == "*", "\(path): errors too")
                    } else {
                        #expect(preflight.status == .methodNotAllowed, "\(path)")
                        #expect(answer.header("Access-Control-Allow-Origin") == nil, "\(path)")
                    }
                }
            }
        }
    }

    @Test func unknownPathsUnderTheOAuthPrefixesAreRFCShaped() async throws {
        try await ServerHarness.with { s in
            try await s.test { client in
                for path in ["/oauth/files/nope", "/oauth/files", "/oauth/files/token/extra", "/.well-known/openid-configuration",
                             "/.well-known/oauth-authorization-server/oauth/nope"] {
                    let r = try await client.execute(uri: path, method: .get)
                    #expect(r.status == .notFound, "\(path)")
                    #expect(r.json["error"] as? String == "not_found", "\(path): \(r.text)")
                    #expect(r.json["error_description"] is String, "\(path): \(r.text)")
                }
            }
        }
    }
}
