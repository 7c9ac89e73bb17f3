import Foundation
import Logging
import TollgateCore
import TollgatePostgres
import TollgateSQLite

/// Opens the store a ``StoreLocation`` names: the one place that knows every backend.
public enum StoreOpener {
    /// Opens (and migrates) the store at `location`.
    public static func open(_ location: StoreLocation, logger: Logger) async throws -> any TollgateStore {
        switch location {
        case .sqlite(let path):
            return try SQLiteStore(path: path)
        case .postgres(let postgres):
            return try await PostgresStore(configuration: PostgresStore.Configuration(postgres), logger: logger)
        }
    }
}

extension Tollgate {
    /// Opens the store at `location` with its master key (``MasterKey/load(for:keyFile:environment:)``) and wires
    /// the core over it. Outbound HTTPS trusts `SSL_CERT_FILE` too (``Tollgate/outboundTLSConfiguration(environment:)``);
    /// `clientMetadataAllowLoopback` lets client ID metadata documents be fetched from loopback (development only).
    public static func open(_ location: StoreLocation, masterKeyFile: String? = nil, clock: any TollgateClock = SystemClock(),
                            environment: [String: String] = ProcessInfo.processInfo.environment,
                            upstreamTimeout: TimeInterval = 10, logger: Logger = Logger(label: "tollgate"),
                            refreshObserver: RefreshObserver? = nil, clientMetadataAllowLoopback: Bool = false) async throws -> Tollgate {
        // Outbound TLS first: a bad SSL_CERT_FILE is reported before anything is opened.
        let outboundTLS = try Tollgate.outboundTLSConfiguration(environment: environment)
        // PostgreSQL: the key first, so a process without it never touches (or migrates) the database. SQLite: the
        // store first, which creates the directory the key file beside it goes into.
        var master: MasterKey?
        if case .postgres = location { master = try MasterKey.load(for: location, keyFile: masterKeyFile, environment: environment) }
        let store = try await StoreOpener.open(location, logger: logger)
        do {
            let master = try master ?? MasterKey.load(for: location, keyFile: masterKeyFile, environment: environment)
            let fetcher = HTTPClientMetadataFetcher(configuration: .init(allowLoopback: clientMetadataAllowLoopback, tls: outboundTLS),
                                                    logger: logger)
            return try await Tollgate(store: store, master: master, clock: clock, upstreamTimeout: upstreamTimeout, logger: logger,
                                      refreshObserver: refreshObserver, outboundTLS: outboundTLS, clientMetadataFetcher: fetcher)
        } catch {
            await store.close()
            throw error
        }
    }
}

