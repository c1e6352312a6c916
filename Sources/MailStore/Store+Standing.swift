import Foundation
import MailCore
import MailSystem
import Synchronization

/// Where a mailbox stands, read from its rows as `status` reads them: what a run's exit code and closing line are
/// made of, so they say what `status` says.
public struct MailboxStanding: Sendable, Codable, Equatable {
    /// Listed and not yet tried.
    public var pending = 0
    /// Left `delivering` (a crash, or an IMAP append held in doubt): the next run asks the target.
    public var inDoubt = 0
    /// Deferred: waiting for a later run, backoff included.
    public var deferred = 0
    /// Failed for good (not counting the quarantined).
    public var failed = 0
    public var quarantined = 0
    /// True when no poll ever listed the maildrop (a mailbox held by `[IN-USE]` since its first run): nothing of it
    /// is known, so nothing of it is delivered. Nil otherwise, and in older reports.
    public var neverListed: Bool?

    public init(pending: Int = 0, inDoubt: Int = 0, deferred: Int = 0, failed: Int = 0, quarantined: Int = 0) {
        self.pending = pending
        self.inDoubt = inDoubt
        self.deferred = deferred
        self.failed = failed
        self.quarantined = quarantined
    }

    /// Messages the server listed that are not delivered (nor duplicates, nor removed under retention).
    public var undelivered: Int { pending + inDoubt + deferred + failed + quarantined }

    public static func + (a: Self, b: Self) -> Self {
        Self(
            pending: a.pending + b.pending, inDoubt: a.inDoubt + b.inDoubt, deferred: a.deferred + b.deferred,
            failed: a.failed + b.failed, quarantined: a.quarantined + b.quarantined)
    }
}

/// What `run --quiet` last printed about a mailbox's trouble, and when.
public struct SaidTrouble: Sendable, Equatable {
    /// A `FailureKind`'s raw value, or "waiting".
    public var kind: String
    public var text: String
    /// When this trouble was first printed, and when last (a reminder counts).
    public var since: Double
    public var at: Double

    public init(kind: String, text: String, since: Double, at: Double) {
        self.kind = kind
        self.text = text
        self.since = since
        self.at = at
    }
}

extension Store {
    /// The mailbox's messages (not the routed deliveries of catch-all messages) by where they stand. A message that
    /// vanished from the server is not among them: the run that noticed it said so (and exited 1); it is listed
    /// apart, under "needs attention", and no later run can deliver it.
    public func standing(mailbox: Int64) throws -> MailboxStanding {
        try read { db in
            var standing = MailboxStanding()
            for (state, quarantined, count) in try db.prepare(
                """
                SELECT state, quarantined, count(*) FROM messages
                WHERE mailbox_id = ? AND parent_id IS NULL AND vanished_at IS NULL
                GROUP BY state, quarantined
                """
            ).rows([.int(mailbox)], { ($0.text(0) ?? "", $0.int(1) != 0, Int($0.int(2))) }) {
                switch MessageState(rawValue: state) {
                case .listed: standing.pending += count
                case .delivering: standing.inDoubt += count
                case .deferred: standing.deferred += count
                case .failed where quarantined: standing.quarantined += count
                case .failed: standing.failed += count
                default: break
                }
            }
            let listed =
                try db.prepare("SELECT last_poll_at IS NOT NULL FROM mailboxes WHERE id = ?")
                .rows([.int(mailbox)]) { $0.int(0) != 0 }.first ?? false
            if !listed { standing.neverListed = true }
            return standing
        }
    }

    /// What `run --quiet` last said about the mailbox `key`, when its maildrop was last listed (nil: never) and
    /// when the state first knew it.
    public func saidTrouble(key: String) throws -> (said: SaidTrouble?, lastListedAt: Double?, createdAt: Double?) {
        try read { db in
            try db.prepare(
                """
                SELECT said_kind, said_error, said_since, said_at, last_poll_at, created_at FROM mailboxes WHERE key = ?
                """
            ).rows([.text(key)]) { row in
                let said =
                    row.isNull(0)
                    ? nil
                    : SaidTrouble(
                        kind: row.text(0) ?? "", text: row.text(1) ?? "", since: row.double(2), at: row.double(3))
                return (said, row.isNull(4) ? nil : row.double(4), row.isNull(5) ? nil : row.double(5))
            }.first ?? (nil, nil, nil)
        }
    }

    /// Keeps what `run --quiet` just said about the mailbox `key` (nil: it said the trouble is over).
    public func recordSaid(key: String, _ said: SaidTrouble?) throws {
        try write { db in
            try db.prepare(
                "UPDATE mailboxes SET said_kind = ?, said_error = ?, said_since = ?, said_at = ? WHERE key = ?"
            ).run([
                said.map { .text($0.kind) } ?? .null, said.map { .text($0.text) } ?? .null,
                said.map { .double($0.since) } ?? .null, said.map { .double($0.at) } ?? .null, .text(key),
            ])
        }
    }
}
