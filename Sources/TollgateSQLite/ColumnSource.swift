import Foundation
import GRDB
import GRDBSQLite

/// Typed access to the columns of one result row, so one decoder serves GRDB rows and raw statements.
protocol ColumnSource {
    /// The column as an integer; `nil` when NULL.
    func integer(_ index: Int32) -> Int64?
    /// The column as text; `nil` when NULL.
    func text(_ index: Int32) -> String?
    /// The column as bytes; `nil` when NULL.
    func blob(_ index: Int32) -> Data?
}

extension ColumnSource {
    func int(_ index: Int32) -> Int64 { integer(index) ?? 0 }
    func bool(_ index: Int32) -> Bool { (integer(index) ?? 0) != 0 }
    func string(_ index: Int32) -> String { text(index) ?? "" }
    func date(_ index: Int32) -> Date? { integer(index).map(Date.init(millisecondsSince1970:)) }
}

/// A GRDB row.
struct GRDBRowColumns: ColumnSource {
    let row: Row
    func integer(_ index: Int32) -> Int64? { row[Int(index)] }
    func text(_ index: Int32) -> String? { row[Int(index)] }
    func blob(_ index: Int32) -> Data? { row[Int(index)] }
}

/// The current row of a raw SQLite statement (valid until the next step or reset).
struct SQLiteStatementColumns: ColumnSource {
    let statement: OpaquePointer

    func integer(_ index: Int32) -> Int64? {
        sqlite3_column_type(statement, index) == SQLITE_NULL ? nil : sqlite3_column_int64(statement, index)
    }

    func text(_ index: Int32) -> String? {
        guard let bytes = sqlite3_column_text(statement, index) else { return nil }
        return String(cString: bytes)
    }

    func blob(_ index: Int32) -> Data? {
        guard sqlite3_column_type(statement, index) != SQLITE_NULL else { return nil }
        let count = Int(sqlite3_column_bytes(statement, index))
        guard count > 0, let bytes = sqlite3_column_blob(statement, index) else { return Data() }
        return Data(bytes: bytes, count: count)
    }
}
