import Foundation
import Logging
import PostgresNIO
import TollgateCore

// `tollgate store copy`: a consistent snapshot to read from, and a bulk import to write into.
extension PostgresStore {
    public func openSnapshot() async throws -> any StoreSnapshot {
        let connection = try await Self.connect(configuration, logger: Self.silentLogger)
        do {
            try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: queryLogger)
        } catch {
            try? await connection.close()
            throw Self.map(error, displayName: displayName)
        }
        return PostgresSnapshot(connection: connection, displayName: displayName)
    }

    public func importRows(_ table: StoreTable, _ rows: [[StoreValue]]) async throws {
        guard !rows.isEmpty else { return }
        let booleans = try await booleanColumns(of: table)
        // Many rows per statement (PostgreSQL binds at most 65,535 values to one): one parse and plan per chunk.
        let rowsPerStatement = max(1, 30_000 / max(1, table.columns.count))
        try await transaction { db in
            var start = 0
            while start < rows.count {
                let chunk = rows[start..<min(rows.count, start + rowsPerStatement)]
                var statement = SQLBuilder()
                var tuples: [String] = []
                for row in chunk {
                    var placeholders: [String] = []
                    for (column, value) in zip(table.columns, row) {
                        placeholders.append(try Self.bind(value, boolean: booleans.contains(column), into: &statement))
                    }
                    tuples.append("(" + placeholders.joined(separator: ", ") + ")")
                }
                statement.text = "INSERT INTO \(table.name) (\(table.columns.joined(separator: ", "))) VALUES " + tuples.joined(separator: ", ")
                try await db.query(statement.query, logger: queryLogger)
                start += chunk.count
            }
        }
    }

    public func finishImport() async throws {
        let identities = try await rows("""
            SELECT table_name, column_name FROM information_schema.columns
            WHERE table_schema = current_schema() AND is_identity = 'YES'
            """).map { (try $0.string(0), try $0.string(1)) }
        try await transaction { db in
            for (table, column) in identities where StoreTable.all.contains(where: { $0.name == table }) {
                try await db.query(PostgresQuery(unsafeSQL: """
                    SELECT setval(pg_get_serial_sequence('\(table)', '\(column)'), coalesce(max(\(column)), 0) + 1, false) FROM \(table)
                    """), logger: queryLogger)
            }
        }
        // A bulk load leaves no statistics and no visibility map: VACUUM ANALYZE gives the planner the first and
        // index-only scans (the grants listing's subject-index branch, counts) the second. It cannot run in a
        // transaction, and takes its time on a big table: ten minutes, not the operation timeout.
        let logger = queryLogger
        for table in StoreTable.all {
            _ = try await Self.leased(from: client, within: 600, displayName: displayName) { db in
                try await db.query(PostgresQuery(unsafeSQL: "VACUUM (ANALYZE) \(table.name)"), logger: logger)
            }
        }
    }

    /// The columns of `table` stored as `BOOLEAN` (SQLite keeps them as 0/1 integers).
    private func booleanColumns(of table: StoreTable) async throws -> Set<String> {
        let rows = try await rows("""
            SELECT column_name FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = \(table.name) AND data_type = 'boolean'
            """)
        return Set(try rows.map { try $0.string(0) })
    }

    private static func bind(_ value: StoreValue, boolean: Bool, into statement: inout SQLBuilder) throws -> String {
        switch value {
        case .null: return try statement.bind(Optional<String>.none)
        case .integer(let i) where boolean: return try statement.bind(i != 0)
        case .integer(let i): return try statement.bind(i)
        case .text(let t): return try statement.bind(t)
        case .blob(let b): return try statement.bind(b)
        }
    }
}

/// A REPEATABLE READ, READ ONLY transaction on a connection of its own, open until closed: every page is read
/// from the same moment.
final class PostgresSnapshot: StoreSnapshot, @unchecked Sendable {
    private let connection: PostgresConnection
    private let displayName: String

    init(connection: PostgresConnection, displayName: String) {
        self.connection = connection
        self.displayName = displayName
    }

    func rows(_ table: StoreTable, after: StoreValue?, limit: Int) async throws -> [[StoreValue]] {
        var statement = SQLBuilder("SELECT \(table.columns.joined(separator: ", ")) FROM \(table.name)")
        if let after {
            var placeholder = ""
            switch after {
            case .integer(let i): placeholder = try statement.bind(i)
            case .text(let t): placeholder = try statement.bind(t)
            case .blob(let b): placeholder = try statement.bind(b)
            case .null: placeholder = "NULL"
            }
            statement.text += " WHERE \(table.key) > \(placeholder)"
        }
        statement.text += " ORDER BY \(table.key) LIMIT \(try statement.bind(Int64(limit)))"
        do {
            let rows = try await connection.rows(statement.query, logger: PostgresStore.silentLogger)
            return try rows.map { row in try (0..<row.count).map { try Self.value(row[$0]) } }
        } catch {
            throw PostgresStore.map(error, displayName: displayName)
        }
    }

    static func value(_ cell: PostgresCell) throws -> StoreValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .bool: return .integer(try cell.decode(Bool.self) ? 1 : 0)
        case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
        case .bytea: return .blob(try cell.decode(Data.self))
        default: return .text(try cell.decode(String.self))
        }
    }

    func close() async {
        _ = try? await connection.query("COMMIT", logger: PostgresStore.silentLogger)
        try? await connection.close()
    }
}
