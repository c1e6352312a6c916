import CSQLite
import Foundation
import Glibc
import MailCore
import MailSystem

/// A copy of a state database taken while a run may be writing it (`mailferry backup`), with SQLite's online backup
/// API: one `sqlite3_backup_step(-1)` copies every page inside one read transaction of the source, so the copy is
/// the database as of one commit (WAL lets the run go on writing meanwhile). No plan lock is taken.
public enum StateBackup {
    public struct Result: Sendable {
        public var pages: Int
        public var bytes: Int
    }

    /// Why a backup was not written.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The destination exists and replacing it was not asked for.
    public struct Exists: Error, CustomStringConvertible {
        public var path: String
        public var description: String { "\(path) exists; give --force to replace it" }
    }

    /// Copies the database at `source` to `destination`: written to a temporary file beside it (0600), left in
    /// rollback-journal mode (one self-contained file, no -wal to carry along), checked with `quick_check`,
    /// fsynced, then renamed into place and the folder fsynced. An existing `destination` is kept unless `replace`.
    public static func copy(from source: String, to destination: String, replace: Bool) throws -> Result {
        guard FileManager.default.fileExists(atPath: source) else {
            throw Failure(description: "\(source) does not exist (nothing has run yet)")
        }
        if !replace && FileManager.default.fileExists(atPath: destination) {
            throw Exists(path: destination)
        }
        let folder = (destination as NSString).deletingLastPathComponent
        let name = (destination as NSString).lastPathComponent
        let temporary = (folder.isEmpty ? "" : folder + "/") + ".\(name).tmp-\(getpid())"
        let leftovers = [temporary, temporary + "-journal", temporary + "-wal", temporary + "-shm"]
        for file in leftovers { unlink(file) }
        var placed = false
        defer { if !placed { for file in leftovers { unlink(file) } } }
        let fd = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot create \(temporary): \(errnoText())") }
        close(fd)

        let result: Result
        do {
            let from = try Database(path: source)
            let into = try Database(path: temporary)
            result = try from.backup(into: into)
            // One file, whatever the source's journal mode: the run that uses it again sets WAL itself.
            try into.execute("PRAGMA journal_mode = DELETE")
            if let problem = try into.integrityProblems(.quick).first {
                throw Failure(description: "the copy fails quick_check (\(problem)); the state was not copied whole")
            }
        }
        try syncFile(temporary)
        if replace {
            guard rename(temporary, destination) == 0 else {
                throw Failure(description: "cannot rename \(temporary) to \(destination): \(errnoText())")
            }
        } else {
            // link() fails if the name was taken meanwhile: an existing file is never replaced without --force.
            guard link(temporary, destination) == 0 else {
                if errno == EEXIST { throw Exists(path: destination) }
                throw Failure(description: "cannot create \(destination): \(errnoText())")
            }
            unlink(temporary)
        }
        placed = true
        try syncFile(folder.isEmpty ? "." : folder)
        return result
    }

    /// fsync of a file or folder.
    static func syncFile(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open \(path) to sync it: \(errnoText())") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Failure(description: "cannot sync \(path): \(errnoText())") }
    }
}

extension Database {
    /// Copies every page of this database into `destination` (sqlite3_backup_init / _step(-1) / _finish): all in one
    /// step, so in one read transaction of this connection, and so one consistent commit. A step that finds the
    /// source busy (a WAL recovery, a checkpoint resetting the log) is retried for up to 10 s.
    func backup(into destination: Database) throws -> StateBackup.Result {
        guard let backup = sqlite3_backup_init(destination.handle, "main", handle, "main") else {
            try destination.check(sqlite3_errcode(destination.handle), "start the backup of \(path)")
            throw DatabaseError(code: SQLITE_ERROR, message: "cannot start the backup of \(path)")
        }
        var rc = sqlite3_backup_step(backup, -1)
        let deadline = Date().addingTimeInterval(10)
        while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && Date() < deadline {
            usleep(50_000)
            rc = sqlite3_backup_step(backup, -1)
        }
        let pages = Int(sqlite3_backup_pagecount(backup))
        let finished = sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE else {
            let message = String(cString: sqlite3_errstr(rc))
            throw DatabaseError(code: rc, message: "state database \(path): backup: \(message)")
        }
        try destination.check(finished, "finish the backup of \(path)")
        let pageSize = try prepare("PRAGMA page_size").rows { Int($0.int(0)) }.first ?? 0
        return StateBackup.Result(pages: pages, bytes: pages * pageSize)
    }
}
