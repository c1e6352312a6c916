import CSQLite
import Foundation
import MailCore
import MailSystem

/// An error from SQLite, with the statement or file it concerns.
public struct DatabaseError: Error, CustomStringConvertible, Sendable {
    public var code: Int32
    public var message: String
    /// The database file, and SQLite's own words for what went wrong ("unable to open database file"), where
    /// known: what `status` and `verify` put in a sentence of their own.
    public var path: String? = nil
    public var reason: String? = nil
    public var description: String { message }

    /// SQLite could not open or read the file at all (as opposed to a statement failing on a database it read).
    public var cannotOpen: Bool {
        [SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_READONLY, SQLITE_IOERR, SQLITE_NOTADB, SQLITE_AUTH].contains(code & 0xFF)
    }
}

/// One SQLite connection (sqlite3*). Every call into SQLite passes `check`, which turns result codes into errors.
/// Not thread-safe on its own; `Store` serialises access.
// Unchecked: a Database is only ever used under the Store's mutex, one thread at a time; the group commit's leader
// hands it to the writes of other threads inside that mutex.
final class Database: @unchecked Sendable {
    private(set) var handle: OpaquePointer?
    let path: String
    /// Prepared statements no longer in use, kept for the next `prepare` of the same SQL.
    private let idle = StatementCache()

    /// Opens (creating if needed) the database at `path`. The file is created 0600: it names mailboxes and people.
    init(path: String) throws {
        _ = Database.configured
        self.path = path
        let existed = FileManager.default.fileExists(atPath: path)
        if !existed {
            let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
            if fd < 0 {
                throw DatabaseError(
                    code: SQLITE_CANTOPEN, message: "cannot create state database \(path): \(errnoText())",
                    path: path, reason: errnoText())
            }
            close(fd)
        } else {
            // One created by an older version or by hand may be open to others; SQLite creates -wal and -shm with
            // the database's mode, so this keeps them private too.
            for file in [path, path + "-wal", path + "-shm"] {
                var info = stat()
                if stat(file, &info) == 0, info.st_mode & 0o077 != 0 { chmod(file, info.st_mode & 0o700) }
            }
        }
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        handle = db
        if rc != SQLITE_OK {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            handle = nil
            throw DatabaseError(
                code: rc, message: "cannot open state database \(path): \(message)", path: path, reason: message)
        }
        sqlite3_busy_timeout(db, 10_000)
    }

    deinit {
        idle.close()
        sqlite3_close_v2(handle)
    }

    /// Process-wide settings, made once before the first connection opens.
    private static let configured: Void = {
        _ = mf_sqlite_disable_memstatus()
    }()

    /// Turns a result code into an error naming what was being done.
    @discardableResult
    func check(_ rc: Int32, _ what: @autoclosure () -> String) throws -> Int32 {
        switch rc {
        case SQLITE_OK, SQLITE_ROW, SQLITE_DONE:
            return rc
        default:
            let message = String(cString: sqlite3_errmsg(handle))
            throw DatabaseError(
                code: rc, message: "state database \(path): \(what()): \(message)", path: path, reason: message)
        }
    }

    /// Runs one or more statements without results.
    func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        if rc != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(error)
            throw DatabaseError(code: rc, message: "state database \(path): \(message)", path: path, reason: message)
        }
    }

    /// A statement for `sql`: one a dropped `Statement` of the same SQL left behind (reset, bindings cleared), or
    /// a new one. Every checkpoint prepares the same few statements, and compiling them again each time cost more
    /// than running them. A statement in use is never handed out twice: only dropped ones are kept.
    func prepare(_ sql: String) throws -> Statement {
        if let reused = idle.take(sql) { return Statement(handle: reused, sql: sql, cache: idle, database: self) }
        var statement: OpaquePointer?
        try check(
            sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil),
            "prepare \(sql.prefix(60))")
        return Statement(handle: statement!, sql: sql, cache: idle, database: self)
    }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    var changes: Int { Int(sqlite3_changes(handle)) }
}

/// A prepared statement (sqlite3_stmt*). Values are bound by position starting at 1; text and blobs are bound with
/// their byte length and copied (SQLITE_TRANSIENT).
final class Statement {
    private let handle: OpaquePointer
    private let sql: String
    private let cache: StatementCache
    private unowned let database: Database

    init(handle: OpaquePointer, sql: String, cache: StatementCache, database: Database) {
        self.handle = handle
        self.sql = sql
        self.cache = cache
        self.database = database
    }

    deinit { cache.put(handle, sql: sql) }

    enum Value {
        case int(Int64)
        case double(Double)
        case text(String)
        case null
    }

    @discardableResult
    func bind(_ values: [Value]) throws -> Statement {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .int(let v): rc = sqlite3_bind_int64(handle, index, v)
            case .double(let v): rc = sqlite3_bind_double(handle, index, v)
            case .null: rc = sqlite3_bind_null(handle, index)
            case .text(let v):
                rc = v.utf8CString.withUnsafeBufferPointer { utf8 in
                    sqlite3_bind_text64(
                        handle, index, utf8.baseAddress, sqlite3_uint64(utf8.count - 1),
                        mf_sqlite_transient(), UInt8(SQLITE_UTF8))
                }
            }
            try database.check(rc, "bind parameter \(index)")
        }
        return self
    }

    /// Steps once; true while a row is available.
    func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        try database.check(rc, "step")
        return rc == SQLITE_ROW
    }

    /// Runs a statement that returns no rows.
    func run(_ values: [Value] = []) throws {
        try bind(values)
        while try step() {}
        sqlite3_reset(handle)
    }

    /// Collects every row through `row`.
    func rows<T>(_ values: [Value] = [], _ row: (Statement) throws -> T) throws -> [T] {
        try bind(values)
        var result: [T] = []
        while try step() { result.append(try row(self)) }
        sqlite3_reset(handle)
        return result
    }

    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    func text(_ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }
}

/// The idle prepared statements of one connection, by SQL text (a few per SQL at most: a statement is only here
/// while no `Statement` holds it). Its own lock: a `Statement` may be dropped on any thread.
final class StatementCache: @unchecked Sendable {
    private let lock = NSLock()
    private var statements: [String: [OpaquePointer]] = [:]
    private var count = 0
    private var closed = false
    /// More idle statements than this are finalized instead (the SQL a run uses is a few dozen texts).
    private static let limit = 64

    func take(_ sql: String) -> OpaquePointer? {
        lock.lock()
        defer { lock.unlock() }
        guard let handle = statements[sql]?.popLast() else { return nil }
        count -= 1
        return handle
    }

    /// Keeps a statement for reuse (reset, bindings cleared), or finalizes it when the connection is closing or
    /// enough are kept.
    func put(_ handle: OpaquePointer, sql: String) {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        lock.lock()
        if closed || count >= Self.limit {
            lock.unlock()
            sqlite3_finalize(handle)
            return
        }
        statements[sql, default: []].append(handle)
        count += 1
        lock.unlock()
    }

    /// Finalizes every idle statement; statements dropped later are finalized at once.
    func close() {
        lock.lock()
        let all = statements.values.flatMap { $0 }
        statements = [:]
        count = 0
        closed = true
        lock.unlock()
        for handle in all { sqlite3_finalize(handle) }
    }
}
