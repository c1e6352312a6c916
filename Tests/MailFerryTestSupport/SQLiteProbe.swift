import CSQLite
import Foundation

/// Reads and writes a state database behind the store's back, with SQLite's C API alone: tests seed old schema
/// versions and look at the rows a run left, without trusting the code under test to show them.
enum SQLiteProbe {
    /// One row: column name → "i:…" (integer), "r:…" (real), "t:…" (text) or "null".
    typealias Row = [String: String]

    struct Failure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    static func exec(_ path: String, _ sql: String) throws {
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK else { throw SQLiteProbe.Failure(message: "open \(path)") }
        defer { sqlite3_close(db) }
        var error: UnsafeMutablePointer<CChar>?
        if sqlite3_exec(db, sql, nil, nil, &error) != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? "?"
            sqlite3_free(error)
            throw SQLiteProbe.Failure(message: message)
        }
    }

    /// Every row of a query, each column as "i:…", "r:…", "t:…" or "null".
    static func dump(_ path: String, _ sql: String) throws -> [Row] {
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else {
            throw SQLiteProbe.Failure(message: "open \(path)")
        }
        defer { sqlite3_close(db) }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK else {
            throw SQLiteProbe.Failure(message: String(cString: sqlite3_errmsg(db)))
        }
        defer { sqlite3_finalize(statement) }
        var rows: [Row] = []
        while sqlite3_step(statement) == SQLITE_ROW {
            var row: Row = [:]
            for column in 0..<sqlite3_column_count(statement) {
                let name = String(cString: sqlite3_column_name(statement, column))
                switch sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: row[name] = "i:\(sqlite3_column_int64(statement, column))"
                case SQLITE_FLOAT: row[name] = "r:\(sqlite3_column_double(statement, column))"
                case SQLITE_NULL: row[name] = "null"
                default: row[name] = "t:" + String(cString: sqlite3_column_text(statement, column))
                }
            }
            rows.append(row)
        }
        return rows
    }
}
