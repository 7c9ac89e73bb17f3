import Foundation
import TollgateCore
import Logging
import TollgatePostgres
import TollgateSQLite
import TollgateStores

/// One store implementation under the conformance suite: how to make a fresh store and a second connection to it.
public struct StoreBackend: Sendable, CustomStringConvertible {
    /// Shown in test names (`sqlite`, `postgres`).
    public let name: String
    /// Whether a write through another connection waits until an open write transaction has committed
    /// (SQLite: one writer at a time). With `false`, two connections can write at the same moment (PostgreSQL).
    public let serializesWriters: Bool
    private let make: @Sendable () async throws -> any TollgateStore
    private let connect: @Sendable (any TollgateStore) async throws -> any TollgateStore
    private let destroy: @Sendable (any TollgateStore) async -> Void

    /// - Parameters:
    ///   - make: a FRESH, EMPTY, migrated store on every call.
    ///   - connect: a new, independent connection to the same store as the given one (as another process would open it);
    ///     also used to reopen a store after `close()`.
    ///   - destroy: removes what `make` created (the store is closed first).
    public init(name: String, serializesWriters: Bool,
                make: @escaping @Sendable () async throws -> any TollgateStore,
                connect: @escaping @Sendable (any TollgateStore) async throws -> any TollgateStore,
                destroy: @escaping @Sendable (any TollgateStore) async -> Void) {
        self.name = name
        self.serializesWriters = serializesWriters
        self.make = make
        self.connect = connect
        self.destroy = destroy
    }

    public var description: String { name }

    /// A fresh, empty, migrated store.
    public func makeStore() async throws -> any TollgateStore { try await make() }

    /// Another connection to the same store as `store`: a second process sharing it. Close it when done.
    public func secondConnection(to store: any TollgateStore) async throws -> any TollgateStore { try await connect(store) }

    /// Closes `store` and removes everything `makeStore()` created for it.
    public func discard(_ store: any TollgateStore) async {
        await store.close()
        await destroy(store)
    }

    /// Runs `body` with a fresh store and its second connection, and always discards both.
    public func withStores<T>(_ body: (_ store: any TollgateStore, _ other: any TollgateStore) async throws -> T) async throws -> T {
        let store = try await makeStore()
        let other: any TollgateStore
        do { other = try await secondConnection(to: store) } catch { await discard(store); throw error }
        do {
            let result = try await body(store, other)
            await other.close()
            await discard(store)
            return result
        } catch {
            await other.close()
            await discard(store)
            throw error
        }
    }

    /// Every backend the conformance suite runs against.
    public static var all: [StoreBackend] {
        [.sqlite] + (PostgresTestServer.shouldRun ? [.postgres] : [])
    }

    /// SQLite: a new file in its own temporary directory; a second connection is a second `SQLiteStore` on the same path.
    public static let sqlite = StoreBackend(
        name: "sqlite", serializesWriters: true,
        make: {
            let directory = NSTemporaryDirectory() + "tollgate-conformance-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            return try SQLiteStore(path: directory + "/tollgate.sqlite")
        },
        connect: { store in try SQLiteStore(path: try sqlitePath(of: store)) },
        destroy: { store in
            guard let path = try? sqlitePath(of: store) else { return }
            try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
        })

    /// PostgreSQL: a fresh database on the test server (``PostgresTestServer``); a second connection is a second
    /// `PostgresStore` on the same database (its own pool and change feed, as another instance would have).
    public static let postgres = StoreBackend(
        name: "postgres", serializesWriters: false,
        make: {
            let database = try await PostgresTestServer.freshDatabase()
            let location = try StoreLocation.parse(database.url).withPassword(file: nil)
            return try await StoreOpener.open(location, logger: quiet)
        },
        connect: { store in try await PostgresStore(configuration: try postgres(store).configuration, logger: quiet) },
        destroy: { store in
            guard let database = try? postgres(store).configuration.database else { return }
            await PostgresTestServer.Database(url: "", name: database, server: PostgresTestServer.url ?? "").drop()
        })

    private static let quiet = Logger(label: "tollgate.test.store", factory: { _ in SwiftLogNoOpLogHandler() })

    private static func postgres(_ store: any TollgateStore) throws -> PostgresStore {
        guard let postgres = store as? PostgresStore else {
            throw TollgateError.invalidInput("the postgres backend was given a \(type(of: store))")
        }
        return postgres
    }

    private static func sqlitePath(of store: any TollgateStore) throws -> String {
        guard let sqlite = store as? SQLiteStore else {
            throw TollgateError.invalidInput("the sqlite backend was given a \(type(of: store))")
        }
        return sqlite.path
    }
}
