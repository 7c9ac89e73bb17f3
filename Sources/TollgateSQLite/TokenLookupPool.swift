import Foundation
import GRDBSQLite
import Synchronization
import TollgateCore

/// Raw SQLite connections reserved for the one query every MCP request runs: a token with its grant.
///
/// GRDB's pool serialises each read through a dispatch queue and a transaction; for a single prepared
/// SELECT by primary key that overhead was most of the cost (see the benchmark's breakdown). Each
/// connection here is used by one caller at a time (checked out of a free list), keeps its statement
/// prepared, and reads the WAL like any other connection, so commits by other processes are visible to
/// the very next lookup.
final class TokenLookupPool: @unchecked Sendable {
    /// Used by one caller at a time: checked out of `idle` under its lock.
    private final class Connection: @unchecked Sendable {
        let db: OpaquePointer
        let statement: OpaquePointer
        init(db: OpaquePointer, statement: OpaquePointer) {
            self.db = db
            self.statement = statement
        }
        deinit {
            sqlite3_finalize(statement)
            sqlite3_close_v2(db)
        }
    }

    private let path: String
    private let sql: String
    private let busyTimeoutMilliseconds: Int32
    private let idle = Mutex<[Connection]>([])
    /// At most this many idle connections are kept.
    private let maximumIdle = 8

    init(path: String, sql: String, busyTimeout: TimeInterval) {
        self.path = path
        self.sql = sql
        busyTimeoutMilliseconds = Int32(busyTimeout * 1000)
    }

    /// Runs the lookup for `hash`.
    func lookup(_ hash: Data) throws -> TokenContext? {
        let connection = try idle.withLock { $0.popLast() } ?? open()
        defer {
            idle.withLock { if $0.count < maximumIdle { $0.append(connection) } }
        }
        let statement = connection.statement
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        let bound = hash.withUnsafeBytes { buffer in
            sqlite3_bind_blob(statement, 1, buffer.baseAddress, Int32(buffer.count), unsafeBitCast(-1, to: sqlite3_destructor_type.self))
        }
        guard bound == SQLITE_OK else { throw error(connection, bound) }
        switch sqlite3_step(statement) {
        case SQLITE_ROW:
            return try SQLiteStore.tokenContext(SQLiteStatementColumns(statement: statement), hash: hash)
        case SQLITE_DONE:
            return nil
        case let code:
            throw error(connection, code)
        }
    }

    private func open() throws -> Connection {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX
        let opened = sqlite3_open_v2(path, &db, flags, nil)
        guard opened == SQLITE_OK, let db else {
            if let db { sqlite3_close_v2(db) }
            throw TollgateError(.storeUnavailable, "cannot open the database for token lookups (\(opened))")
        }
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
        var statement: OpaquePointer?
        let prepared = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard prepared == SQLITE_OK, let statement else {
            let message = String(cString: sqlite3_errmsg(db))
            sqlite3_close_v2(db)
            throw TollgateError(.damaged, "the token lookup cannot be prepared: \(message)")
        }
        return Connection(db: db, statement: statement)
    }

    private func error(_ connection: Connection, _ code: Int32) -> TollgateError {
        switch code & 0xFF {
        case SQLITE_BUSY, SQLITE_LOCKED: return TollgateError(.storeUnavailable, "the database is busy; try again")
        case SQLITE_CORRUPT, SQLITE_NOTADB: return TollgateError(.damaged, "the database is damaged (\(code))")
        default: return TollgateError(.storeUnavailable, "token lookup failed (\(code)): \(String(cString: sqlite3_errmsg(connection.db)))")
        }
    }
}
