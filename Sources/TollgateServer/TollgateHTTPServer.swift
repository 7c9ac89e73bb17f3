import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TollgateCore

/// `tollgate serve`: the OAuth 2.1 authorization server, consent page and MCP gateway, as thin HTTP
/// faces over the core. No token rule is written here; every decision is the core's.
public final class TollgateHTTPServer: Sendable {
    let tollgate: Tollgate
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    let signer: ConsentSigner
    let forwarder: GatewayForwarder
    /// Counts connections and closes the ones that stall (``ConnectionLimits``).
    let connectionGuard: ConnectionGuard
    let logger: Logger
    /// Admits dynamic registrations per source address and globally.
    let registrationLimiter: RateLimiter
    /// Admits new pending authorizations (consent approvals and remembered-approval starts) per source address and globally.
    let authorizationLimiter: RateLimiter
    /// Admits first fetches of client ID metadata documents per source address and globally, as registrations.
    let clientMetadataLimiter: RateLimiter
    /// Records refused requests in the audit log, rate-limited and off the request path.
    let refusals: RefusalRecorder
    /// The public base URL; fixed by `--public-url`, else learnt from the bound port.
    private let publicBase: Mutex<String>

    /// - Parameters:
    ///   - tollgate: the core; create it with `refreshObserver: metrics.upstreamRefresh` to get refresh metrics.
    ///   - metrics: the registry `/metrics` renders.
    public init(tollgate: Tollgate, configuration: ServerConfiguration, metrics: ServerMetrics = ServerMetrics(),
                logger: Logger = Logger(label: "tollgate.serve")) {
        self.tollgate = tollgate
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        signer = ConsentSigner(vault: tollgate.vault)
        publicBase = Mutex(configuration.urls().base)
        forwarder = GatewayForwarder(maxBodyBytes: configuration.maxBodyBytes, timeout: configuration.gatewayTimeout, logger: logger)
        registrationLimiter = RateLimiter(perAddress: configuration.registrationLimitPerAddress,
                                          global: configuration.registrationLimitGlobal, clock: tollgate.clock)
        authorizationLimiter = RateLimiter(perAddress: configuration.authorizationLimitPerAddress,
                                           global: configuration.authorizationLimitGlobal, clock: tollgate.clock)
        clientMetadataLimiter = RateLimiter(perAddress: configuration.clientMetadataLimitPerAddress,
                                            global: configuration.clientMetadataLimitGlobal, clock: tollgate.clock)
        refusals = RefusalRecorder(store: tollgate.store, clock: tollgate.clock, logger: logger,
                                   onDropped: { [metrics] in metrics.refusalEventDropped() })
        connectionGuard = ConnectionGuard(limits: configuration.connectionLimits, logger: logger,
                                          onClose: { [metrics] reason in metrics.connectionClosed(reason: reason.rawValue) })
    }

    /// Makes NIO's event loops (the ones the HTTP server and the gateway's client already run on) Swift
    /// Concurrency's global executor, so a request's handler runs on the thread that read it instead of
    /// hopping to the concurrency pool and back at every step. Call once, from the main thread, before
    /// anything else runs; `tollgate serve` does. Returns false where NIO cannot take over.
    @discardableResult
    public static func runConcurrencyOnEventLoops() -> Bool {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    /// The public URLs clients see.
    public var urls: PublicURLs { PublicURLs(base: publicBase.withLock { $0 }) }

    /// Builds the application; `onRunning` receives the bound port.
    public func makeApplication(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(
            router: makeRouter(),
            server: .guardedHTTP1(connectionGuard),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "tollgate"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                if self.configuration.publicURL == nil {
                    self.publicBase.withLock { $0 = self.configuration.urls(boundPort: port).base }
                }
                do {
                    try await self.tollgate.store.setSetting(PublicURLs.settingKey, self.urls.base)
                } catch {
                    self.logger.warning("could not record the public URL in the store", metadata: ["error": "\(error)"])
                }
                await onRunning(port)
            },
            logger: logger)
    }

    /// Runs until SIGTERM or SIGINT, then lets in-flight requests finish and releases the HTTP client; returns
    /// what the drain of upstream refreshes found. SIGHUP does not stop it: it calls ``reload()``.
    @discardableResult
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws -> RefreshDrain {
        let hangUp = HangUpSignal.catch { [self] in reload() }
        // Once caught, SIGHUP stays ignored after the source goes: a hang-up during the drain must not cut it short.
        defer { hangUp.cancel() }
        do {
            try await makeApplication(onRunning: onRunning).runService(gracefulShutdownSignals: [.sigterm, .sigint])
        } catch {
            await shutdown()
            throw error
        }
        return await shutdown()
    }

    /// What SIGHUP (`systemctl reload`, a closed terminal) does: log it and keep serving. There is nothing to
    /// re-read yet: the configuration comes from the command line and the store, which every request reads
    /// afresh, and the master key stays what it was at start. This is where a later reload goes (a key file
    /// re-read, say); it must never stop the server.
    public func reload() {
        logger.notice("reload requested (SIGHUP)")
    }

    /// Lets refreshes still in flight store their answers (up to 30 s) and queued refusal events be written,
    /// then releases the gateway's HTTP client (for tests that build the application themselves). Returns what
    /// the refresh drain found.
    @discardableResult
    public func shutdown() async -> RefreshDrain {
        let drain = await tollgate.refresher.drain(upTo: 30)
        await refusals.shutdown()
        await forwarder.shutdown()
        return drain
    }

    func makeRouter() -> Router<TollgateRequestContext> {
        let router = Router(context: TollgateRequestContext.self)
        router.add(middleware: AccessLogMiddleware(metrics: metrics, logger: logger, enabled: configuration.accessLog))
        router.add(middleware: OAuthRequestPolicy { self.internalError($0, "request") })
        addWellKnownRoutes(to: router)
        addOAuthRoutes(to: router)
        addGatewayRoutes(to: router)
        addProbeRoutes(to: router)
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: self.metrics.render())))
        }
        return router
    }

    /// Maps an unexpected error to an OAuth error without internals, logging what happened.
    func internalError(_ error: Error, _ what: String) -> OAuthError {
        if let e = error as? OAuthError { return e }
        if let e = error as? TollgateError, e.code == .storeUnavailable {
            logger.warning("\(what): store unavailable", metadata: ["error": "\(e)"])
            return .temporarilyUnavailable("the service is busy; try again shortly")
        }
        logger.error("\(what) failed", metadata: ["error": "\(error)"])
        return OAuthError(.serverError, "internal error")
    }
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
