import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOSSL
import Testing
import TollgateCore
@testable import TollgateServer
import TollgateTestSupport

/// Client ID metadata documents end to end: the `client_id` is an https URL, Tollgate fetches the document from
/// a real HTTPS server on loopback (throwaway CA) and walks the rules, the SSRF defences, the cache and the trust
/// policy. Every refusal at authorize is a page, never a redirect; a failed fetch's page says only that the document
/// could not be fetched, and its reason goes to the log.
@Suite("client ID metadata documents over HTTP")
struct ClientMetadataDocumentTests {
    static let verifier = "verifier-" + String(repeating: "m", count: 40)

    /// A fetcher that trusts the test CA; loopback allowed unless told otherwise.
    static func fetcher(allowLoopback: Bool = true, totalTimeout: TimeInterval = 5,
                        resolve: (@Sendable (String, Int) async throws -> [String])? = nil) -> HTTPClientMetadataFetcher {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.additionalTrustRoots = [.file(TestCertificateAuthority.shared.caPath)]
        var configuration = HTTPClientMetadataFetcher.Configuration(allowLoopback: allowLoopback, totalTimeout: totalTimeout, tls: tls)
        if let resolve { configuration.resolve = resolve }
        return HTTPClientMetadataFetcher(configuration: configuration, logger: Harness.logger)
    }

    /// A valid document for `url`.
    static func document(_ url: String, redirectURIs: [String] = [Harness.redirectURI], _ change: (inout [String: Any]) -> Void = { _ in }) -> [String: Any] {
        var object: [String: Any] = ["client_id": url, "client_name": "Doc Client", "redirect_uris": redirectURIs,
                                     "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
                                     "token_endpoint_auth_method": "none"]
        change(&object)
        return object
    }

    static func authorizeURI(_ clientID: String, redirectURI: String = Harness.redirectURI) -> String {
        let params = ["response_type": "code", "client_id": clientID, "redirect_uri": redirectURI, "state": "s-doc",
                      "code_challenge": TokenGenerator.s256Challenge(of: verifier), "code_challenge_method": "S256", "scope": "files.read"]
        return "/oauth/files/authorize?" + FormEncoding.encode(params.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    /// Runs `body` with a document server answering `reply` and a Tollgate fetching through `fetcher`.
    static func with(fetcher: HTTPClientMetadataFetcher = fetcher(),
                     reply: @escaping @Sendable (_ path: String, _ server: MetadataDocumentServer.Address) -> MetadataDocumentServer.Reply,
                     _ body: (ServerHarness, MetadataDocumentServer) async throws -> Void) async throws {
        let documents = try await MetadataDocumentServer(reply: reply)
        do {
            try await ServerHarness.with(coreLog: RecordingLogHandler(), clientMetadataFetcher: fetcher) { s in try await body(s, documents) }
            await documents.shutdown()
        } catch {
            await documents.shutdown()
            throw error
        }
    }

    /// Asserts that authorizing with `clientID` shows a refusal page naming `reason` (no redirect); returns the page.
    @discardableResult
    static func expectRefused(_ client: any TestClientProtocol, _ clientID: String, _ reason: String,
                              redirectURI: String = Harness.redirectURI, sourceLocation: SourceLocation = #_sourceLocation) async throws -> TestResponse {
        let page = try await client.execute(uri: authorizeURI(clientID, redirectURI: redirectURI), method: .get)
        #expect(page.status == .badRequest, "\(clientID): \(page.status)", sourceLocation: sourceLocation)
        #expect(page.header("Location") == nil, "never redirected: \(clientID)", sourceLocation: sourceLocation)
        #expect(page.header("Content-Type")?.hasPrefix("text/html") == true, sourceLocation: sourceLocation)
        #expect(page.text.contains(HTML.escape(reason)), "\(clientID): expected “\(reason)” in \(page.text.suffix(600))", sourceLocation: sourceLocation)
        return page
    }

    /// Asserts that authorizing with `clientID` shows the generic page of a failed fetch, and that the core logged
    /// the refusal of that URL with `reason`; returns the page.
    @discardableResult
    static func expectNotFetched(_ s: ServerHarness, _ client: any TestClientProtocol, _ clientID: String, _ reason: String,
                                 sourceLocation: SourceLocation = #_sourceLocation) async throws -> TestResponse {
        let page = try await expectRefused(client, clientID, ClientMetadataError.notFetchedDescription, sourceLocation: sourceLocation)
        #expect(!page.text.contains(HTML.escape(reason)), "the page does not say why: \(clientID)", sourceLocation: sourceLocation)
        let logged = s.coreLog?.recorded.contains { $0.fields["url"] == clientID && $0.fields["reason"]?.contains(reason) == true } ?? false
        #expect(logged, "\(clientID): expected “\(reason)” in the log", sourceLocation: sourceLocation)
        return page
    }

    @Test func aDocumentClientAuthorizesGetsTokensAndIsKnownByItsURL() async throws {
        try await Self.with(reply: { path, server in .json(Self.document(server.url(path))) }) { s, documents in
            let url = documents.url()
            try await s.test { client in
                var browser = FlowBrowser(s, client)
                let page = try await browser.open(Self.authorizeURI(url))
                #expect(page.status == .ok, "\(page.text)")
                #expect(page.text.contains("Doc Client"))
                #expect(page.text.contains("identified by a document at <strong>127.0.0.1</strong>"))
                #expect(page.text.contains("only to this computer (localhost)"), "every redirect URI is loopback: the impersonation warning")
                #expect(page.text.contains(HTML.escape(url)), "the client id shown is the URL")
                let again = try await client.execute(uri: Self.authorizeURI(url), method: .get)
                #expect(again.status == .ok)
                let consented = try await browser.submitConsent(of: page)
                let upstream = try #require(consented.header("Location"))
                let code = try FlowBrowser.code(of: try await browser.callback(try await browser.signInUpstream(upstream)))
                #expect(documents.requests == ["/client.json"], "two authorizations and a consent: one fetch")

                let token = try await client.execute(uri: "/oauth/files/token", method: .post, headers: Form.headers, body: Form.body([
                    ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", Harness.redirectURI),
                    ("code_verifier", Self.verifier), ("client_id", url)]))
                #expect(token.status == .ok, "\(token.text)")
                let refresh = try #require(token.json["refresh_token"] as? String)
                let access = try #require(token.json["access_token"] as? String)
                let refreshed = try await client.execute(uri: "/oauth/files/token", method: .post, headers: Form.headers, body: Form.body([
                    ("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", url)]))
                #expect(refreshed.status == .ok, "\(refreshed.text)")
                let otherClient = try await client.execute(uri: "/oauth/files/token", method: .post, headers: Form.headers, body: Form.body([
                    ("grant_type", "refresh_token"), ("refresh_token", try #require(refreshed.json["refresh_token"] as? String)),
                    ("client_id", s.h.client.client.id)]))
                #expect(otherClient.json["error"] as? String == "invalid_grant", "the tokens are bound to the document client")

                let issued = try await s.h.tollgate.admin.addIntrospectionCredential(serverSlug: "files", name: "rs")
                var resourceServer = Form.headers
                resourceServer[.authorization] = Form.basic(issued.credential.id, issued.secret.value)
                let introspected = try await client.execute(uri: "/oauth/files/introspect", method: .post, headers: resourceServer,
                                                            body: Form.body([("token", try #require(refreshed.json["access_token"] as? String))]))
                #expect(introspected.json["active"] as? Bool == true)
                #expect(introspected.json["client_id"] as? String == url, "introspection names the client by its URL")
                let revoked = try await client.execute(uri: "/oauth/files/revoke", method: .post, headers: Form.headers,
                                                       body: Form.body([("token", access), ("client_id", url)]))
                #expect(revoked.status == .ok)
            }
            let row = try await s.h.tollgate.admin.client(id: try ClientMetadataURL(url).clientRowID(serverID: s.h.server.id))
            #expect(row.registeredBy == "metadata-document")
            #expect(row.publicID == url)
            #expect(row.metadataDocument?.lastFetchedAt != nil)
            #expect(row.metadataDocument?.lastFetchFailed == false)
            #expect(row.redirectURIs == [Harness.redirectURI])
            let grants = try await s.h.tollgate.admin.grants(GrantQuery(clientID: row.id))
            #expect(grants.items.count == 1, "the grant references the document client's row")
        }
    }

    @Test func concurrentAuthorizationsOfANewClientCostOneFetch() async throws {
        try await Self.with(reply: { path, server in
            var reply = MetadataDocumentServer.Reply.json(Self.document(server.url(path)))
            reply.delay = 0.3
            return reply
        }) { s, documents in
            let url = documents.url()
            try await s.test { client in
                let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for _ in 0..<8 { group.addTask { try await client.execute(uri: Self.authorizeURI(url), method: .get).status } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses == Array(repeating: .ok, count: 8))
            }
            #expect(documents.requests.count == 1, "eight concurrent authorizations, \(documents.requests.count) fetches")
        }
    }

    @Test func urlsThatAreNotValidDocumentURLsAreRefused() async throws {
        try await ServerHarness.with(clientMetadataFetcher: Self.fetcher()) { s in
            try await s.test { client in
                for (clientID, reason) in [
                    ("https://app.example", "it needs a path other than /"),
                    ("https://app.example/", "it needs a path other than /"),
                    ("https://app.example/client.json#frag", "it must not have a fragment"),
                    ("https://user:pw@app.example/client.json", "it must not contain user information"),
                    ("https://app.example/a/../client.json", "it must not contain . or .. path segments"),
                    ("https://app.example/a/%2E%2e/client.json", "it must not contain . or .. path segments"),
                    ("https://app.example/./client.json", "it must not contain . or .. path segments"),
                    ("https://app.example/" + String(repeating: "a", count: 2001), "it is longer than 2000 characters"),
                    ("https://app.example/cl ient.json", "character URLs do not allow"),
                    ("https://app.example:99999/client.json", "it has an invalid port"),
                    ("http://app.example/client.json", "unknown client"),
                ] {
                    try await Self.expectRefused(client, clientID, reason)
                }
            }
        }
    }

    @Test func ssrfTargetsAreRefusedWithoutAnyConnection() async throws {
        // The development switch off: loopback is refused like the rest.
        try await Self.with(fetcher: Self.fetcher(allowLoopback: false),
                            reply: { path, server in .json(Self.document(server.url(path))) }) { s, documents in
            try await s.test { client in
                for (clientID, reason) in [
                    (documents.url(), "names an address Tollgate does not fetch from (loopback)"),
                    (documents.url(host: "[::1]"), "names an address Tollgate does not fetch from (loopback)"),
                    (documents.url(host: "localhost"), "the host localhost resolves to an address Tollgate does not fetch from (loopback)"),
                    ("https://10.0.0.1/client.json", "names an address Tollgate does not fetch from (private)"),
                    ("https://192.168.1.20/client.json", "names an address Tollgate does not fetch from (private)"),
                    ("https://169.254.169.254/latest/meta-data", "names an address Tollgate does not fetch from (cloud-metadata)"),
                    ("https://[fd00:ec2::254]/latest/meta-data", "names an address Tollgate does not fetch from (cloud-metadata)"),
                    ("https://169.254.10.1/client.json", "names an address Tollgate does not fetch from (link-local)"),
                    ("https://100.64.0.1/client.json", "names an address Tollgate does not fetch from (cgnat)"),
                    ("https://[fd12:3456::1]/client.json", "names an address Tollgate does not fetch from (unique-local)"),
                    ("https://[::ffff:10.0.0.1]/client.json", "names an address Tollgate does not fetch from (private)"),
                    ("https://[::ffff:0:7f00:1]/client.json", "names an address Tollgate does not fetch from (loopback)"),
                    ("https://[64:ff9b:1::808:808]/client.json", "names an address Tollgate does not fetch from (reserved)"),
                    ("https://[2001:0:4136:e378::5601:5601]/client.json", "names an address Tollgate does not fetch from (cloud-metadata)"),
                    ("https://0.0.0.0/client.json", "names an address Tollgate does not fetch from (unspecified)"),
                    ("https://224.0.0.1/client.json", "names an address Tollgate does not fetch from (multicast)"),
                ] {
                    try await Self.expectNotFetched(s, client, clientID, reason)
                }
            }
            #expect(documents.requests.isEmpty, "nothing reached the document server: \(documents.requests)")
        }
        // With the switch on only loopback opens up; private and metadata ranges stay refused.
        try await ServerHarness.with(coreLog: RecordingLogHandler(), clientMetadataFetcher: Self.fetcher(allowLoopback: true)) { s in
            try await s.test { client in
                try await Self.expectNotFetched(s, client, "https://10.0.0.1/client.json", "names an address Tollgate does not fetch from (private)")
                try await Self.expectNotFetched(s, client, "https://169.254.169.254/latest/meta-data", "names an address Tollgate does not fetch from (cloud-metadata)")
            }
        }
    }

    @Test func everyResolvedAddressIsCheckedAndTheCheckedOneIsUsed() async throws {
        // docs.test exists only in this resolver: a fetch that works proves the connection went to the address that
        // was checked (no second lookup), and TLS checked the certificate for docs.test.
        let resolver: @Sendable (String, Int) async throws -> [String] = { host, _ in
            switch host {
            case "docs.test": return ["127.0.0.1"]
            case "rebind.test": return ["127.0.0.1", "10.0.0.7"]
            default: throw ClientMetadataError(.fetchFailed, "no such host")
            }
        }
        try await Self.with(fetcher: Self.fetcher(resolve: resolver), reply: { path, server in
            .json(Self.document(server.url(path, host: path.hasPrefix("/rebind") ? "rebind.test" : "docs.test")))
        }) { s, documents in
            _ = try await s.test { client in
                let ok = try await client.execute(uri: Self.authorizeURI(documents.url(host: "docs.test")), method: .get)
                #expect(ok.status == .ok, "\(ok.text)")
                try await Self.expectNotFetched(s, client, documents.url("/rebind.json", host: "rebind.test"),
                                                 "the host rebind.test resolves to an address Tollgate does not fetch from (private)")
                try await Self.expectNotFetched(s, client, documents.url("/nowhere.json", host: "nowhere.test"),
                                                 "the host nowhere.test could not be resolved")
            }
            #expect(documents.requests == ["/client.json"])
        }
    }

    @Test func aRedirectIsAFailedFetchAndIsNotFollowed() async throws {
        try await Self.with(reply: { _, _ in
            MetadataDocumentServer.Reply(status: 302, headers: [("Location", "https://10.0.0.1/client.json")], body: Data())
        }) { s, documents in
            _ = try await s.test { client in
                try await Self.expectNotFetched(s, client, documents.url(), "the document URL answered HTTP 302; redirects are not followed")
            }
            #expect(documents.requests == ["/client.json"])
        }
    }

    @Test func documentsThatBreakARuleAreRefusedAndNotCached() async throws {
        let cases: [(path: String, reason: String)] = [
            ("/big.json", "the document is larger than 5120 bytes"),
            ("/other-id.json", "the document's client_id is not its URL"),
            ("/html.json", "is served as 'text/html', not application/json"),
            ("/array.json", "the document is not a JSON object"),
            ("/no-uris.json", "the document has no redirect_uris array"),
            ("/bad-uri.json", "plain http is only allowed on a loopback host"),
            ("/basic.json", "token_endpoint_auth_method client_secret_basic needs a shared secret"),
            ("/jwt.json", "token_endpoint_auth_method 'private_key_jwt' is not supported; use none"),
            ("/secret.json", "the document must not carry a client_secret"),
            ("/password.json", "grant type 'password' is not supported"),
            ("/implicit.json", "response_types must be [\"code\"]"),
            ("/control.json", "client_name must not contain control characters"),
            ("/long-name.json", "client_name is too long"),
            ("/missing.json", "the document URL answered HTTP 404"),
        ]
        try await Self.with(reply: { path, server in
            let url = server.url(path)
            switch path {
            case "/big.json": return .json(Self.document(url) { $0["logo_uri"] = "https://app.example/" + String(repeating: "x", count: 6000) })
            case "/other-id.json": return .json(Self.document(server.url("/another.json")))
            case "/html.json": return .json(Self.document(url), contentType: "text/html")
            case "/array.json": return MetadataDocumentServer.Reply(body: Data("[1, 2]".utf8))
            case "/no-uris.json": return .json(Self.document(url) { $0["redirect_uris"] = nil })
            case "/bad-uri.json": return .json(Self.document(url, redirectURIs: ["http://evil.example/cb"]))
            case "/basic.json": return .json(Self.document(url) { $0["token_endpoint_auth_method"] = "client_secret_basic" })
            case "/jwt.json": return .json(Self.document(url) { $0["token_endpoint_auth_method"] = "private_key_jwt" })
            case "/secret.json": return .json(Self.document(url) { $0["client_secret"] = "s3cr3t" })
            case "/password.json": return .json(Self.document(url) { $0["grant_types"] = ["authorization_code", "password"] })
            case "/implicit.json": return .json(Self.document(url) { $0["response_types"] = ["token"] })
            case "/control.json": return .json(Self.document(url) { $0["client_name"] = "Evil\u{1B}[2J" })
            case "/long-name.json": return .json(Self.document(url) { $0["client_name"] = String(repeating: "n", count: 201) })
            default: return MetadataDocumentServer.Reply(status: 404, body: Data())
            }
        }) { s, documents in
            try await s.test { client in
                for (path, reason) in cases {
                    let page = try await Self.expectNotFetched(s, client, documents.url(path), reason)
                    #expect(!page.text.contains("s3cr3t"))
                }
                // Refused documents are not cached: once its backoff has passed, a document is fetched again.
                try await Self.expectNotFetched(s, client, documents.url("/other-id.json"), "the document's client_id is not its URL")
                #expect(documents.requests.count == cases.count, "not during the backoff")
                s.h.clock.advance(by: 31)
                try await Self.expectNotFetched(s, client, documents.url("/other-id.json"), "the document's client_id is not its URL")
            }
            #expect(documents.requests.count == cases.count + 1, "a refused document is fetched again after its backoff")
        }
    }

    @Test func aSlowServerTimesOut() async throws {
        try await Self.with(fetcher: Self.fetcher(totalTimeout: 0.5), reply: { path, server in
            var reply = MetadataDocumentServer.Reply.json(Self.document(server.url(path)))
            reply.delay = 30
            return reply
        }) { s, documents in
            try await s.test { client in
                let started = ContinuousClock.now
                try await Self.expectNotFetched(s, client, documents.url(), "fetching the document took longer than 0.5 s")
                // The document server would answer after 30 s: the refusal comes at the 0.5 s deadline. The bound is
                // loose on purpose: the whole suite starts at once on two cores, and 2 s of slack was once not enough
                // (3.3 s under CI load). How soon an abandoned request lets go is AbandoningDeadlineTests' job.
                #expect(ContinuousClock.now - started < .seconds(10))
            }
        }
    }

    @Test func theTrustPolicyDecidesWhichDocumentsAreAccepted() async throws {
        try await Self.with(reply: { path, server in .json(Self.document(server.url(path))) }) { s, documents in
            let admin = s.h.tollgate.admin
            let urls = PublicURLs(base: ServerHarness.base)
            try await s.test { client in
                _ = try await admin.setServerPolicy(slug: "files", ServerPolicy(clientMetadata: .off))
                try await Self.expectRefused(client, documents.url(), "this server does not accept client ID metadata documents")
                let off = try JSONSerialization.jsonObject(with: try await admin.wellKnown(serverSlug: "files", .authorizationServer, urls: urls)) as? [String: Any]
                #expect(off?["client_id_metadata_document_supported"] as? Bool == false)
                let metadata = try await client.execute(uri: "/.well-known/oauth-authorization-server/oauth/files", method: .get)
                #expect(metadata.json["client_id_metadata_document_supported"] as? Bool == false)

                let base = "https://127.0.0.1:\(documents.port)"
                _ = try await admin.setServerPolicy(slug: "files", ServerPolicy(clientMetadata: .allowlist([try ClientMetadataURLPattern(base + "/apps/")])))
                try await Self.expectRefused(client, documents.url(), "the client ID metadata document at 127.0.0.1 is not on this server's allowlist")
                let allowed = try await client.execute(uri: Self.authorizeURI(documents.url("/apps/client.json")), method: .get)
                #expect(allowed.status == .ok, "\(allowed.text)")
                let on = try await client.execute(uri: "/.well-known/oauth-authorization-server/oauth/files", method: .get)
                #expect(on.json["client_id_metadata_document_supported"] as? Bool == true)
            }
            #expect(documents.requests == ["/apps/client.json"], "refused by policy before any fetch")
        }
    }

    @Test func aRevokedDocumentClientStaysBlocked() async throws {
        try await Self.with(reply: { path, server in .json(Self.document(server.url(path))) }) { s, documents in
            let url = documents.url()
            let rowID = try ClientMetadataURL(url).clientRowID(serverID: s.h.server.id)
            try await s.test { client in
                let first = try await client.execute(uri: Self.authorizeURI(url), method: .get)
                #expect(first.status == .ok)
                _ = try await s.h.tollgate.admin.revokeClient(id: rowID)
                try await Self.expectRefused(client, url, "the client has been revoked")
                s.h.clock.advance(by: 2 * 86_400)
                try await Self.expectRefused(client, url, "the client has been revoked")
                let token = try await client.execute(uri: "/oauth/files/token", method: .post, headers: Form.headers, body: Form.body([
                    ("grant_type", "refresh_token"), ("refresh_token", "tg_rt_x"), ("client_id", url)]))
                #expect(token.status == .unauthorized)
                #expect(token.json["error"] as? String == "invalid_client")
            }
            #expect(documents.requests.count == 1, "a revoked URL is not even fetched again")
            #expect(try await s.h.tollgate.admin.client(id: rowID).revokedAt != nil)
        }
    }

    @Test func theRedirectURIMustBeOneTheDocumentLists() async throws {
        try await Self.with(reply: { path, server in .json(Self.document(server.url(path), redirectURIs: ["https://app.example/cb"])) }) { s, documents in
            try await s.test { client in
                try await Self.expectRefused(client, documents.url(), "redirect_uri is not registered for this client")
                let page = try await client.execute(uri: Self.authorizeURI(documents.url(), redirectURI: "https://app.example/cb"), method: .get)
                #expect(page.status == .ok)
                #expect(page.text.contains("identified by a document at"))
                #expect(!page.text.contains("only to this computer"), "an https redirect URI: no localhost warning")
            }
        }
    }

    @Test func aLaterFailedFetchIsRecordedAndAChangedDocumentUpdatesTheRow() async throws {
        let version = Counter()
        try await Self.with(reply: { path, server in
            switch version.value {
            case 0: return .json(Self.document(server.url(path)), cacheControl: "max-age=120")
            case 1: return MetadataDocumentServer.Reply(status: 500, body: Data())
            default: return .json(Self.document(server.url(path)) { $0["client_name"] = "Renamed" })
            }
        }) { s, documents in
            let url = documents.url()
            let rowID = try ClientMetadataURL(url).clientRowID(serverID: s.h.server.id)
            try await s.test { client in
                #expect(try await client.execute(uri: Self.authorizeURI(url), method: .get).status == .ok)
                version.value = 1
                s.h.clock.advance(by: 100)
                #expect(try await client.execute(uri: Self.authorizeURI(url), method: .get).status == .ok, "max-age=120 still holds")
                s.h.clock.advance(by: 30)
                try await Self.expectNotFetched(s, client, url, "the document URL answered HTTP 500")
                let failed = try await s.h.tollgate.admin.client(id: rowID).metadataDocument
                #expect(failed?.lastFetchFailed == true)
                #expect(failed?.lastError == "the document URL answered HTTP 500")
                version.value = 2
                s.h.clock.advance(by: 31)
                let renamed = try await client.execute(uri: Self.authorizeURI(url), method: .get)
                #expect(renamed.text.contains("Renamed"))
            }
            let row = try await s.h.tollgate.admin.client(id: rowID)
            #expect(row.name == "Renamed")
            #expect(row.metadataDocument?.lastFetchFailed == false)
            #expect(documents.requests.count == 3)
        }
    }
}

/// A value shared with a document server's reply closure.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var current = 0
    var value: Int {
        get { lock.lock(); defer { lock.unlock() }; return current }
        set { lock.lock(); current = newValue; lock.unlock() }
    }
}
