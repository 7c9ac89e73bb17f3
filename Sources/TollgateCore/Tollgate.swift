import AsyncHTTPClient
import Foundation
import Logging
import NIOSSL
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

    /// Wires the core over `store`. When `httpClient` is nil, one is created (trusting `outboundTLS`) and shut down
    /// by ``shutdown()``. Client ID metadata documents are fetched by `clientMetadataFetcher`, by default an
    /// ``HTTPClientMetadataFetcher`` that trusts `outboundTLS` and fetches from public addresses only.
    public init(store: any TollgateStore, master: MasterKey, clock: any TollgateClock = SystemClock(),
                httpClient: HTTPClient? = nil, upstreamTimeout: TimeInterval = 10, refreshSkew: TimeInterval = 30,
                logger: Logger = Logger(label: "tollgate"), refreshObserver: RefreshObserver? = nil,
                outboundTLS: TLSConfiguration = .makeClientConfiguration(),
                clientMetadataFetcher: (any ClientMetadataFetcher)? = nil) async throws {
        self.store = store
        self.clock = clock
        vault = try await Vault(store: store, master: master, clock: clock)
        var configuration = Self.upstreamHTTPConfiguration(timeout: upstreamTimeout)
        configuration.tlsConfiguration = outboundTLS
        let client = httpClient ?? HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        http = httpClient == nil ? client : nil
        upstream = UpstreamClient(http: client, timeout: upstreamTimeout, logger: logger)
        refresher = RefreshCoordinator(store: store, vault: vault, upstream: upstream, clock: clock, skew: refreshSkew,
                                       callerWait: upstreamTimeout, upstreamHardLimit: max(120, upstreamTimeout * 4),
                                       logger: logger, observer: refreshObserver)
        tokens = TokenService(store: store, vault: vault, refresher: refresher, upstream: upstream, clock: clock, logger: logger,
                              clientMetadataFetcher: clientMetadataFetcher
                                ?? HTTPClientMetadataFetcher(configuration: .init(tls: outboundTLS), logger: logger))
        admin = AdminService(store: store, vault: vault, refresher: refresher, upstream: upstream, tokens: tokens, clock: clock)
    }

    /// How Tollgate's own HTTP client talks to upstream providers.
    ///
    /// - Connecting (and waiting for a pooled connection) is bounded by the caller's timeout: nothing has been
    ///   sent yet. The answer to a sent refresh is awaited longer (``RefreshCoordinator/upstreamHardLimit``).
    /// - Up to 128 connections per provider: every grant whose refresh hangs on a stalled upstream holds one,
    ///   and the others must not queue behind them and fail for want of a connection (AsyncHTTPClient's
    ///   default is 8).
    /// - No connection retries inside the client: a refresh that failed to connect is a transient failure
    ///   with Tollgate's own backoff, and the next attempt connects afresh instead of inheriting the client's
    ///   growing reconnect delay (which reported "connection refused" after the upstream was back).
    public static func upstreamHTTPConfiguration(timeout: TimeInterval) -> HTTPClient.Configuration {
        var pool = HTTPClient.Configuration.ConnectionPool(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 128)
        pool.retryConnectionEstablishment = false
        return HTTPClient.Configuration(redirectConfiguration: .disallow,
                                        timeout: .init(connect: .milliseconds(Int64(max(0.1, timeout) * 1000))),
                                        connectionPool: pool)
    }

    /// The TLS configuration of Tollgate's outbound HTTPS (upstream providers, client ID metadata documents): the
    /// system's trust roots, plus the certificates of the PEM file that `SSL_CERT_FILE` names when it is set (a
    /// private CA). A file that holds no readable certificate is an error, not silently ignored.
    public static func outboundTLSConfiguration(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let path = environment["SSL_CERT_FILE"], !path.isEmpty {
            guard let certificates = try? NIOSSLCertificate.fromPEMFile(path), !certificates.isEmpty else {
                throw TollgateError.invalidInput("SSL_CERT_FILE '\(path)' holds no readable PEM certificate")
            }
            tls.additionalTrustRoots = [.certificates(certificates)]
        }
        return tls
    }

    /// Releases the HTTP client this instance created and closes the store.
    public func shutdown() async {
        guard isShutDown.withLock({ done in defer { done = true }; return !done }) else { return }
        try? await http?.shutdown()
        await store.close()
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
