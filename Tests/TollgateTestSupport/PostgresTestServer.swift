import Foundation

/// The PostgreSQL server the tests may use: `TOLLGATE_TEST_POSTGRES_URL` (e.g. `postgres://tollgate@127.0.0.1:5432/tollgate`,
/// password in `PGPASSWORD`; `Tests/Support/postgres.sh start` prints both). Each test gets a fresh database of its
/// own (`CREATE DATABASE` through `psql`), dropped afterwards.
///
/// Without the variable, a test that needs PostgreSQL FAILS under CI (`CI` set: a skip is not a pass) and is left
/// out elsewhere with a message saying so (see ``isConfigured``).
public enum PostgresTestServer {
    /// The variable that names the server.
    public static let variable = "TOLLGATE_TEST_POSTGRES_URL"

    /// The server's URL, when configured.
    public static var url: String? {
        ProcessInfo.processInfo.environment[variable].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Whether PostgreSQL tests run: with a server, or under CI, where the missing server makes them fail (their
    /// ``freshDatabase()`` throws). Elsewhere they are left out, with a note on stdout saying so.
    public static let shouldRun: Bool = {
        if url != nil { return true }
        if ProcessInfo.processInfo.environment["CI"] != nil { return true }
        print("note: PostgreSQL tests skipped: \(variable) is not set; start one with `eval \"$(Tests/Support/postgres.sh start)\"` (as root)")
        return false
    }()

    /// The environment a child process needs to reach the server (its password).
    public static var environment: [String: String] {
        ProcessInfo.processInfo.environment.filter { $0.key == "PGPASSWORD" }
    }

    /// A fresh, empty database on the server.
    public struct Database: Sendable {
        /// `postgres://user@host:port/name` (no password).
        public let url: String
        /// The database's name on its server.
        public let name: String
        /// The URL of the server's own database, through which it was created and is dropped.
        let server: String

        /// Drops the database (connections still open are cut).
        public func drop() async {
            _ = try? await PostgresTestServer.psql("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)", on: server)
        }
    }

    /// Runs `body`, then drops `database` (if any) whatever happens: a test leaves no database behind.
    public static func dropping<T>(_ database: Database?, _ body: () async throws -> T) async throws -> T {
        do {
            let result = try await body()
            await database?.drop()
            return result
        } catch {
            await database?.drop()
            throw error
        }
    }

    /// Creates a fresh database on `server` (default: ``url``), named `prefix` plus a random suffix; throws when no
    /// server is configured or `psql` fails. The tests, the PostgreSQL store's own tests and the benchmarks all
    /// get their databases here.
    public static func freshDatabase(on server: String? = nil, prefix: String = "tollgate_t_") async throws -> Database {
        guard let server = server ?? url, var components = URLComponents(string: server) else {
            throw PostgresTestError(message: "PostgreSQL not found: \(variable) is not set (CI must provide it: Tests/Support/postgres.sh start)")
        }
        let safePrefix = prefix.lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
        let name = safePrefix + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        try await psql("CREATE DATABASE \"\(name)\"", on: server)
        components.path = "/" + name
        return Database(url: components.string ?? server, name: name, server: server)
    }

    struct PostgresTestError: Error, CustomStringConvertible { var message: String; var description: String { message } }

    /// Runs one SQL statement with `psql` against the server's own database (libpq reads `PGPASSWORD` itself).
    static func psql(_ sql: String, on server: String) async throws {
        guard var components = URLComponents(string: server) else { throw PostgresTestError(message: "not a PostgreSQL URL") }
        components.scheme = "postgresql"
        components.query = nil
        let target = components.string ?? server
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            DispatchQueue.global().async {
                do {
                    let process = try ChildProcess("/usr/bin/env", ["psql", target, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], stderr: .pipe)
                    let message = String(decoding: process.standardError?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
                    process.waitUntilExit()
                    if process.terminationStatus == 0 {
                        continuation.resume()
                    } else {
                        continuation.resume(throwing: PostgresTestError(message: "psql failed: \(message.trimmingCharacters(in: .whitespacesAndNewlines))"))
                    }
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}
