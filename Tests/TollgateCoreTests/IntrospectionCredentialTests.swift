import Foundation
import GRDB
import Testing
import TollgateCore
import TollgateTestSupport

@Suite("introspection credentials")
struct IntrospectionCredentialTests {
    func credentials(_ issued: IssuedIntrospectionCredential, method: ClientAuthMethod = .clientSecretBasic) -> ClientCredentials {
        ClientCredentials(clientID: issued.credential.id, secret: issued.secret, method: method)
    }

    @Test func aRegisteredClientCannotIntrospectAnotherUsersToken() async throws {
        try await Harness.with(confidentialClient: true) { h in
            let (_, alice) = try await h.makeGrant(subject: "alice")
            // A client that registered itself a second later, with a perfectly valid secret.
            let intruder = try await h.tollgate.tokens.registerClient(serverSlug: "files", ClientRegistration(
                name: "Intruder", redirectURIs: ["https://evil.example/cb"], authMethod: .clientSecretBasic))
            for caller in [h.credentials, ClientCredentials(clientID: intruder.client.id, secret: intruder.secret, method: .clientSecretBasic),
                           ClientCredentials(clientID: intruder.client.id, secret: intruder.secret, method: .clientSecretPost)] {
                #expect(await oauthError {
                    _ = try await h.tollgate.tokens.introspect(serverSlug: "files", credentials: caller, token: alice.accessToken.value, urls: h.urls)
                } == .invalidClient)
            }
        }
    }

    @Test func anAdminIssuedCredentialIntrospectsItsServersTokensOnly() async throws {
        try await Harness.with { h in
            let (_, pair) = try await h.makeGrant(subject: "erin")
            let issued = try await h.tollgate.admin.addIntrospectionCredential(serverSlug: "files", name: "files resource server")
            #expect(issued.credential.id.hasPrefix("tgi_"))
            #expect(issued.secret.value.hasPrefix("tg_is_"))
            #expect(Data(base64URLEncoded: String(issued.secret.value.dropFirst("tg_is_".count)))?.count == 32, "256 random bits")
            for method in [ClientAuthMethod.clientSecretBasic, .clientSecretPost] {
                let info = try await h.tollgate.tokens.introspect(serverSlug: "files", credentials: credentials(issued, method: method),
                                                            token: pair.accessToken.value, urls: h.urls)
                #expect(info.active)
                #expect(info.subject == "erin")
                #expect(info.clientID == h.client.client.id)
                #expect(info.audience == h.urls.resource("files"))
            }
            await #expect(try h.tollgate.tokens.introspect(serverSlug: "files", credentials: credentials(issued), token: "nope", urls: h.urls) == .inactive)
            let wrong = ClientCredentials(clientID: issued.credential.id, secret: Secret(issued.secret.value + "x"), method: .clientSecretBasic)
            let noSecret = ClientCredentials(clientID: issued.credential.id, secret: nil, method: .none)
            for caller in [wrong, noSecret] {
                #expect(await oauthError {
                    _ = try await h.tollgate.tokens.introspect(serverSlug: "files", credentials: caller, token: pair.accessToken.value, urls: h.urls)
                } == .invalidClient)
            }
            // A credential of another server is refused here.
            _ = try await h.tollgate.admin.addServer(NewServer(slug: "mail", name: "Mail", upstreamMCPURL: "http://127.0.0.1:9/mcp"))
            let mail = try await h.tollgate.admin.addIntrospectionCredential(serverSlug: "mail", name: "mail rs")
            #expect(await oauthError {
                _ = try await h.tollgate.tokens.introspect(serverSlug: "files", credentials: credentials(mail), token: pair.accessToken.value, urls: h.urls)
            } == .invalidClient)
            // Revoked: refused from then on.
            let revoked = try await h.tollgate.admin.revokeIntrospectionCredential(id: issued.credential.id)
            #expect(revoked.revokedAt != nil)
            #expect(await oauthError {
                _ = try await h.tollgate.tokens.introspect(serverSlug: "files", credentials: credentials(issued), token: pair.accessToken.value, urls: h.urls)
            } == .invalidClient)
            await #expect(try h.tollgate.admin.introspectionCredentials(serverSlug: "files").map(\.id) == [issued.credential.id])
            h.clock.advance(by: 3601)
            let later = try await h.tollgate.admin.addIntrospectionCredential(serverSlug: "files", name: "second")
            await #expect(try h.tollgate.tokens.introspect(serverSlug: "files", credentials: credentials(later), token: pair.accessToken.value,
                                                     urls: h.urls) == .inactive, "the access token expired")
        }
    }

    @Test func onlyTheSecretsHashIsStoredAndCreateAndRevokeAreAudited() async throws {
        try await Harness.with { h in
            let issued = try await h.tollgate.admin.addIntrospectionCredential(serverSlug: "files", name: "rs")
            _ = try await h.tollgate.admin.revokeIntrospectionCredential(id: issued.credential.id)
            await #expect(throws: TollgateError.self) { _ = try await h.tollgate.admin.revokeIntrospectionCredential(id: "tgi_unknown") }
            let queue = try DatabaseQueue(path: h.databasePath)
            let (migrations, hash, everything) = try await queue.read { db in
                (try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"),
                 try Data.fetchOne(db, sql: "SELECT secret_hash FROM introspection_credentials WHERE id = ?", arguments: [issued.credential.id]),
                 try String.fetchAll(db, sql: "SELECT quote(secret_hash) || name || id FROM introspection_credentials")
                    + (try String.fetchAll(db, sql: "SELECT detail FROM audit_events")))
            }
            try queue.close()
            #expect(migrations.contains("0003-introspection-credentials"))
            #expect(hash == TokenGenerator.hash(issued.secret))
            #expect(!everything.joined().contains(issued.secret.value))
            let actions = try await h.tollgate.admin.audit().map(\.action)
            #expect(actions.contains("introspection-credential.create"))
            #expect(actions.contains("introspection-credential.revoke"))
        }
    }
}
