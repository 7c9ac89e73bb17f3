import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import TollgateCore
@testable import TollgateServer
import TollgateTestSupport

/// The consent and callback flow against the attacks of the security review: a callback in another
/// browser (confused deputy), remembered approvals stretched to new scopes, codes burned by other clients,
/// and cookies another host could set.
@Suite("consent and callback flow security")
struct ConsentFlowSecurityTests {
    func authorizeURI(_ h: Harness, scope: String = "files.read offline_access") -> String {
        OAuthEndpointTests().authorizeURI(h) { $0["scope"] = scope }
    }

    func token(_ client: any TestClientProtocol, code: String, clientID: String, verifier: String = OAuthEndpointTests.verifier,
               redirectURI: String = Harness.redirectURI) async throws -> TestResponse {
        try await client.execute(uri: "/oauth/files/token", method: .post, headers: Form.headers, body: Form.body([
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI),
            ("code_verifier", verifier), ("client_id", clientID)]))
    }

    // MARK: Item 1: the callback is bound to the browser that approved

    @Test func anAuthorizationLinkOpenedInAnotherBrowserIsRefusedAndNeverExchanged() async throws {
        try await ServerHarness.with { s in
            try await s.test { client in
                // The attacker approves the consent for their (harness) client in their own browser...
                var attacker = FlowBrowser(s, client)
                let upstreamURL = try await attacker.startAuthorization(authorizeURI(s.h))
                #expect(attacker.jar.value("tg_binding") != nil)
                let exchangesBefore = await s.h.stats().codeExchanges
                // ...and sends the upstream link to victims signed in at the upstream: one browser without any
                // Tollgate cookie, one with a binding of its own.
                var ownBinding = CookieJar()
                ownBinding.set("tg_binding", TokenGenerator.make(prefix: "").value)
                for jar in [CookieJar(), ownBinding] {
                    var victim = FlowBrowser(s, client, jar: jar)
                    let refused = try await victim.callback(try await victim.signInUpstream(upstreamURL, as: "victim"))
                    #expect(refused.status == .forbidden)
                    #expect(refused.header("Location") == nil, "never a redirect to the client")
                    #expect(refused.header("Content-Type")?.hasPrefix("text/html") == true)
                    #expect(refused.text.contains("different browser"))
                    #expect(refused.text.contains("start again"))
                    #expect(!refused.text.contains(Harness.redirectURI))
                }
                #expect(await s.h.stats().codeExchanges == exchangesBefore, "the victim's upstream code was never exchanged")
                #expect(try await s.h.tollgate.store.countGrants() == 0)
                // The refused callbacks burned nothing: the approving browser still completes its own flow.
                let done = try await attacker.callback(try await attacker.signInUpstream(upstreamURL, as: "mallory"))
                let code = try FlowBrowser.code(of: done)
                let tokens = try await token(client, code: code, clientID: s.h.client.client.id)
                #expect(tokens.status == .ok)
                let access = try await s.h.tollgate.tokens.validate(accessToken: tokens.json["access_token"] as? String, serverSlug: "files")
                #expect(access.grant.subject == "mallory")
            }
        }
    }

    @Test func theRememberedApprovalShortcutIsBoundToTheBrowserToo() async throws {
        try await ServerHarness.with { s in
            try await s.test { client in
                var first = FlowBrowser(s, client)
                let approved = try await first.startAuthorization(authorizeURI(s.h))
                _ = try FlowBrowser.code(of: try await first.callback(try await first.signInUpstream(approved)))
                // Later, with the approval remembered but the session's binding cookie gone (the browser restarted):
                var returning = CookieJar()
                returning.set("tg_approved_files", try #require(first.jar.value("tg_approved_files")))
                var browser = FlowBrowser(s, client, jar: returning)
                let shortcut = try await browser.open(authorizeURI(s.h))
                #expect(shortcut.status == .found, "no consent page: the approval is remembered")
                let binding = try #require(browser.jar.setCookie("tg_binding"), "the shortcut sets the binding cookie")
                #expect(binding.contains("HttpOnly") && binding.contains("SameSite=Lax"))
                let upstreamURL = try #require(shortcut.header("Location"))
                var elsewhere = FlowBrowser(s, client)
                let refused = try await elsewhere.callback(try await elsewhere.signInUpstream(upstreamURL, as: "victim"))
                #expect(refused.status == .forbidden)
                #expect(refused.header("Location") == nil)
                _ = try FlowBrowser.code(of: try await browser.callback(try await browser.signInUpstream(upstreamURL)))
                // A browser that has a binding keeps it: two flows in two tabs do not overwrite each other.
                let kept = try #require(browser.jar.value("tg_binding"))
                let again = try await browser.open(authorizeURI(s.h))
                #expect(again.status == .found)
                #expect(browser.jar.setCookie("tg_binding")?.hasPrefix("tg_binding=\(kept);") == true)
            }
        }
    }

    // MARK: Item 2: a remembered approval covers only the approved scopes

    @Test func aRememberedApprovalCoversOnlyTheScopesApproved() async throws {
        try await ServerHarness.with { s in
            try await s.test { client in
                var browser = FlowBrowser(s, client)
                _ = try await browser.startAuthorization(authorizeURI(s.h, scope: "files.read"))
                #expect(try await browser.open(authorizeURI(s.h, scope: "files.read")).status == .found, "the same scopes: remembered")
                let broader = try await browser.open(authorizeURI(s.h, scope: "files.read offline_access"))
                #expect(broader.status == .ok, "a broader request shows the consent page again")
                #expect(broader.text.contains("<code>offline_access</code> <strong class=\"new-scope\">(new)</strong>"))
                #expect(broader.text.contains("<code>files.read</code></li>"), "files.read was approved before: not new")
                #expect(broader.text.contains("You approved this application before"))
                // Approving the broader request remembers it; a subset of it then needs no consent.
                #expect(try await browser.submitConsent(of: broader).status == .found)
                #expect(try await browser.open(authorizeURI(s.h, scope: "offline_access")).status == .found)
                #expect(try await browser.open(authorizeURI(s.h, scope: "files.read offline_access")).status == .found)
                // A first consent page announces nothing as new.
                var stranger = FlowBrowser(s, client)
                let fresh = try await stranger.open(authorizeURI(s.h))
                #expect(fresh.status == .ok)
                #expect(!fresh.text.contains("(new)"))
            }
        }
    }

    @Test func anApprovalsCookieOfTheOldFormatRemembersNothing() async throws {
        try await ServerHarness.with { s in
            try await s.test { client in
                // The first format: client id → expiry, no scopes. Validly signed, unexpired.
                let expiry = Int(s.h.clock.now().timeIntervalSince1970) + 86_400
                let old = s.server.signer.seal([s.h.client.client.id: String(expiry)])
                var jar = CookieJar()
                jar.set("tg_approved_files", old)
                var browser = FlowBrowser(s, client, jar: jar)
                let page = try await browser.open(authorizeURI(s.h))
                #expect(page.status == .ok, "an old cookie does not skip the consent page")
                #expect(!page.text.contains("(new)"))
            }
        }
    }

    // MARK: Item 3: only the rightful client's valid presentation consumes a code

    @Test func aCodeSurvivesAnotherClientsAttemptAndAWrongVerifier() async throws {
        try await ServerHarness.with { s in
            let other = try await s.h.tollgate.tokens.registerClient(serverSlug: "files", ClientRegistration(name: "Other", redirectURIs: [Harness.redirectURI]))
            try await s.test { client in
                let (code, _) = try await OAuthEndpointTests().authorize(s, client)
                let stolen = try await token(client, code: code, clientID: other.client.id)
                #expect(stolen.status == .badRequest)
                #expect(stolen.json["error"] as? String == "invalid_grant")
                let wrongVerifier = try await token(client, code: code, clientID: s.h.client.client.id, verifier: "wrong-" + String(repeating: "w", count: 43))
                #expect(wrongVerifier.json["error"] as? String == "invalid_grant")
                let rightful = try await token(client, code: code, clientID: s.h.client.client.id)
                #expect(rightful.status == .ok, "the failed attempts did not burn the code: \(rightful.text)")
                let access = try await s.h.tollgate.tokens.validate(accessToken: rightful.json["access_token"] as? String, serverSlug: "files")
                // Another client presenting the used code revokes nothing...
                let late = try await token(client, code: code, clientID: other.client.id)
                #expect(late.json["error"] as? String == "invalid_grant")
                #expect(try await s.h.grant(access.grant.id).state == .active)
                // ...while a replay by the rightful client still revokes the grant.
                let replay = try await token(client, code: code, clientID: s.h.client.client.id)
                #expect(replay.json["error"] as? String == "invalid_grant")
                #expect(try await s.h.grant(access.grant.id).state == .revoked)
            }
        }
    }

    /// Issue 20 item 4: a used code presented again with a wrong verifier or redirect URI revoked the grant it had
    /// issued (reuse was checked before the binding), so anyone holding a leaked used code of a public client could
    /// log its user out. Mutation: moving the reuse check back above the PKCE check fails the first expectation.
    @Test func aUsedCodeReplayedWithoutTheVerifierRevokesNothing() async throws {
        try await ServerHarness.with { s in
            try await s.live { client in
                let (code, _) = try await OAuthEndpointTests().authorize(s, client)
                let rightful = try await token(client, code: code, clientID: s.h.client.client.id)
                #expect(rightful.status == .ok)
                let access = try await s.h.tollgate.tokens.validate(accessToken: rightful.json["access_token"] as? String, serverSlug: "files")
                let guessed = try await token(client, code: code, clientID: s.h.client.client.id,
                                              verifier: "guess-" + String(repeating: "g", count: 43))
                #expect(guessed.json["error"] as? String == "invalid_grant")
                let elsewhere = try await token(client, code: code, clientID: s.h.client.client.id, redirectURI: "http://127.0.0.1:9999/cb")
                #expect(elsewhere.json["error"] as? String == "invalid_grant")
                #expect(try await s.h.grant(access.grant.id).state == .active, "a replay that fails its checks revokes nothing")
                let events = try await s.h.tollgate.store.auditEvents(grantID: access.grant.id, since: nil, limit: 50, before: nil)
                #expect(!events.contains { $0.action == "code.replay" })
                // The valid presentation of a used code is a replay: it still revokes what the code issued.
                let replay = try await token(client, code: code, clientID: s.h.client.client.id)
                #expect(replay.json["error"] as? String == "invalid_grant")
                #expect(try await s.h.grant(access.grant.id).state == .revoked)
            }
        }
    }

    // MARK: Item 4: cookie names and attributes

    @Test func overHTTPSTheConsentCookiesCarryTheHostPrefix() async throws {
        try await ServerHarness.with(publicURL: "https://tollgate.example") { s in
            try await s.test { client in
                var browser = FlowBrowser(s, client)
                let upstreamURL = try await browser.startAuthorization(authorizeURI(s.h))
                let names = ["__Host-tg_browser", "__Host-tg_approved_files", "__Host-tg_binding"]
                for name in names {
                    let set = try #require(browser.jar.setCookie(name), "\(name) is set: \(browser.jar.setCookies)")
                    let attributes = set.split(separator: ";").dropFirst().map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                    #expect(attributes.contains("secure"), "\(set)")
                    #expect(attributes.contains("path=/"), "\(set)")
                    #expect(attributes.contains("httponly"), "\(set)")
                    #expect(!attributes.contains { $0.hasPrefix("domain") }, "\(set)")
                }
                #expect(browser.jar.setCookies.allSatisfy { $0.hasPrefix("__Host-") }, "\(browser.jar.setCookies)")
                // The unprefixed names mean nothing here: a cookie planted by another host under them does not bind.
                var planted = CookieJar()
                planted.set("tg_binding", try #require(browser.jar.value("__Host-tg_binding")))
                var other = FlowBrowser(s, client, jar: planted)
                let callbackPath = try await browser.signInUpstream(upstreamURL)
                #expect(try await other.callback(callbackPath).status == .forbidden)
                let done = try await browser.callback(callbackPath)
                _ = try FlowBrowser.code(of: done)
                #expect(Form.query(try #require(done.header("Location")))["iss"] == "https://tollgate.example/oauth/files")
                // The remembered approval works under its prefixed name.
                #expect(try await browser.open(authorizeURI(s.h)).status == .found)
                var unprefixed = CookieJar()
                unprefixed.set("tg_approved_files", try #require(browser.jar.value("__Host-tg_approved_files")))
                var stale = FlowBrowser(s, client, jar: unprefixed)
                #expect(try await stale.open(authorizeURI(s.h)).status == .ok)
            }
        }
    }

    @Test func overPlainHTTPTheConsentCookiesKeepTheirNames() async throws {
        try await ServerHarness.with { s in
            try await s.test { client in
                var browser = FlowBrowser(s, client)
                _ = try await browser.startAuthorization(authorizeURI(s.h))
                #expect(browser.jar.cookies.map(\.name).sorted() == ["tg_approved_files", "tg_binding", "tg_browser"])
                #expect(browser.jar.setCookies.allSatisfy { !$0.lowercased().contains("secure") && !$0.hasPrefix("__Host-") })
                #expect(browser.jar.setCookie("tg_approved_files")?.contains("Path=/oauth/files;") == true)
                #expect(browser.jar.setCookie("tg_binding")?.contains("Path=/;") == true)
            }
        }
    }
}
