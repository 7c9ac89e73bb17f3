import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import TollgateCore
import TollgateTestSupport

/// One browser walking the authorization flow against a ``ServerHarness``: its own cookie jar, the
/// consent form submitted headlessly, the dev upstream's login followed over a real socket.
struct FlowBrowser {
    let s: ServerHarness
    let client: any TestClientProtocol
    var jar = CookieJar()

    init(_ s: ServerHarness, _ client: any TestClientProtocol, jar: CookieJar = CookieJar()) {
        self.s = s
        self.client = client
        self.jar = jar
    }

    /// GET an authorization URI: the consent page (200) or the remembered-approval shortcut (302).
    mutating func open(_ uri: String) async throws -> TestResponse {
        let response = try await client.execute(uri: uri, method: .get, headers: jar.headers)
        jar.store(response)
        return response
    }

    /// Submits the consent form of `page` with `decision`; the answer is a redirect upstream on approval.
    mutating func submitConsent(of page: TestResponse, decision: String = "approve") async throws -> TestResponse {
        let fields = Dictionary(page.text.matches(of: /name="(transaction|csrf_token)" value="([^"]*)"/).map { (String($0.1), String($0.2)) },
                                uniquingKeysWith: { a, _ in a })
        var headers = jar.headers
        headers[.contentType] = "application/x-www-form-urlencoded"
        let posted = try await client.execute(uri: "/oauth/files/consent", method: .post, headers: headers, body: Form.body([
            ("transaction", try #require(fields["transaction"])), ("csrf_token", try #require(fields["csrf_token"])), ("decision", decision)]))
        jar.store(posted)
        return posted
    }

    /// Authorize, approving the consent page if one is shown; returns the upstream authorization URL.
    mutating func startAuthorization(_ uri: String) async throws -> String {
        var answer = try await open(uri)
        if answer.status == .ok { answer = try await submitConsent(of: answer) }
        #expect(answer.status == .found, "\(answer.text)")
        let upstream = try #require(answer.header("Location"))
        #expect(upstream.hasPrefix(s.h.devURL + "/authorize?"))
        return upstream
    }

    /// At the dev upstream, signed in as `user` (it approves at once): returns Tollgate's callback path.
    func signInUpstream(_ upstreamURL: String, as user: String? = nil) async throws -> String {
        let back = try await HTTPClientShim().location(of: upstreamURL + (user.map { "&login_hint=" + FormEncoding.encodeComponent($0) } ?? ""))
        #expect(back.hasPrefix(s.publicURL + "/oauth/files/callback?"))
        return String(back.dropFirst(s.publicURL.count))
    }

    /// GET the callback path with this browser's cookies.
    mutating func callback(_ path: String) async throws -> TestResponse {
        let response = try await client.execute(uri: path, method: .get, headers: jar.headers)
        jar.store(response)
        return response
    }

    /// The client's code from a callback that redirected to it.
    static func code(of callback: TestResponse) throws -> String {
        #expect(callback.status == .found, "\(callback.text)")
        let location = try #require(callback.header("Location"))
        #expect(location.hasPrefix(Harness.redirectURI + "?"))
        return try #require(Form.query(location)["code"])
    }
}
