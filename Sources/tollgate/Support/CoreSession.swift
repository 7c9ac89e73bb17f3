import Foundation
import Logging
import TollgateCore

/// Opens the core for one command, runs the command's work, maps failures and always shuts down.
enum CoreSession {
    /// The core's logger for CLI runs. The CLI reports every outcome itself (errors as one line), so the core
    /// logs only critical events unless `TOLLGATE_LOG_LEVEL` (trace … critical) asks for more.
    static var logger: Logger {
        var logger = Logger(label: "tollgate")
        let requested = ProcessInfo.processInfo.environment["TOLLGATE_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0.lowercased()) }
        logger.logLevel = requested ?? .critical
        return logger
    }

    /// Opens the store `database` names, runs `body` with it and shuts the core down whatever happens.
    /// Core errors become ``CommandFailure``s (one line on stderr, exit 1).
    /// `creating` lets a SQLite store be created where there is none (``DatabaseOptions/open(upstreamTimeout:logger:refreshObserver:clientMetadataAllowLoopback:creating:)``).
    static func run<T>(_ database: DatabaseOptions, creating: Bool = false, _ body: (Tollgate) async throws -> T) async throws -> T {
        let tollgate: Tollgate
        do {
            tollgate = try await database.open(logger: logger, creating: creating)
        } catch {
            throw CommandFailure.wrap(error)
        }
        do {
            let result = try await body(tollgate)
            await tollgate.shutdown()
            return result
        } catch {
            await tollgate.shutdown()
            throw CommandFailure.wrap(error)
        }
    }
}
