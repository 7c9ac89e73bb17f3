import Foundation
import Logging
import TollgateConsole
import TollgateCore
import TollgateStores
import TollgateSQLite
import TollgateDevUpstream

/// A real store in a temporary directory for the console's store and end-to-end tests: a server `files`
/// whose provider is an in-process dev upstream (or a dummy one), a client, and grants created the way the
/// OAuth callback creates them.
final class StoreHarness: @unchecked Sendable {
    let directory: String
    let databasePath: String
    let tollgate: Tollgate
    let server: Server
    let client: RegisteredClient
    let dev: DevUpstream?
    let devTask: Task<Void, Error>?

    static let redirectURI = "http://127.0.0.1:33418/callback"

    /// - Parameter upstream: start a dev upstream (forced refreshes reach it); otherwise the provider points
    ///   at a closed port.
    init(clock: any TollgateClock = SystemClock(), upstream: Bool = true) async throws {
        directory = NSTemporaryDirectory() + "tollgate-console-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        databasePath = directory + "/tollgate.sqlite"
        var quiet = Logger(label: "test.console")
        quiet.logLevel = .critical
        tollgate = try await Tollgate.open(.sqlite(path: databasePath), clock: clock, environment: [:], upstreamTimeout: 5, logger: quiet)
        server = try await tollgate.admin.addServer(NewServer(slug: "files", name: "Files", upstreamMCPURL: "http://127.0.0.1:9/mcp",
                                                        scopes: ["files.read"]))
        if upstream {
            let dev = DevUpstream(host: "127.0.0.1", port: 0, state: DevUpstreamState(), logger: quiet)
            let (url, task) = try await dev.start()
            self.dev = dev
            devTask = task
            _ = try await tollgate.admin.addProvider(serverSlug: "files", NewProvider(
                kind: .oidc, issuer: url, clientID: "tollgate-dev", clientSecret: Secret("dev-secret"),
                authMethod: .clientSecretBasic, scopes: ["openid", "offline_access"]))
        } else {
            dev = nil
            devTask = nil
            _ = try await tollgate.admin.addProvider(serverSlug: "files", NewProvider(
                kind: .oauth2, authorizationEndpoint: "http://127.0.0.1:9/authorize", tokenEndpoint: "http://127.0.0.1:9/token",
                clientID: "tollgate", authMethod: .none))
        }
        client = try await tollgate.tokens.registerClient(serverSlug: "files", ClientRegistration(name: "Claude Desktop", redirectURIs: [Self.redirectURI]))
    }

    /// A grant as the callback creates it; with a dev upstream its tokens are the upstream's own, so a forced
    /// refresh is answered.
    @discardableResult
    func makeGrant(subject: String?, expiresIn: TimeInterval? = 3600, refreshToken: Bool = true) async throws -> Int64 {
        var access = "upstream-access-" + UUID().uuidString
        var refresh: String? = refreshToken ? "upstream-refresh-" + UUID().uuidString : nil
        if let dev, refreshToken {
            let issued = await dev.state.issueTokens(subject: subject ?? "someone")
            access = issued.access
            refresh = issued.refresh
        }
        let now = tollgate.clock.now()
        let pending = PendingAuthorization(
            stateHash: Data(), serverID: server.id, clientID: client.client.id, redirectURI: Self.redirectURI, clientState: nil,
            codeChallenge: TokenGenerator.s256Challenge(of: String(repeating: "v", count: 43)), scopes: ["files.read"],
            resource: "http://127.0.0.1:8080/mcp/files", sealedUpstreamVerifier: Data(), createdAt: now,
            expiresAt: now.addingTimeInterval(600))
        let response = UpstreamTokenResponse(accessToken: Secret(access), refreshToken: refresh.map(Secret.init), expiresIn: expiresIn)
        return try await tollgate.tokens.completeAuthorization(pending, server: server, upstreamTokens: response, subject: subject).grantID
    }

    func refreshCalls() async -> Int { await dev?.state.stats.refreshCalls ?? 0 }

    func shutdown() async {
        devTask?.cancel()
        _ = try? await devTask?.value
        await tollgate.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
