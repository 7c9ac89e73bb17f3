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
            return try await PostgresStore(configuration: PostgresStore.Configuration(
                host: postgres.host, port: postgres.port, database: postgres.database, user: postgres.user,
                password: postgres.password?.value, sslMode: postgres.sslMode,
                sslRootCertificatePath: postgres.sslRootCertificate), logger: logger)
        }
    }
}

extension Tollgate {
    /// Opens the store at `location` with its master key (``MasterKey/load(for:keyFile:environment:)``) and wires
    /// the core over it.
    public static func open(_ location: StoreLocation, masterKeyFile: String? = nil, clock: any TollgateClock = SystemClock(),
                            environment: [String: String] = ProcessInfo.processInfo.environment,
                            upstreamTimeout: TimeInterval = 10, logger: Logger = Logger(label: "tollgate"),
                            refreshObserver: RefreshObserver? = nil) async throws -> Tollgate {
        // PostgreSQL: the key first, so a process without it never touches (or migrates) the database. SQLite: the
        // store first, which creates the directory the key file beside it goes into.
        var master: MasterKey?
        if case .postgres = location { master = try MasterKey.load(for: location, keyFile: masterKeyFile, environment: environment) }
        let store = try await StoreOpener.open(location, logger: logger)
        do {
            let master = try master ?? MasterKey.load(for: location, keyFile: masterKeyFile, environment: environment)
            return try await Tollgate(store: store, master: master, clock: clock, upstreamTimeout: upstreamTimeout, logger: logger,
                                      refreshObserver: refreshObserver)
        } catch {
            await store.close()
            throw error
        }
    }
}

