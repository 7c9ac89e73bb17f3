import AsyncHTTPClient
import Foundation
import Logging
import Synchronization

/// The core wired together over one store: what every face (server, console, CLI) opens.
public final class Tollgate: Sendable {
    public let store: any TollgateStore
    public let vault: Vault
    public let clock: any TollgateClock
    public let upstream: UpstreamClient
    public let refresher: RefreshCoordinator
    public let tokens: TokenService
    public let admin: AdminService
    private let http: HTTPClient?
    private let isShutDown = Mutex(false)

    /// Wires the core over `store`. When `httpClient` is nil, one is created and shut down by ``shutdown()``.
    public init(store: any TollgateStore, master: MasterKey, clock: any TollgateClock = SystemClock(),
                httpClient: HTTPClient? = nil, upstreamTimeout: TimeInterval = 10, refreshSkew: TimeInterval = 30,
                logger: Logger = Logger(label: "tollgate"), refreshObserver: RefreshObserver? = nil) throws {
        self.store = store
        self.clock = clock
        vault = try Vault(store: store, master: master, clock: clock)
        // Connecting is bounded by the caller's timeout (nothing has been sent yet); an answer to a sent
        // refresh is awaited longer (see RefreshCoordinator.upstreamHardLimit).
        let client = httpClient ?? HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(Int64(max(0.1, upstreamTimeout) * 1000)))))
        http = httpClient == nil ? client : nil
        upstream = UpstreamClient(http: client, timeout: upstreamTimeout, logger: logger)
        refresher = RefreshCoordinator(store: store, vault: vault, upstream: upstream, clock: clock, skew: refreshSkew,
                                       callerWait: upstreamTimeout, upstreamHardLimit: max(120, upstreamTimeout * 4),
                                       logger: logger, observer: refreshObserver)
        tokens = TokenService(store: store, vault: vault, refresher: refresher, upstream: upstream, clock: clock, logger: logger)
        admin = AdminService(store: store, vault: vault, refresher: refresher, upstream: upstream, tokens: tokens, clock: clock)
    }

    /// Opens the SQLite store at `databasePath` with its master key (environment or key file).
    public static func open(databasePath: String, clock: any TollgateClock = SystemClock(),
                            environment: [String: String] = ProcessInfo.processInfo.environment,
                            upstreamTimeout: TimeInterval = 10, logger: Logger = Logger(label: "tollgate"),
                            refreshObserver: RefreshObserver? = nil) throws -> Tollgate {
        let store = try SQLiteStore(path: databasePath)
        let master = try MasterKey.load(forDatabaseAt: databasePath, environment: environment)
        return try Tollgate(store: store, master: master, clock: clock, upstreamTimeout: upstreamTimeout, logger: logger,
                            refreshObserver: refreshObserver)
    }

    /// Releases the HTTP client this instance created.
    public func shutdown() async {
        guard isShutDown.withLock({ done in defer { done = true }; return !done }) else { return }
        try? await http?.shutdown()
    }

    deinit {
        // A caller that failed half-way (an error between open and shutdown) must not leak the client,
        // nor trip AsyncHTTPClient's "not shut down before deinit" check: shut it down in the background.
        if let http, !isShutDown.withLock({ $0 }) {
            Task { try? await http.shutdown() }
        }
    }

    /// The default database path: `$TOLLGATE_DB`, else `$XDG_DATA_HOME/tollgate/tollgate.sqlite`,
    /// else `~/.local/share/tollgate/tollgate.sqlite`.
    public static func defaultDatabasePath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let db = environment["TOLLGATE_DB"], !db.isEmpty { return db }
        if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty { return xdg + "/tollgate/tollgate.sqlite" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/share/tollgate/tollgate.sqlite"
    }
}
