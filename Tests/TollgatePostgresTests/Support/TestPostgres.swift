import Foundation
import Logging
import PostgresNIO
import Testing
import TollgateCore
import TollgatePostgres
import TollgateTestSupport

/// The PostgreSQL server the tests use, found through `TOLLGATE_TEST_POSTGRES_URL`
/// (`postgres://user@host:port/database`, the password in `PGPASSWORD` or the URL); each test gets its own
/// fresh database, created through the URL's database and dropped at the end (the role needs CREATEDB).
///
/// Without the variable the tests are skipped, except under CI (`CI` set), where they fail: a skip is not a pass.
enum TestPostgres {
    /// What to tell someone whose PostgreSQL was not found.
    static let notFoundMessage = """
        PostgreSQL was not found: set TOLLGATE_TEST_POSTGRES_URL (and PGPASSWORD), e.g. as root \
        `eval "$(Tests/Support/postgres.sh start)"`
        """

    /// The server from the environment; `nil` when the variable is unset or unreadable.
    static let server: PostgresStore.Configuration? = configuration(from: ProcessInfo.processInfo.environment)

    /// Reads `TOLLGATE_TEST_POSTGRES_URL` (and `PGPASSWORD`, `PGUSER`) from `environment`.
    static func configuration(from environment: [String: String]) -> PostgresStore.Configuration? {
        guard let text = environment["TOLLGATE_TEST_POSTGRES_URL"], let url = URLComponents(string: text),
              let host = url.host, !host.isEmpty else { return nil }
        var database: String = url.path
        if database.hasPrefix("/") { database.removeFirst() }
        if database.isEmpty { database = "postgres" }
        let port: Int = url.port ?? 5432
        var user: String = "postgres"
        if let value = environment["PGUSER"] { user = value }
        if let value = url.user { user = value }
        var password: String? = environment["PGPASSWORD"]
        if let value = url.password { password = value }
        return PostgresStore.Configuration(host: host, port: port, database: database, user: user, password: password,
                                           sslMode: .disable, maxConnections: 8, connectTimeout: 5)
    }

    /// Whether the PostgreSQL tests run: with a server, or under CI (where the missing server fails them).
    static var shouldRun: Bool { PostgresTestServer.shouldRun }

    static let logger = Logger(label: "tollgate.test.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Runs `body` with the configuration of a fresh, empty database (``PostgresTestServer/freshDatabase(on:prefix:)``),
    /// dropped afterwards.
    static func withFreshDatabase<T>(_ body: (PostgresStore.Configuration) async throws -> T) async throws -> T {
        guard let server else {
            Issue.record(Comment(rawValue: notFoundMessage))
            throw TollgateError(.storeUnavailable, notFoundMessage)
        }
        let database = try await PostgresTestServer.freshDatabase()
        var configuration = server
        configuration.database = database.name
        return try await PostgresTestServer.dropping(database) { try await body(configuration) }
    }

    /// Runs `body` with a fresh database and a store opened on it (closed afterwards).
    static func withStore<T>(_ body: (PostgresStore, PostgresStore.Configuration) async throws -> T) async throws -> T {
        try await withFreshDatabase { configuration in
            let store = try await PostgresStore(configuration: configuration)
            do {
                let result = try await body(store, configuration)
                await store.close()
                return result
            } catch {
                await store.close()
                throw error
            }
        }
    }

    /// Runs `body` on a plain connection to `configuration`'s database (for looking behind the store's back).
    static func admin<T>(_ configuration: PostgresStore.Configuration,
                         _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await PostgresConnection.connect(
            configuration: .init(host: configuration.host, port: configuration.port, username: configuration.user,
                                 password: configuration.password, database: configuration.database, tls: .disable),
            id: 1, logger: logger)
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// The rows of `query` on a plain connection, each decoded by `decode`.
    static func values<T>(_ configuration: PostgresStore.Configuration, _ query: PostgresQuery,
                          _ decode: @escaping (PostgresRow) throws -> T) async throws -> [T] {
        try await admin(configuration) { connection in
            var result: [T] = []
            for try await row in try await connection.query(query, logger: logger) { result.append(try decode(row)) }
            return result
        }
    }
}
