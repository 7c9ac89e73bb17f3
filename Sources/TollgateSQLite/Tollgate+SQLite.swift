import Foundation
import Logging
import TollgateCore

extension Tollgate {
    /// Opens the SQLite store at `databasePath` with its master key (`TOLLGATE_MASTER_KEY`, else the key file
    /// beside the database, created on first use).
    public static func open(databasePath: String, clock: any TollgateClock = SystemClock(),
                            environment: [String: String] = ProcessInfo.processInfo.environment,
                            upstreamTimeout: TimeInterval = 10, logger: Logger = Logger(label: "tollgate"),
                            refreshObserver: RefreshObserver? = nil) async throws -> Tollgate {
        let store = try SQLiteStore(path: databasePath)
        let master = try MasterKey.load(forDatabaseAt: databasePath, environment: environment)
        return try await Tollgate(store: store, master: master, clock: clock, upstreamTimeout: upstreamTimeout, logger: logger,
                                  refreshObserver: refreshObserver)
    }
}
