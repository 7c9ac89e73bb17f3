import Foundation
import TollgateConsole
import TollgateCore

/// Fixed data for the console's tests: model values built through their Codable form (the core keeps its
/// memberwise initialisers internal), at a fixed instant, so that every screen is the same on every run.
enum Fixtures {
    /// 2027-01-15T08:00:00Z.
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func decode<T: Decodable>(_ type: T.Type, _ object: [String: Any]) -> T {
        let data = try! JSONSerialization.data(withJSONObject: object)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return try! decoder.decode(T.self, from: data)
    }

    static func seconds(_ offset: TimeInterval?) -> Any { offset.map { now.timeIntervalSince1970 + $0 } ?? NSNull() }

    static func grant(_ id: Int64, server: String = "files", serverID: Int64 = 1, client: String = "Claude Desktop",
                      clientID: String = "tgc_claude", subject: String? = "alice@example.com", state: GrantState = .active,
                      upstreamExpiresIn: TimeInterval? = 3600, hasRefreshToken: Bool = true, refreshExpiresIn: TimeInterval? = nil,
                      proxyExpiresIn: TimeInterval? = 1800, lastRefreshAgo: TimeInterval? = nil, outcome: RefreshOutcome? = nil,
                      failures: Int = 0, providerSupportsRefresh: Bool = true, createdAgo: TimeInterval = 86_400) -> Grant {
        decode(Grant.self, [
            "id": id, "serverID": serverID, "serverSlug": server, "clientID": clientID, "clientName": client,
            "subject": subject as Any? ?? NSNull(), "scopes": ["files.read"], "resource": "https://tollgate.example/mcp/\(server)",
            "state": state.rawValue,
            "upstream": ["accessExpiresAt": seconds(upstreamExpiresIn), "hasRefreshToken": hasRefreshToken,
                         "refreshExpiresAt": seconds(refreshExpiresIn), "scope": "openid files.read"],
            "proxyAccessExpiresAt": seconds(proxyExpiresIn), "createdAt": seconds(-createdAgo), "updatedAt": seconds(-600),
            "lastRefreshAt": seconds(lastRefreshAgo.map { -$0 }), "lastRefreshOutcome": outcome?.rawValue as Any? ?? NSNull(),
            "refreshFailures": failures, "refreshNotBefore": NSNull(), "providerSupportsRefresh": providerSupportsRefresh,
            "revokedAt": state == .revoked ? seconds(-300) : NSNull(), "version": 1,
        ])
    }

    /// A mix of every status, a wide-character subject, an unknown subject, long names.
    static let grants: [Grant] = [
        grant(12, subject: "alice@example.com", lastRefreshAgo: 180, outcome: .succeeded),
        grant(11, server: "mail", serverID: 2, client: "Cursor 编辑器", clientID: "tgc_cursor", subject: "田中太郎", upstreamExpiresIn: 120),
        grant(10, subject: "bob", upstreamExpiresIn: -200, lastRefreshAgo: 4000, outcome: .transient, failures: 2),
        grant(9, subject: nil, upstreamExpiresIn: -50, hasRefreshToken: false),
        grant(8, subject: "carol.with.a.very.long.name@corp.example.org", state: .needsReauth, lastRefreshAgo: 900, outcome: .needsReauth),
        grant(7, server: "mail", serverID: 2, client: "Cursor 编辑器", clientID: "tgc_cursor", subject: "dave", state: .revoked,
              proxyExpiresIn: nil),
        grant(6, subject: "erin", upstreamExpiresIn: nil),
        grant(5, subject: "frank", upstreamExpiresIn: 7200, refreshExpiresIn: 86_400 * 30, lastRefreshAgo: 7200, outcome: .succeeded),
    ]

    static func server(_ id: Int64, _ slug: String, name: String, scopes: [String] = []) -> Server {
        decode(Server.self, [
            "id": id, "slug": slug, "name": name, "upstreamMCPURL": "https://mcp.example/\(slug)", "scopes": scopes,
            "accessTokenTTL": 3600, "refreshTokenIdleTTL": 30 * 86_400, "refreshTokenAbsoluteTTL": 90 * 86_400,
            "createdAt": seconds(-86_400 * Double(id)),
        ])
    }

    static func provider(_ id: Int64, serverID: Int64, kind: ProviderKind = .oidc, supportsRefresh: Bool = true,
                         lastError: String? = nil) -> Provider {
        decode(Provider.self, [
            "id": id, "serverID": serverID, "kind": kind.rawValue, "issuer": "https://idp.example",
            "authorizationEndpoint": "https://idp.example/authorize", "tokenEndpoint": "https://idp.example/token",
            "revocationEndpoint": "https://idp.example/revoke", "userinfoEndpoint": NSNull(), "clientID": "tollgate",
            "hasClientSecret": true, "authMethod": "client_secret_basic", "scopes": ["openid", "offline_access"],
            "authorizeParams": [], "supportsRefresh": supportsRefresh, "lastError": lastError as Any? ?? NSNull(),
            "lastErrorAt": lastError == nil ? NSNull() : seconds(-120), "createdAt": seconds(-86_400),
        ])
    }

    static let servers: [ServerEntry] = [
        ServerEntry(server: server(1, "files", name: "Files", scopes: ["files.read", "files.write"]), provider: provider(1, serverID: 1),
                    health: RefreshHealth(serverID: 1, attempts: 48, succeeded: 46, meanMilliseconds: 184, maxMilliseconds: 930,
                                          lastError: event(38, ago: 4000, actor: "server", action: "upstream.refresh", grantID: 10,
                                                           outcome: "transient", detail: "HTTP 503 from the token endpoint"))),
        ServerEntry(server: server(2, "mail", name: "Mail"),
                    provider: provider(2, serverID: 2, kind: .oauth2, supportsRefresh: false, lastError: "invalid_client: client authentication failed")),
        ServerEntry(server: server(3, "wiki", name: "Wiki (no provider yet)"), provider: nil),
    ]

    static func client(_ id: String, serverID: Int64, name: String, confidential: Bool = false, revoked: Bool = false) -> Client {
        decode(Client.self, [
            "id": id, "serverID": serverID, "name": name, "redirectURIs": ["http://127.0.0.1:33418/callback"],
            "authMethod": confidential ? "client_secret_basic" : "none", "grantTypes": ["authorization_code", "refresh_token"],
            "registeredBy": confidential ? "admin" : "dynamic", "createdAt": seconds(-3 * 86_400),
            "revokedAt": revoked ? seconds(-3600) : NSNull(),
        ])
    }

    /// A client identified by a client ID metadata document whose latest fetch failed.
    static let documentClient: Client = {
        var document = client("tgm_k3Jd9aQx", serverID: 1, name: "Doc Editor")
        document.registeredBy = Client.metadataDocumentRegistration
        document.metadataDocument = MetadataDocumentState(url: "https://editor.example/oauth/client.json",
                                                        lastFetchedAt: now.addingTimeInterval(-7200), lastError: "the document URL answered HTTP 503",
                                                        lastErrorAt: now.addingTimeInterval(-300))
        return document
    }()

    static let clients: [ClientEntry] = [
        ClientEntry(client: client("tgc_claude", serverID: 1, name: "Claude Desktop"), serverSlug: "files"),
        ClientEntry(client: client("tgc_cursor", serverID: 2, name: "Cursor 编辑器"), serverSlug: "mail"),
        ClientEntry(client: client("tgc_ops", serverID: 1, name: "Ops dashboard", confidential: true, revoked: true), serverSlug: "files"),
        ClientEntry(client: documentClient, serverSlug: "files"),
    ]

    static func event(_ id: Int64, ago: TimeInterval, actor: String = "admin", action: String, grantID: Int64? = 12,
                      outcome: String = "ok", detail: String = "", durationMilliseconds: Int? = nil) -> AuditEvent {
        decode(AuditEvent.self, [
            "id": id, "at": seconds(-ago), "actor": actor, "action": action, "serverID": 1,
            "grantID": grantID as Any? ?? NSNull(), "clientID": "tgc_claude", "outcome": outcome, "detail": detail,
            "durationMilliseconds": durationMilliseconds as Any? ?? NSNull(),
        ])
    }

    /// Refused requests of grant 12 and a failed refresh with its latency: the support desk's ticket.
    static let refusals: [AuditEvent] = [
        event(44, ago: 20, actor: "client:tgc_claude", action: "request.refused", outcome: "reauthorization_needed",
              detail: "the upstream authorization was lost; authorize again (POST /mcp/files); and 41 more since 2027-01-15T07:10:03Z"),
        event(43, ago: 35, actor: "server", action: "upstream.refresh", outcome: "needs-reauth",
              detail: "invalid_grant from the token endpoint", durationMilliseconds: 212),
        event(42, ago: 50, actor: "client:tgc_claude", action: "request.refused", outcome: "expired_token",
              detail: "the access token has expired (POST /mcp/files)"),
    ]

    static let audit: [AuditEvent] = [
        event(40, ago: 60, action: "upstream.refresh", outcome: "ok", detail: "forced by an admin"),
        event(39, ago: 180, actor: "server", action: "upstream.refresh", outcome: "ok", detail: "access token expired"),
        event(38, ago: 4000, actor: "server", action: "upstream.refresh", grantID: 10, outcome: "transient", detail: "HTTP 503 from the token endpoint"),
        event(37, ago: 7200, action: "grant.revoke", grantID: 7, detail: "revoked by an admin"),
        event(36, ago: 86_400, action: "server.add", grantID: nil, detail: "files"),
    ]

    static func info(_ grant: Grant, audit: [AuditEvent] = audit) -> GrantInfo {
        let events = audit.filter { $0.grantID == grant.id }.sorted { $0.id > $1.id }
        let refreshes = events.filter { $0.action.hasPrefix("upstream.refresh") }
        return GrantInfo(grant: grant, status: grant.status(at: now), refreshability: grant.refreshability,
                         refreshHistory: refreshes, events: events, refusals: events.filter { $0.action == "request.refused" },
                         refreshErrors: refreshes.filter { $0.outcome != "ok" })
    }

    static let wellKnown: WellKnownDocuments = {
        let urls = PublicURLs(base: "https://tollgate.example")
        let entry = servers[0]
        return WellKnownDocuments(
            serverSlug: "files",
            authorizationServerURL: urls.authorizationServerMetadata("files"),
            authorizationServer: WellKnown.document(.authorizationServer, server: entry.server, provider: entry.provider, urls: urls),
            protectedResourceURL: urls.protectedResourceMetadata("files"),
            protectedResource: WellKnown.document(.protectedResource, server: entry.server, provider: entry.provider, urls: urls))
    }()
}
