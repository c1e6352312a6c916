import Foundation
import MailCore
import MailSystem
import Synchronization

extension Store {
    // MARK: - Summaries

    /// Message counts by state for one mailbox.
    public func counts(mailbox: Int64) throws -> [MessageState: Int] {
        try database.withLock { db in
            var result: [MessageState: Int] = [:]
            for (state, count) in try db.prepare(
                "SELECT state, count(*) FROM messages WHERE mailbox_id = ? AND parent_id IS NULL GROUP BY state"
            )
            .rows([.int(mailbox)], { ($0.text(0) ?? "", Int($0.int(1))) }) {
                if let s = MessageState(rawValue: state) { result[s] = count }
            }
            return result
        }
    }

    // MARK: - Runs

    public func startRun(id runID: String) throws {
        let time = now()
        try write { db in
            try db.prepare("INSERT INTO runs (run_id, started_at) VALUES (?, ?)").run([.text(runID), .double(time)])
        }
    }

    /// Drops the report JSON of all runs but the newest `keep` and `current` (their rows stay, counted). Returns how
    /// many.
    @discardableResult
    public func pruneRunSummaries(keep: Int, sparing current: String) throws -> Int {
        guard keep > 0 else { return 0 }
        return try write { db in
            try db.prepare(
                """
                UPDATE runs SET summary = NULL WHERE summary IS NOT NULL AND run_id != ?
                AND run_id NOT IN (SELECT run_id FROM runs ORDER BY started_at DESC LIMIT ?)
                """
            ).run([.text(current), .int(Int64(keep))])
            return db.changes
        }
    }

    /// When the latest run that ended with exit 0 ended (unix time), nil when none has: the metrics' last success,
    /// which a failing run leaves as it was.
    public func lastSuccessfulRunEnd() throws -> Double? {
        try read { db in
            try db.prepare("SELECT max(finished_at) FROM runs WHERE exit_code = 0 AND finished_at IS NOT NULL")
                .rows { $0.isNull(0) ? nil : $0.double(0) }.first ?? nil
        }
    }

    /// The run's end (also commits whatever notes still wait in the group commit's queue).
    public func finishRun(id runID: String, exitCode: Int32, summaryJSON: String) throws {
        let time = now()
        try write { db in
            try db.prepare("UPDATE runs SET finished_at = ?, exit_code = ?, summary = ? WHERE run_id = ?")
                .run([.double(time), .int(Int64(exitCode)), .text(summaryJSON), .text(runID)])
        }
    }
}
