import AsyncHTTPClient
import Foundation
import Logging
import TollgateCore
import TollgateStores
import TollgateDevUpstream
import TollgateServer

/// Everything `tollgate demo` runs: a temporary store, a dev upstream and `serve` on free loopback
/// ports, three configured servers, and a couple of dozen grants created through the real HTTP flow.
final class DemoEnvironment: @unchecked Sendable {
    let directory: String
    /// The demo's store: a SQLite file in ``directory``, or the empty PostgreSQL database it was given.
    let location: StoreLocation
    /// The master key file (mode 0600, in ``directory``) when the store is PostgreSQL.
    let masterKeyFile: String?
    let tollgate: Tollgate
    let dev: DevUpstream
    let devURL: String
    let devTask: Task<Void, Error>
    let server: TollgateHTTPServer
    let serverTask: Task<Void, Error>
    let publicURL: String
    let http: HTTPClient
    /// The simulated MCP clients' sessions that ``populate(log:)`` created, for ``startTraffic(log:)``.
    private(set) var sessions: [DemoSession] = []
    private var traffic: Task<Void, Never>?

    /// The demo's users and the MCP clients they use.
    static let users = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj"]
    static let clients = ["Claude Desktop", "VS Code", "Cursor"]
    static let servers: [(slug: String, name: String, scopes: [String])] = [
        ("files", "Team Files", ["files.read", "files.write"]),
        ("calendar", "Calendar", ["calendar.read"]),
        ("wiki", "Wiki", ["wiki.read"]),
    ]

    /// Starts the demo on a temporary SQLite store, or on `postgres` (an empty PostgreSQL database).
    static func start(postgres: StoreLocation? = nil, log: @escaping (String) -> Void) async throws -> DemoEnvironment {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tollgate-demo-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        do {
            return try await DemoEnvironment(directory: directory, postgres: postgres, log: log)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    private init(directory: String, postgres: StoreLocation?, log: @escaping (String) -> Void) async throws {
        self.directory = directory
        if let postgres {
            // A fresh master key for this demo, in a file only its user can read (never printed).
            let keyFile = directory + "/master.key"
            let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
            guard FileManager.default.createFile(atPath: keyFile, contents: Data((key + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
                throw TollgateError(.crypto, "cannot write the demo's master key file in \(directory)")
            }
            location = postgres
            masterKeyFile = keyFile
        } else {
            location = .sqlite(path: directory + "/tollgate.sqlite")
            masterKeyFile = nil
        }
        var quiet = Logger(label: "tollgate.demo")
        quiet.logLevel = .critical
        var behaviour = DevUpstreamBehaviour()
        behaviour.accessTTL = 3600
        dev = DevUpstream(host: "127.0.0.1", port: 0, state: DevUpstreamState(behaviour: behaviour), logger: quiet)
        (devURL, devTask) = try await dev.start()
        log("dev upstream on \(devURL)")
        if case .postgres = location {
            // The demo makes its own key and data: it never touches a database that holds anything.
            let store = try await StoreOpener.open(location, logger: quiet)
            let keys = try await store.encryptionKeys(), servers = try await store.servers()
            let empty = keys.isEmpty && servers.isEmpty
            await store.close()
            guard empty else {
                devTask.cancel()
                throw TollgateError.conflict("\(location) is not empty: the demo needs an empty database")
            }
        }
        tollgate = try await Tollgate.open(location, masterKeyFile: masterKeyFile, environment: [:], logger: quiet)
        server = TollgateHTTPServer(tollgate: tollgate, configuration: ServerConfiguration(host: "127.0.0.1", port: 0), logger: quiet)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = server.makeApplication(onRunning: { continuation.yield($0); continuation.finish() })
        serverTask = Task { try await app.runService(gracefulShutdownSignals: []) }
        var port = 0
        for await p in ports { port = p }
        publicURL = "http://127.0.0.1:\(port)"
        log("tollgate serve on \(publicURL)")
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
    }

    /// Configures the servers and creates the grants: most active, some expiring soon, some already
    /// expired (refreshable), one without an upstream refresh token, one needing re-authorization and one revoked.
    func populate(log: @escaping (String) -> Void) async throws {
        for s in Self.servers {
            _ = try await tollgate.admin.addServer(NewServer(slug: s.slug, name: s.name, upstreamMCPURL: devURL + "/mcp", scopes: s.scopes))
            _ = try await tollgate.admin.addProvider(serverSlug: s.slug, NewProvider(
                kind: .oidc, issuer: devURL, clientID: "tollgate-dev", clientSecret: Secret("dev-secret"),
                authMethod: .clientSecretBasic, scopes: ["openid", "offline_access"]))
        }
        let client = SimulatedMCPClient(http: http, baseURL: publicURL)
        var registered: [String: String] = [:]
        var created: [DemoSession] = []
        // Upstream lifetimes cycle through short values so the console has countdowns to watch.
        let lifetimes = [20, 45, 90, 300, 900, 3600]
        for (i, user) in Self.users.enumerated() {
            for (j, s) in Self.servers.enumerated() where (i + j) % 3 != 2 {
                let clientName = Self.clients[(i + j) % Self.clients.count]
                let redirect = "http://127.0.0.1:\(33400 + j)/callback"
                let key = "\(s.slug)/\(clientName)"
                if registered[key] == nil {
                    registered[key] = try await client.register(serverSlug: s.slug, name: clientName, redirectURI: redirect)
                }
                let ttl = lifetimes[(i * 3 + j) % lifetimes.count]
                let noRefresh = user == "mallory" && s.slug == "files"
                await dev.state.update { $0.accessTTL = ttl; $0.issueRefreshTokens = !noRefresh }
                let pair = try await client.authorize(serverSlug: s.slug, clientID: registered[key]!, redirectURI: redirect, user: user)
                created.append(DemoSession(user: user, serverSlug: s.slug, clientID: registered[key]!,
                                           accessToken: pair.access, refreshToken: pair.refresh))
            }
        }
        await dev.state.update { $0.accessTTL = 3600; $0.issueRefreshTokens = true }
        log("created \(created.count) grants through the HTTP endpoints")
        // A few gateway calls so there is refresh history.
        for c in created.prefix(4) { _ = try? await client.callTool(serverSlug: c.serverSlug, accessToken: c.accessToken) }
        sessions = created

        let grants = try await tollgate.admin.grants(GrantQuery(limit: 100)).items
        if let reauth = grants.first(where: { $0.subject == "ivan" && $0.upstream.hasRefreshToken }) {
            await dev.state.revokeAll(subject: "ivan")
            _ = try await tollgate.admin.forceRefresh(grantID: reauth.id)
            log("grant \(reauth.id) (ivan) needs re-authorization: the upstream refused its refresh token")
        }
        if let revoked = grants.first(where: { $0.subject == "judy" }) {
            _ = try await tollgate.admin.revokeGrant(id: revoked.id)
            log("grant \(revoked.id) (judy) revoked")
        }
        if let forced = grants.first(where: { $0.subject == "alice" }) {
            _ = try await tollgate.admin.forceRefresh(grantID: forced.id)
        }
    }

    /// Starts the simulated MCP clients' traffic through the gateway (see ``DemoTraffic``); it runs until ``stop()``.
    func startTraffic(schedule: DemoTraffic.Schedule = .init(), log: @escaping @Sendable (String) -> Void) {
        let traffic = DemoTraffic(client: SimulatedMCPClient(http: http, baseURL: publicURL), upstream: dev.state,
                                  schedule: schedule, log: log)
        let sessions = sessions
        self.traffic = Task { await traffic.run(sessions) }
    }

    /// Stops the traffic and the servers and deletes the temporary files (a PostgreSQL database keeps the demo's rows).
    func stop() async {
        traffic?.cancel()
        await traffic?.value
        serverTask.cancel()
        _ = try? await serverTask.value
        await server.shutdown()
        devTask.cancel()
        _ = try? await devTask.value
        try? await http.shutdown()
        await tollgate.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
