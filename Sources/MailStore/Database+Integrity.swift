import CSQLite
import Foundation
import MailCore
import MailSystem

/// SQLite's own verdict on a state database (`PRAGMA quick_check` before a run moves mail, `PRAGMA integrity_check`
/// in `verify`). A database that SQLite cannot even read as one (SQLITE_NOTADB, SQLITE_CORRUPT on the way) is
/// damaged too: its error message is the complaint.
public struct StateIntegrity: Sendable, Codable, Equatable {
    /// Which pragma: `quick_check` skips what costs most (index contents against their tables, UNIQUE), and reads
    /// every page all the same.
    public enum Check: String, Sendable, Codable {
        case quick = "quick_check"
        case full = "integrity_check"
    }

    public var path: String
    public var check: Check
    /// SQLite's first complaints, one per line; empty when it answered "ok".
    public var problems: [String]
    public var ok: Bool { problems.isEmpty }

    /// At most this many complaints are kept: the first say where the damage is, the rest only how much.
    public static let complaintLimit = 10

    /// Opens the existing database at `path` and runs `check` on it.
    public static func run(_ check: Check, path: String) throws -> StateIntegrity {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DatabaseError(code: SQLITE_CANTOPEN, message: "state database \(path) does not exist")
        }
        do {
            return StateIntegrity(path: path, check: check, problems: try Database(path: path).integrityProblems(check))
        } catch let error as DatabaseError where error.isDamage {
            return StateIntegrity(path: path, check: check, problems: [error.sqliteText])
        }
    }

    /// A state at most this large is checked before every run (about 0.2 s or less; a 1,000,000-row state of
    /// ~850 MiB took 4.6 s, docs/operations.md).
    public static let alwaysCheckedBytes = 32 << 20
    /// A larger one is checked before every this many runs (and after any run that did not finish).
    public static let checkEveryRuns = 100

    /// The check a run makes before any mail moves, or nil when this run skips it. `quick_check` reads every page,
    /// so it costs in proportion to the file; it runs when the state is small, when the last run did not finish
    /// (killed, or the machine went down: when a disk that lies about fsync tears pages) or the write-ahead log
    /// was left behind, and on every `checkEveryRuns`th run. `verify` makes the full `integrity_check` always.
    /// A file SQLite cannot read even that far is damaged.
    /// `smallBytes`: the size up to which the state is always checked (tests lower it).
    public static func beforeRun(path: String, smallBytes: Int = alwaysCheckedBytes) throws -> StateIntegrity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        var walInfo = stat()
        let hotLog = stat(path + "-wal", &walInfo) == 0 && walInfo.st_size > 0
        if Int(info.st_size) > smallBytes && !hotLog {
            do {
                let db = try Database(path: path)
                let runs = try withExtendedLifetime(db) {
                    try db.prepare(
                        """
                        SELECT count(*), coalesce((SELECT finished_at IS NULL FROM runs ORDER BY id DESC LIMIT 1), 0)
                        FROM runs
                        """
                    ).rows { (count: Int($0.int(0)), unfinished: $0.int(1) != 0) }.first
                }
                if let runs, !runs.unfinished, runs.count % checkEveryRuns != 0 { return nil }
            } catch let error as DatabaseError where error.isDamage {
                return StateIntegrity(path: path, check: .quick, problems: [error.sqliteText])
            }
        }
        return try run(.quick, path: path)
    }

    /// What a person reads when a run refuses the state: which file, what SQLite said, and what to do.
    public func refusal(display: String) -> String {
        var text = "the state database \(display) is damaged: SQLite's \(check.rawValue) says\n"
        for line in problems { text += "  \(sanitizeForDisplay(line, limit: 300))\n" }
        text += """
            Nothing was run and no mail moved. To go on: stop the cron runs of this plan, then put back the latest
            backup (taken with mailferry backup PLAN FILE) and run mailferry verify PLAN, or rebuild the state with
            mailferry adopt (see docs/operations.md, "A damaged state database").
            """
        return text
    }
}

extension DatabaseError {
    /// The file is not a database, or SQLite met a damaged page while reading it (primary result codes).
    var isDamage: Bool { [SQLITE_CORRUPT, SQLITE_NOTADB].contains(code & 0xFF) }

    /// SQLite's own words for the result code ("file is not a database").
    var sqliteText: String { String(cString: sqlite3_errstr(code)) }
}

extension Database {
    /// Runs `PRAGMA quick_check(N)` or `PRAGMA integrity_check(N)` and returns SQLite's complaints (none when it
    /// answers "ok"), at most `limit`.
    func integrityProblems(
        _ check: StateIntegrity.Check,
        limit: Int = StateIntegrity.complaintLimit
    ) throws -> [String] {
        let lines = try prepare("PRAGMA \(check.rawValue)(\(max(1, limit)))").rows { $0.text(0) ?? "" }
        return lines == ["ok"]
            ? []
            : lines.flatMap { $0.split(separator: "\n").map(String.init) }.prefix(limit)
                .map { $0 }
    }
}
