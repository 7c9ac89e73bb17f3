import Foundation
import Logging
import PostgresNIO
import TollgateCore

/// The PostgreSQL store: several `serve` instances share one database.
///
/// Every write is one short transaction at READ COMMITTED; compare-and-set steps are single conditional
/// statements (`UPDATE … RETURNING`, `DELETE … RETURNING`) whose row count says who won. Serialization
/// failures and deadlocks are retried by ``transaction(_:)``; connection failures surface as
/// `TollgateError(.storeUnavailable, …)` naming only ``displayName``. The schema is migrated on open under a
/// transaction-scoped advisory lock, and a dedicated `LISTEN` connection counts change notifications for
/// ``dataVersion()``.
public final class PostgresStore: TollgateStore, Sendable {
    /// Where and how to connect.
    public struct Configuration: Sendable {
        /// How the connection uses TLS, with libpq's meanings (the `sslmode` of a `postgres://` URL).
        public typealias SSLMode = PostgresLocation.SSLMode

        public var host: String
        /// The server's TCP port.
        public var port: Int
        /// The database (created beforehand; the store creates its tables in it).
        public var database: String
        /// The role to log in as (never shown in ``displayName`` or an error).
        public var user: String
        /// The role's password, if the server asks for one (never shown).
        public var password: String?
        /// Whether and how TLS is used.
        public var sslMode: SSLMode
        /// The PEM file of the certificate authorities `verify-full` trusts (libpq's `sslrootcert`); `nil`: the
        /// system trust roots.
        public var sslRootCertificatePath: String?
        /// The most connections the pool opens (the `LISTEN` connection comes on top).
        public var maxConnections: Int
        /// How long opening one connection may take.
        public var connectTimeout: TimeInterval
        /// The most validation statements (``PostgresStore/tokenContext(hash:)``) running at once; lookups that
        /// arrive meanwhile wait and are answered together by the next statement.
        public var tokenLookupsInFlight: Int
        /// How long one store operation (waiting for a pooled connection, then its statements) may take before it
        /// fails with `.storeUnavailable`; the connection it ran on is closed. A server that stops answering
        /// (a network black hole, a stopped host) costs a request this long, never more.
        public var operationTimeout: TimeInterval

        /// A configuration; the defaults are those of libpq (`prefer`) and a pool of 20 connections.
        public init(host: String, port: Int = 5432, database: String, user: String, password: String? = nil,
                    sslMode: SSLMode = .prefer, sslRootCertificatePath: String? = nil, maxConnections: Int = 20,
                    connectTimeout: TimeInterval = 10, operationTimeout: TimeInterval = 10, tokenLookupsInFlight: Int = 2) {
            self.host = host
            self.port = port
            self.database = database
            self.user = user
            self.password = password
            self.sslMode = sslMode
            self.sslRootCertificatePath = sslRootCertificatePath
            self.maxConnections = maxConnections
            self.connectTimeout = connectTimeout
            self.operationTimeout = operationTimeout
            self.tokenLookupsInFlight = tokenLookupsInFlight
        }

        /// The configuration of a parsed `postgres://` location, with the defaults for the rest.
        public init(_ location: PostgresLocation, tokenLookupsInFlight: Int = 2) {
            self.init(host: location.host, port: location.port, database: location.database, user: location.user,
                      password: location.password?.value, sslMode: location.sslMode,
                      sslRootCertificatePath: location.sslRootCertificate, tokenLookupsInFlight: tokenLookupsInFlight)
        }

        /// `postgres://host:port/db`: never the user name or the password.
        public var displayName: String { "postgres://\(host):\(port)/\(database)" }
    }

    /// The configuration the store was opened with.
    public let configuration: Configuration
    /// Where the store lives: `postgres://host:port/db`.
    public let displayName: String
    let client: PostgresClient
    let runTask: Task<Void, Never>
    let changeFeed: PostgresChangeFeed
    /// The validation lookups, coalesced into batches (see ``tokenContext(hash:)``).
    let tokenContexts: CoalescingLookup<Data, TokenContext>
    /// The most token hashes one validation statement looks up.
    static let tokenLookupBatchSize = 256
    /// Queries are never logged: their bindings may carry token hashes and sealed secrets.
    static let silentLogger = Logger(label: "tollgate.postgres.query", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Opens the store: connects, brings the schema up to date and starts listening for changes.
    ///
    /// Throws `TollgateError(.damaged, …)` for a database that holds other tables than Tollgate's or a
    /// migration this build does not know (the database is left untouched), and `.storeUnavailable` when the
    /// server cannot be reached.
    public init(configuration: Configuration, logger: Logger = Logger(label: "tollgate.postgres")) async throws {
        self.configuration = configuration
        self.displayName = configuration.displayName
        var warningsOnly = logger
        if warningsOnly.logLevel < .warning { warningsOnly.logLevel = .warning }
        let background = warningsOnly
        let displayName = configuration.displayName
        let migrationConnection = try await Self.connect(configuration, logger: background)
        do {
            try await PostgresMigrations.run(on: migrationConnection, displayName: displayName, logger: Self.silentLogger)
            try? await migrationConnection.close()
        } catch {
            try? await migrationConnection.close()
            throw Self.map(error, displayName: displayName)
        }
        let client = PostgresClient(configuration: try Self.clientConfiguration(configuration), backgroundLogger: background)
        self.client = client
        runTask = Task { await client.run() }
        tokenContexts = CoalescingLookup(maximumBatchesInFlight: configuration.tokenLookupsInFlight,
                                         maximumBatchSize: Self.tokenLookupBatchSize) { hashes, earliestStart in
            // The operation deadline counts from the lookups' own start: a lookup that waited for a slot (behind
            // statements the server does not answer) has that much less left for its own statement.
            let waited = (ContinuousClock.now - earliestStart).components
            let left = configuration.operationTimeout - (Double(waited.seconds) + Double(waited.attoseconds) / 1e18)
            guard left > 0 else {
                throw TollgateError(.storeUnavailable, "\(displayName) did not answer within \(Self.seconds(configuration.operationTimeout))")
            }
            return try await Self.fetchTokenContexts(hashes, client: client, timeout: left, logger: Self.silentLogger,
                                                     displayName: displayName)
        }
        let changeFeed = PostgresChangeFeed(connect: { try await Self.connect(configuration, logger: background) })
        self.changeFeed = changeFeed
        await changeFeed.start()
    }

    /// Stops the change feed and the connection pool; the store is not used afterwards.
    public func close() async {
        await changeFeed.stop()
        runTask.cancel()
        await runTask.value
    }

    // MARK: - Connections

    /// The TLS configuration of `c.sslMode` (`nil`: plain TCP). `verify-full` trusts `c.sslRootCertificatePath`
    /// when set (read here, so an unreadable file fails the open, naming the file), else the system roots.
    static func tlsConfiguration(_ c: Configuration) throws -> TLSConfiguration? {
        switch c.sslMode {
        case .disable:
            return nil
        case .prefer, .require:
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .none
            return tls
        case .verifyFull:
            // The defaults: full verification (chain and host name).
            var tls = TLSConfiguration.makeClientConfiguration()
            if let path = c.sslRootCertificatePath {
                guard let certificates = try? NIOSSLCertificate.fromPEMFile(path), !certificates.isEmpty else {
                    throw TollgateError(.storeUnavailable, "cannot read the CA certificates of sslrootcert (\(path)) as PEM")
                }
                tls.trustRoots = .certificates(certificates)
            }
            return tls
        }
    }

    static func clientConfiguration(_ c: Configuration) throws -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch (c.sslMode, try tlsConfiguration(c)) {
        case (.prefer, let config?): tls = .prefer(config)
        case (.require, let config?), (.verifyFull, let config?): tls = .require(config)
        default: tls = .disable
        }
        var configuration = PostgresClient.Configuration(host: c.host, port: c.port, username: c.user, password: c.password,
                                                         database: c.database, tls: tls)
        configuration.options.maximumConnections = max(1, c.maxConnections)
        configuration.options.connectTimeout = .milliseconds(Int64(max(0.1, c.connectTimeout) * 1000))
        configuration.options.additionalStartupParameters = sessionParameters
        return configuration
    }

    /// Set on every pooled connection: no JIT. Tollgate's statements are short index lookups; a listing statement
    /// whose unexecuted branch the planner costs at a million rows was JIT-compiled on every run (50-290 ms for a
    /// statement that runs in under 1 ms).
    static let sessionParameters = [("jit", "off")]

    /// One connection outside the pool (migrations, the `LISTEN` connection).
    static func connect(_ c: Configuration, logger: Logger) async throws -> PostgresConnection {
        let tls: PostgresConnection.Configuration.TLS
        let tlsConfiguration = try tlsConfiguration(c)
        do {
            switch (c.sslMode, tlsConfiguration) {
            case (.prefer, let config?): tls = .prefer(try NIOSSLContext(configuration: config))
            case (.require, let config?), (.verifyFull, let config?): tls = .require(try NIOSSLContext(configuration: config))
            default: tls = .disable
            }
        } catch {
            throw TollgateError(.storeUnavailable, "cannot set up TLS for \(c.displayName)")
        }
        var configuration = PostgresConnection.Configuration(host: c.host, port: c.port, username: c.user, password: c.password,
                                                             database: c.database, tls: tls)
        configuration.options.connectTimeout = .milliseconds(Int64(max(0.1, c.connectTimeout) * 1000))
        do {
            return try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        } catch {
            throw map(error, displayName: c.displayName)
        }
    }

    // MARK: - Running statements

    /// How often a transaction that failed with a serialization failure or deadlock is tried again.
    static let retryLimit = 5

    /// Runs `body` in one READ COMMITTED transaction on a pooled connection: committed when it returns,
    /// rolled back when it throws. Serialization failures (40001) and deadlocks (40P01) are retried a few
    /// times with a short jittered backoff; every error comes out as a ``TollgateError``.
    @discardableResult
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await retrying {
            try await leased { connection in
                try await connection.query("BEGIN", logger: queryLogger)
                do {
                    let value = try await body(connection)
                    try await connection.query("COMMIT", logger: queryLogger)
                    return value
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: queryLogger)
                    throw error
                }
            }
        }
    }

    /// Runs `body` on a pooled connection without a transaction (single statements), with the same error
    /// handling as ``transaction(_:)``.
    @discardableResult
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await retrying { try await leased { try await body($0) } }
    }

    /// Runs `body` on a pooled connection within ``Configuration/operationTimeout``: past it, the operation fails
    /// with `.storeUnavailable` at once, its wait for a connection is cancelled and the connection it is using is
    /// closed (a statement in flight cannot be cancelled otherwise). The caller never waits for the abandoned
    /// operation to wind down, since a statement on a connection the server stopped answering may never return.
    private func leased<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await Self.leased(from: client, within: configuration.operationTimeout, displayName: displayName, body)
    }

    /// ``leased(_:)`` for a pool and deadline given (the token lookups' batches run it before the store exists).
    static func leased<T: Sendable>(from client: PostgresClient, within timeout: TimeInterval, displayName: String,
                                    _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let inUse = ConnectionInUse()
        let outcome = FirstOutcome<T>()
        let operation = Task {
            do {
                outcome.resolve(.success(try await client.withConnection { connection in
                    inUse.set(connection)
                    defer { inUse.set(nil) }
                    return try await body(connection)
                }))
            } catch {
                outcome.resolve(.failure(error))
            }
        }
        let deadline = Task {
            try await Task.sleep(for: .milliseconds(Int64(max(0.05, timeout) * 1000)))
            if outcome.resolve(.failure(TollgateError(.storeUnavailable, "\(displayName) did not answer within \(Self.seconds(timeout))"))) {
                operation.cancel()
                inUse.close()
            }
        }
        defer { deadline.cancel() }
        return try await withTaskCancellationHandler {
            try await outcome.value()
        } onCancel: {
            operation.cancel()
            outcome.resolve(.failure(CancellationError()))
        }
    }

    static func seconds(_ interval: TimeInterval) -> String {
        interval == interval.rounded() ? "\(Int(interval)) s" : String(format: "%.1f s", interval)
    }

    /// The rows of one read statement.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await withConnection { try await $0.rows(query, logger: queryLogger) }
    }

    private func retrying<T: Sendable>(_ attempt: () async throws -> T) async throws -> T {
        var tries = 0
        while true {
            do {
                return try await attempt()
            } catch let error as PSQLError where Self.isRetryable(error) && tries < Self.retryLimit {
                tries += 1
                // 5 ms, 10 ms, 20 ms, … with ±50 % jitter: the competing transaction usually finishes meanwhile.
                let base = 5.0 * pow(2.0, Double(tries - 1))
                try? await Task.sleep(for: .milliseconds(Int(base * Double.random(in: 0.5...1.5))))
            } catch {
                throw Self.map(error, displayName: displayName)
            }
        }
    }

    /// A TLS failure in words (`nil` for any other error): a certificate the verification refused says so (not
    /// signed by a trusted CA, or issued for another host name), other failures by their kind.
    static func tlsFailure(_ error: any Error) -> String? {
        if let error = error as? NIOSSLExtraError, error == .failedToValidateHostname {
            return "the server's certificate was not accepted: it is not issued for this host name"
        }
        guard let error = error as? NIOSSLError else { return nil }
        switch error {
        case .handshakeFailed(let reason):
            let detail = "\(reason)"
            if detail.contains("CERTIFICATE_VERIFY_FAILED") || detail.contains("certificate verify failed") {
                return "the server's certificate was not accepted: it is not signed by a trusted CA (sslrootcert, or the system roots)"
            }
            return "the handshake failed (\(detail))"
        case .unableToValidateCertificate:
            return "the server's certificate was not accepted: it could not be validated"
        default:
            return "\(error)"
        }
    }

    static func isRetryable(_ error: PSQLError) -> Bool {
        guard error.code == .server, let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40001" || state == "40P01"
    }

    /// Maps any error to a ``TollgateError`` whose message names the store only by `displayName` and never
    /// carries a bound value, a user name or a password.
    static func map(_ error: Error, displayName: String) -> Error {
        if error is TollgateError || error is CancellationError { return error }
        if let error = error as? PSQLError {
            if error.code == .server {
                let state = error.serverInfo?[.sqlState] ?? "?"
                switch state {
                case "23505", "23503", "23514", "23502":
                    let constraint = error.serverInfo?[.constraintName].map { " (\($0))" } ?? ""
                    return TollgateError(.conflict, "the change conflicts with existing data\(constraint)")
                case "40001", "40P01":
                    return TollgateError(.storeUnavailable, "\(displayName) stayed busy (concurrent transactions kept conflicting); try again")
                case "28000":
                    // The server's text names the user and database: not repeated.
                    return TollgateError(.storeUnavailable, "\(displayName) refused the connection: no pg_hba.conf rule allows it "
                                         + "(a server that requires TLS refuses sslmode=disable)")
                case let s where s.hasPrefix("28"):
                    return TollgateError(.storeUnavailable, "\(displayName) refused the credentials")
                case "3D000":
                    return TollgateError(.storeUnavailable, "the database of \(displayName) does not exist")
                case let s where s.hasPrefix("08") || s.hasPrefix("57") || s.hasPrefix("53"):
                    return TollgateError(.storeUnavailable, "\(displayName) is unavailable (SQLSTATE \(s))")
                default:
                    let message = error.serverInfo?[.message] ?? "database error"
                    return TollgateError(.storeUnavailable, "\(displayName): \(message) (SQLSTATE \(state))")
                }
            }
            if error.code == .sslUnsupported {
                return TollgateError(.storeUnavailable, "\(displayName) does not offer TLS, which the sslmode requires")
            }
            if let underlying = error.underlying, let tls = tlsFailure(underlying) {
                return TollgateError(.storeUnavailable, "TLS with \(displayName) failed: \(tls)")
            }
            return TollgateError(.storeUnavailable, "cannot reach \(displayName) (\(error.code))")
        }
        if let tls = tlsFailure(error) {
            return TollgateError(.storeUnavailable, "TLS with \(displayName) failed: \(tls)")
        }
        if error is PostgresDecodingError {
            return TollgateError(.damaged, "\(displayName) holds a value this build cannot read")
        }
        return TollgateError(.storeUnavailable, "cannot reach \(displayName) (\(type(of: error)))")
    }
}

/// Queries are never logged: their bindings may carry token hashes and sealed secrets.
let queryLogger = PostgresStore.silentLogger

// MARK: - Operation deadline

/// The first of several outcomes of one operation (its result, its deadline, its caller's cancellation); the
/// later ones are ignored.
private final class FirstOutcome<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<T, any Error>?
    private var waiter: CheckedContinuation<T, any Error>?

    /// Records `result` unless an outcome came first; whether it was the first.
    @discardableResult
    func resolve(_ result: Result<T, any Error>) -> Bool {
        lock.lock()
        guard self.result == nil else { lock.unlock(); return false }
        self.result = result
        let waiter = self.waiter
        self.waiter = nil
        lock.unlock()
        waiter?.resume(with: result)
        return true
    }

    /// Waits for the first outcome.
    func value() async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            lock.lock()
            if let result {
                lock.unlock()
                continuation.resume(with: result)
            } else {
                waiter = continuation
                lock.unlock()
            }
        }
    }
}

/// The connection an operation is using, so that its deadline can close it.
private final class ConnectionInUse: @unchecked Sendable {
    private let lock = NSLock()
    private var connection: PostgresConnection?
    private var expired = false

    func set(_ connection: PostgresConnection?) {
        lock.lock()
        let closeNow = expired && connection != nil
        self.connection = connection
        lock.unlock()
        if closeNow { connection?.close().whenComplete { _ in } }
    }

    /// Closes the connection in use (and one leased later): its statements fail at once.
    func close() {
        lock.lock()
        expired = true
        let connection = self.connection
        lock.unlock()
        connection?.close().whenComplete { _ in }
    }
}

// MARK: - Statements and rows

extension PostgresConnection {
    /// Runs `query` and collects its rows.
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRandomAccessRow] {
        var result: [PostgresRandomAccessRow] = []
        for try await row in try await self.query(query, logger: logger) {
            result.append(row.makeRandomAccess())
        }
        return result
    }

    /// Runs `query`; returns how many rows it returned (a `RETURNING 1` statement: how many it changed).
    @discardableResult
    func run(_ query: PostgresQuery, logger: Logger) async throws -> Int {
        try await rows(query, logger: logger).count
    }
}

/// Typed, throwing access to the columns of a row; a value of the wrong type is `.damaged`.
extension PostgresRandomAccessRow {
    func value<T: PostgresDecodable>(_ index: Int, _ type: T.Type = T.self) throws -> T {
        try self[index].decode(T.self)
    }
    func int(_ index: Int) throws -> Int64 { try value(index) }
    func optionalInt(_ index: Int) throws -> Int64? { try value(index) }
    func string(_ index: Int) throws -> String { try value(index) }
    func optionalString(_ index: Int) throws -> String? { try value(index) }
    func data(_ index: Int) throws -> Data { try value(index) }
    func optionalData(_ index: Int) throws -> Data? { try value(index) }
    func bool(_ index: Int) throws -> Bool { try value(index) }
    func date(_ index: Int) throws -> Date { Date(millisecondsSince1970: try int(index)) }
    func optionalDate(_ index: Int) throws -> Date? { try optionalInt(index).map(Date.init(millisecondsSince1970:)) }
}

/// A statement built piece by piece, its values bound as `$1`, `$2`, … (never spliced into the text).
struct SQLBuilder {
    var text: String
    var bindings = PostgresBindings()

    init(_ text: String = "") { self.text = text }

    /// Binds `value` and returns its placeholder.
    mutating func bind<Value: PostgresThrowingDynamicTypeEncodable>(_ value: Value?) throws -> String {
        try bindings.append(value)
        return "$\(bindings.count)"
    }

    var query: PostgresQuery { PostgresQuery(unsafeSQL: text, binds: bindings) }
}

/// The database's clock in milliseconds since 1970: leases are judged by it, never by a caller's clock.
let databaseNowMilliseconds = "(extract(epoch from clock_timestamp()) * 1000)::bigint"

/// Space-separated scopes (as stored) to a list.
func splitScopes(_ s: String?) -> [String] {
    (s ?? "").split(separator: " ").map(String.init)
}
