import AsyncHTTPClient
import Foundation
import Logging
import TollgateCore
import TollgateSQLite
import TollgateDevUpstream

/// One isolated Tollgate: a temporary database, a manual clock, and a dev upstream on a free loopback port.
public final class Harness: @unchecked Sendable {
    public let directory: String
    public let databasePath: String
    public let clock = ManualClock(start: Date())
    public let tollgate: Tollgate
    public let dev: DevUpstream
    public let devURL: String
    public let devTask: Task<Void, Error>
    public let server: Server
    public let provider: Provider
    public let client: RegisteredClient
    public let urls = PublicURLs(base: "http://127.0.0.1:8080")
    public static let redirectURI = "http://127.0.0.1:33418/callback"
    /// As `upstreamMCPURL`: the dev upstream's own MCP endpoint, which accepts only its live access tokens.
    public static let devUpstreamMCP = "dev-upstream:/mcp"
    public static let logger: Logger = {
        var l = Logger(label: "test.tollgate")
        l.logLevel = .error
        return l
    }()

    /// - Parameters:
    ///   - upstreamClient: the client the dev upstream accepts (and the provider Tollgate is configured with).
    ///   - accessTTL: upstream access-token lifetime.
    ///   - serverScopes, providerScopes: the scopes of the `files` server and of its provider.
    ///   - clientMetadataFetcher: how client ID metadata documents are fetched (default: the core's, public addresses only).
    ///   - logger: where the core logs (tests that look at its log lines record them).
    public init(upstreamClient: DevUpstreamClient = DevUpstreamClient(), accessTTL: Int = 3600,
         upstreamTimeout: TimeInterval = 10, confidentialClient: Bool = false, upstreamMCPURL: String = "http://127.0.0.1:9/mcp",
         providerAuthorizeParams: [AuthorizeParam] = [], serverScopes: [String] = ["files.read"],
         providerScopes: [String] = ["openid", "offline_access"], clientMetadataFetcher: (any ClientMetadataFetcher)? = nil,
         logger: Logger = Harness.logger) async throws {
        directory = NSTemporaryDirectory() + "tollgate-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        databasePath = directory + "/tollgate.sqlite"
        var behaviour = DevUpstreamBehaviour()
        behaviour.accessTTL = accessTTL
        var quiet = Logger(label: "test.dev-upstream")
        quiet.logLevel = .critical
        dev = DevUpstream(host: "127.0.0.1", port: 0, state: DevUpstreamState(behaviour: behaviour, client: upstreamClient), logger: quiet)
        (devURL, devTask) = try await dev.start()
        let store = try SQLiteStore(path: databasePath)
        let core = try await Tollgate(store: store, master: try MasterKey.load(forDatabaseAt: databasePath, environment: [:]),
                                clock: clock, upstreamTimeout: upstreamTimeout, logger: logger,
                                clientMetadataFetcher: clientMetadataFetcher)
        tollgate = core
        let upstreamTask = devTask
        do {
            let mcpURL = upstreamMCPURL == Self.devUpstreamMCP ? devURL + "/mcp" : upstreamMCPURL
            server = try await core.admin.addServer(NewServer(slug: "files", name: "Files", upstreamMCPURL: mcpURL, scopes: serverScopes))
            provider = try await core.admin.addProvider(serverSlug: "files", NewProvider(
                kind: .oidc, issuer: devURL, clientID: upstreamClient.clientID,
                clientSecret: upstreamClient.clientSecret.map(Secret.init), authMethod: upstreamClient.authMethod,
                scopes: providerScopes, authorizeParams: providerAuthorizeParams))
            client = try await core.tokens.registerClient(serverSlug: "files", ClientRegistration(
                name: "Test Client", redirectURIs: [Self.redirectURI], authMethod: confidentialClient ? .clientSecretBasic : .none))
        } catch {
            // Leave nothing running behind a failed set-up.
            upstreamTask.cancel()
            await core.shutdown()
            throw error
        }
    }

    public func shutdown() async {
        devTask.cancel()
        _ = try? await devTask.value
        await tollgate.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }

    public var credentials: ClientCredentials {
        ClientCredentials(clientID: client.client.id, secret: client.secret, method: client.secret == nil ? .none : .clientSecretBasic)
    }

    /// Creates a grant the way the callback does (upstream tokens straight from the dev upstream), then
    /// exchanges its code; returns the grant id and the client's first token pair.
    public func makeGrant(subject: String = "alice", for registered: RegisteredClient? = nil,
                          scopes: [String] = ["files.read"]) async throws -> (grantID: Int64, pair: TokenPair) {
        let registered = registered ?? client
        let behaviour = await dev.state.behaviour
        let issued = await dev.state.issueTokens(subject: subject)
        let response = UpstreamTokenResponse(accessToken: Secret(issued.access), refreshToken: issued.refresh.map(Secret.init),
                                             expiresIn: TimeInterval(behaviour.accessTTL), scope: "openid")
        let verifier = String(repeating: "v", count: 43) + subject.filter(\.isLetter)
        let pending = PendingAuthorization(
            stateHash: Data(), serverID: server.id, clientID: registered.client.id, redirectURI: Self.redirectURI, clientState: "st",
            codeChallenge: TokenGenerator.s256Challenge(of: verifier), scopes: scopes, resource: urls.resource("files"),
            sealedUpstreamVerifier: Data(), createdAt: clock.now(), expiresAt: clock.now().addingTimeInterval(600))
        let (code, grantID) = try await tollgate.tokens.completeAuthorization(pending, server: server, upstreamTokens: response, subject: subject)
        let creds = ClientCredentials(clientID: registered.client.id, secret: registered.secret,
                                      method: registered.secret == nil ? .none : .clientSecretBasic)
        let pair = try await tollgate.tokens.exchangeCode(serverSlug: "files", credentials: creds, code: code.value,
                                                     redirectURI: Self.redirectURI, codeVerifier: verifier)
        return (grantID, pair)
    }

    public func grant(_ id: Int64) async throws -> Grant { try await tollgate.admin.grant(id: id) }

    /// Every token, code, pending authorization and audit row in the store, by kind (a dry-run purge far in the
    /// future counts them all).
    public func storedRows() async throws -> PurgeCounts {
        try await tollgate.store.purge(PurgePolicy(tokenGrace: 0, auditBefore: .distantFuture), now: .distantFuture,
                                       limit: 1_000_000, dryRun: true)
    }

    public func stats() async -> DevUpstreamStats { await dev.state.stats }

    public func setBehaviour(_ change: @escaping @Sendable (inout DevUpstreamBehaviour) -> Void) async {
        await dev.state.update(change)
    }

    /// Runs `body` and always shuts the harness down.
    public static func with<T>(upstreamClient: DevUpstreamClient = DevUpstreamClient(), accessTTL: Int = 3600, upstreamTimeout: TimeInterval = 10,
                        confidentialClient: Bool = false, upstreamMCPURL: String = "http://127.0.0.1:9/mcp",
                        providerAuthorizeParams: [AuthorizeParam] = [], serverScopes: [String] = ["files.read"],
                        providerScopes: [String] = ["openid", "offline_access"], clientMetadataFetcher: (any ClientMetadataFetcher)? = nil,
                        logger: Logger = Harness.logger, _ body: (Harness) async throws -> T) async throws -> T {
        let h = try await Harness(upstreamClient: upstreamClient, accessTTL: accessTTL, upstreamTimeout: upstreamTimeout,
                                  confidentialClient: confidentialClient, upstreamMCPURL: upstreamMCPURL,
                                  providerAuthorizeParams: providerAuthorizeParams, serverScopes: serverScopes, providerScopes: providerScopes,
                                  clientMetadataFetcher: clientMetadataFetcher, logger: logger)
        do {
            let result = try await body(h)
            await h.shutdown()
            return result
        } catch {
            await h.shutdown()
            throw error
        }
    }
}

/// Asserts that `body` throws an ``OAuthError`` with `code`.
public func oauthError(_ body: () async throws -> Void) async -> OAuthError.Code? {
    do { try await body(); return nil } catch let e as OAuthError { return e.code } catch { return OAuthError.Code(rawValue: "other: \(error)") }
}
