import Foundation
import GRDB
import TollgateCore

extension SQLiteStore {
    /// Settings live in `tollgate_meta` under this prefix (the rest of that table is the store's own).
    static let settingPrefix = "setting."

    public func openSnapshot() async throws -> any StoreSnapshot {
        do {
            return SQLiteSnapshot(snapshot: try pool.makeSnapshot())
        } catch {
            throw Self.map(error)
        }
    }

    public func importRows(_ table: StoreTable, _ rows: [[StoreValue]]) async throws {
        guard !rows.isEmpty else { return }
        try await write { db in
            let (name, columns) = table.name == "settings" ? ("tollgate_meta", ["key", "value"]) : (table.name, table.columns)
            let sql = "INSERT INTO \(name) (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))"
            let statement = try db.cachedStatement(sql: sql)
            for row in rows {
                var values = row.map(Self.databaseValue)
                if table.name == "settings", case .text(let key) = row[0] {
                    values[0] = (Self.settingPrefix + key).databaseValue
                }
                try statement.execute(arguments: StatementArguments(values))
            }
        }
    }

    /// SQLite's AUTOINCREMENT counters follow explicit ids on their own.
    public func finishImport() async throws {}

    static func databaseValue(_ value: StoreValue) -> DatabaseValue {
        switch value {
        case .null: .null
        case .integer(let i): i.databaseValue
        case .text(let t): t.databaseValue
        case .blob(let b): b.databaseValue
        }
    }
}

/// A read transaction on a connection of its own, held open until closed: every read sees the same moment.
final class SQLiteSnapshot: StoreSnapshot, @unchecked Sendable {
    private let snapshot: DatabaseSnapshot

    init(snapshot: DatabaseSnapshot) { self.snapshot = snapshot }

    func rows(_ table: StoreTable, after: StoreValue?, limit: Int) async throws -> [[StoreValue]] {
        let settings = table.name == "settings"
        let from = settings ? "tollgate_meta" : table.name
        let columns = settings ? ["substr(key, \(SQLiteStore.settingPrefix.count + 1))", "value"] : table.columns
        var sql = "SELECT \(columns.joined(separator: ", ")) FROM \(from) WHERE 1 = 1"
        var arguments: [DatabaseValue] = []
        if settings {
            sql += " AND key LIKE ?"
            arguments.append((SQLiteStore.settingPrefix + "%").databaseValue)
        }
        if let after {
            sql += settings ? " AND key > ?" : " AND \(table.key) > ?"
            if settings, case .text(let key) = after {
                arguments.append((SQLiteStore.settingPrefix + key).databaseValue)
            } else {
                arguments.append(SQLiteStore.databaseValue(after))
            }
        }
        sql += " ORDER BY \(settings ? "key" : table.key) LIMIT ?"
        arguments.append(limit.databaseValue)
        let query = sql
        let bound = arguments
        do {
            return try await snapshot.read { db in
                try Row.fetchAll(db, sql: query, arguments: StatementArguments(bound)).map { row in
                    (0..<row.count).map { index -> StoreValue in
                        switch row[index] as DatabaseValue {
                        case let value where value.isNull: return .null
                        case let value:
                            switch value.storage {
                            case .int64(let i): return .integer(i)
                            case .double(let d): return .integer(Int64(d))
                            case .string(let s): return .text(s)
                            case .blob(let b): return .blob(b)
                            case .null: return .null
                            }
                        }
                    }
                }
            }
        } catch {
            throw SQLiteStore.map(error)
        }
    }

    func close() async {
        try? snapshot.close()
    }
}
