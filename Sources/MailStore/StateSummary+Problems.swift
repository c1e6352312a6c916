import Foundation
import MailCore
import MailSystem

/// The messages waiting for someone, with their reasons, so `status --json` and the dashboard can say why and not
/// only how many.
extension StateSummary {
    /// A message that is deferred (retried by the next run), failed or quarantined, and why.
    public struct OpenProblem: Sendable, Equatable {
        public var mailboxKey: String
        public var uidl: String
        public var state: MessageState
        public var quarantined: Bool
        /// The failure kind ("transient", "permanent", "quota"...), as recorded.
        public var errorKind: String?
        /// The reason, as the last attempt recorded it.
        public var lastError: String?
        /// When the row last changed (unix time).
        public var updatedAt: Double
    }

    /// Problems read at most: the dashboard and `status --json` show the most recent ones; the counts are whole.
    package static let problemsListed = 50

    /// The most recent open problems over every file, newest first, at most `limit`. A message several files know
    /// is taken with its row furthest along (as `MergedState` does), so one delivered in a shard's file is not
    /// listed as failed because the plan's own file once said so.
    static func readProblems(
        _ files: [(db: Database, mailboxes: [Int64: StateSnapshot.Mailbox])], holders: [String: [Int]],
        limit: Int = problemsListed
    ) throws -> [OpenProblem] {
        var found: [OpenProblem] = []
        for (index, file) in files.enumerated() {
            let rows = try file.db.prepare(
                """
                SELECT mailbox_id, uidl, state, quarantined, error_kind, last_error, updated_at FROM messages
                WHERE parent_id IS NULL AND state IN ('deferred', 'failed') AND vanished_at IS NULL
                ORDER BY updated_at DESC LIMIT ?
                """
            ).rows([.int(Int64(limit))]) { row -> OpenProblem? in
                guard let key = file.mailboxes[row.int(0)]?.key else { return nil }
                return OpenProblem(
                    mailboxKey: key, uidl: row.text(1) ?? "",
                    state: MessageState(rawValue: row.text(2) ?? "") ?? .failed, quarantined: row.int(3) != 0,
                    errorKind: row.text(4), lastError: row.text(5), updatedAt: row.double(6))
            }
            for case let problem? in rows {
                let others = (holders[problem.mailboxKey] ?? []).filter { $0 != index }
                if try others.allSatisfy({ try !Self.supersedes(files[$0], problem) }) { found.append(problem) }
            }
        }
        return Array(found.sorted { $0.updatedAt > $1.updatedAt }.prefix(limit))
    }

    /// Whether `file` holds a row of the same message further along than `problem`'s (or as far and newer).
    private static func supersedes(
        _ file: (db: Database, mailboxes: [Int64: StateSnapshot.Mailbox]), _ problem: OpenProblem
    ) throws -> Bool {
        guard let id = file.mailboxes.first(where: { $0.value.key == problem.mailboxKey })?.key else { return false }
        let rows = try file.db.prepare(
            "SELECT state, updated_at FROM messages WHERE mailbox_id = ? AND uidl = ? AND parent_id IS NULL"
        ).rows([.int(id), .text(problem.uidl)]) { row in
            (MessageState(rawValue: row.text(0) ?? "") ?? .listed, row.double(1))
        }
        return rows.contains { state, updatedAt in
            (MergedState.rank(state), updatedAt) > (MergedState.rank(problem.state), problem.updatedAt)
        }
    }
}
