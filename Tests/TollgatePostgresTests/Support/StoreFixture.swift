import Foundation
import TollgateCore
import TollgatePostgres

/// A server with a provider and a client in a fresh store, and builders of grants and tokens on it.
struct StoreFixture {
    let store: PostgresStore
    let server: Server
    let provider: Provider
    let client: Client

    /// A fixed instant the tests count from (no wall clock).
    static let t0 = Date(millisecondsSince1970: 1_800_000_000_000)

    static func audit(_ action: String) -> NewAuditEvent { NewAuditEvent(actor: "test", action: action) }

    /// The sealed client secret the provider gets: names its id, as a real seal binds the row.
    static func sealedSecret(providerID: Int64) -> Data { Data("secret-of-provider-\(providerID)".utf8) }

    static func make(_ store: PostgresStore, slug: String = "files", clientID: String = "client-1",
                     supportsRefresh: Bool = true) async throws -> StoreFixture {
        let server = try await store.createServer(NewServer(slug: slug, upstreamMCPURL: "http://127.0.0.1:1/\(slug)/mcp", scopes: ["read"]),
                                                  audit: audit("server.add"), at: t0)
        let provider = try await store.createProvider(
            serverID: server.id, NewProvider(kind: .oauth2, clientID: "upstream-client", scopes: ["read"]),
            resolved: ResolvedEndpoints(issuer: nil, authorizationEndpoint: "http://127.0.0.1:1/authorize",
                                        tokenEndpoint: "http://127.0.0.1:1/token", revocationEndpoint: nil,
                                        userinfoEndpoint: nil, supportsRefresh: supportsRefresh),
            seal: { Self.sealedSecret(providerID: $0) }, audit: audit("provider.add"), at: t0)
        let client = Client(id: clientID, serverID: server.id, name: "Client", redirectURIs: ["http://127.0.0.1:9/cb"],
                            authMethod: .none, grantTypes: ["authorization_code", "refresh_token"], registeredBy: "admin",
                            createdAt: t0, revokedAt: nil)
        try await store.createClient(client, secretHash: nil, audit: audit("client.register"))
        return StoreFixture(store: store, server: server, provider: provider, client: client)
    }

    /// 32 bytes naming `label` (stands in for a SHA-256).
    static func hash(_ label: String) -> Data {
        var bytes = Data(label.utf8.prefix(32))
        bytes.append(Data(repeating: 0, count: 32 - bytes.count))
        return bytes
    }

    /// Creates a grant with an unused code `code-<label>`; returns its id.
    @discardableResult
    func grant(_ label: String, subject: String? = "user", clientID: String? = nil, serverID: Int64? = nil,
               accessExpiresAt: Date? = StoreFixture.t0.addingTimeInterval(3600), refresh: Bool = true,
               at: Date = StoreFixture.t0) async throws -> Int64 {
        let info = UpstreamCredentialInfo(accessExpiresAt: accessExpiresAt, hasRefreshToken: refresh, refreshExpiresAt: nil,
                                          scope: "read", obtainedAt: at)
        let new = NewGrant(serverID: serverID ?? server.id, clientID: clientID ?? client.id, subject: subject, scopes: ["read"],
                           resource: "http://127.0.0.1:1/files/mcp", upstream: info)
        let code = AuthorizationCodeRecord(hash: Self.hash("code-\(label)"), grantID: 0, clientID: clientID ?? client.id,
                                           redirectURI: "http://127.0.0.1:9/cb", codeChallenge: "challenge",
                                           expiresAt: at.addingTimeInterval(60), usedAt: nil)
        return try await store.createGrant(new, seal: { id in
            SealedCredential(accessToken: Data("access-of-\(id)".utf8), refreshToken: refresh ? Data("refresh-of-\(id)".utf8) : nil,
                             info: info)
        }, code: code, audit: Self.audit("grant.create"), at: at)
    }

    /// Issues an access and a refresh token `access-<label>` / `refresh-<label>` for a grant.
    func issueTokens(_ label: String, grantID: Int64, at: Date = StoreFixture.t0, ttl: TimeInterval = 3600) async throws {
        try await store.insertTokens(grantID: grantID, clientID: client.id, [
            NewToken(hash: Self.hash("access-\(label)"), kind: .access, expiresAt: at.addingTimeInterval(ttl)),
            NewToken(hash: Self.hash("refresh-\(label)"), kind: .refresh, expiresAt: at.addingTimeInterval(ttl * 24)),
        ], at: at)
    }

    func pending(_ label: String, browser: String?, expiresAt: Date = StoreFixture.t0.addingTimeInterval(600)) -> PendingAuthorization {
        PendingAuthorization(stateHash: Self.hash("state-\(label)"), serverID: server.id, clientID: client.id,
                             redirectURI: "http://127.0.0.1:9/cb", clientState: "client-state", codeChallenge: "challenge",
                             scopes: ["read"], resource: "http://127.0.0.1:1/files/mcp",
                             sealedUpstreamVerifier: Data("verifier-\(label)".utf8), createdAt: Self.t0, expiresAt: expiresAt,
                             browserBindingHash: browser.map(Self.hash))
    }
}

/// Runs `body` `count` times at once; returns every result.
func race<T: Sendable>(_ count: Int = 50, _ body: @escaping @Sendable (Int) async throws -> T) async throws -> [T] {
    try await withThrowingTaskGroup(of: T.self) { group in
        for index in 0..<count { group.addTask { try await body(index) } }
        var results: [T] = []
        for try await result in group { results.append(result) }
        return results
    }
}
