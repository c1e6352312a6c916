import Foundation
import MailCore
import MailSystem
import Synchronization

extension Store {
    // MARK: - Mailboxes

    /// The id of the mailbox with this identity, creating its row on first sight.
    public func registerMailbox(
        key: String, source: String, user: String, target: String,
        address: String?
    ) throws -> Int64 {
        // Known and unchanged (every run after the first): nothing to write, so no commit.
        let known = try database.withLock { db in
            try db.prepare("SELECT id FROM mailboxes WHERE key = ? AND target = ? AND address IS ?")
                .rows([.text(key), .text(target), address.map { .text($0) } ?? .null]) { $0.int(0) }.first
        }
        if let known { return known }
        let time = now()
        return try write { db in
            try db.prepare(
                """
                INSERT INTO mailboxes (key, source, user, target, address, created_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (key) DO UPDATE SET target = excluded.target, address = excluded.address
                """
            ).run([
                .text(key), .text(source), .text(user), .text(target), address.map { .text($0) } ?? .null,
                .double(time),
            ])
            return try db.prepare("SELECT id FROM mailboxes WHERE key = ?").rows([.text(key)]) { $0.int(0) }.first!
        }
    }

    /// Records a maildrop listing: adds a `listed` row for every UIDL not seen before (one transaction) and notes
    /// the poll. Returns the rows that still need work, in the server's order: listed, and deferred rows whose next
    /// try is due.
    /// `known`: the UIDLs the caller already read (`knownSizes`), so they are not read twice per poll; when nil
    /// they are read here.
    public func syncListing(
        mailbox: Int64, entries: [some ListedMessage],
        known: Set<String>? = nil
    ) throws -> (work: [MessageRecord], new: Int) {
        let time = now()
        return try write { db in
            let knownSet =
                try known
                ?? Set(
                    db.prepare("SELECT uidl FROM messages WHERE mailbox_id = ?")
                        .rows([.int(mailbox)]) { $0.text(0) ?? "" })
            let insert = try db.prepare(
                """
                INSERT INTO messages (mailbox_id, uidl, listed_size, state, first_seen_at, updated_at)
                VALUES (?, ?, ?, 'listed', ?, ?) ON CONFLICT (mailbox_id, uidl) DO NOTHING
                """)
            var added = 0
            for entry in entries where !knownSet.contains(entry.uidl) {
                try insert.run([
                    .int(mailbox), .text(entry.uidl), .int(Int64(entry.size)), .double(time),
                    .double(time),
                ])
                added += db.changes
            }
            try db.prepare(
                """
                UPDATE mailboxes SET last_poll_at = ?, server_count = ?, server_bytes = ? WHERE id = ?
                """
            ).run([
                .double(time), .int(Int64(entries.count)),
                .int(Int64(entries.reduce(0) { $0 + $1.size })), .int(mailbox),
            ])
            let pending = try db.prepare(
                """
                SELECT \(Store.recordColumns) FROM messages
                WHERE mailbox_id = ? AND state IN ('listed', 'deferred') AND parent_id IS NULL
                AND (state = 'listed' OR coalesce(next_try_at, 0) <= ?)
                """
            ).rows([.int(mailbox), .double(time)], Store.record)
            if pending.isEmpty { return ([], added) }
            let order = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.uidl, $0) })
            // Only what the server still has can be fetched; keep the server's order.
            let work = pending.filter { order[$0.uidl] != nil }.sorted { order[$0.uidl]! < order[$1.uidl]! }
            return (work, added)
        }
    }

    /// Notes the end of a mailbox's poll: success clears the last error. The first poll that listed the maildrop
    /// is kept too (`first_listed_at`, the time of that listing, which its rows' first sight equals): `status`
    /// knows from it which messages were already on the server when mailferry first looked.
    public func finishPoll(mailbox: Int64, error: String?) throws {
        let time = now()
        try write { db in
            if let error {
                try db.prepare(
                    """
                    UPDATE mailboxes SET last_error = ?, first_listed_at = coalesce(first_listed_at, last_poll_at)
                    WHERE id = ?
                    """
                ).run([.text(error), .int(mailbox)])
            } else {
                try db.prepare(
                    """
                    UPDATE mailboxes SET last_error = NULL, last_ok_at = ?,
                        first_listed_at = coalesce(first_listed_at, last_poll_at) WHERE id = ?
                    """
                ).run([.double(time), .int(mailbox)])
            }
        }
    }

    /// When the server next allows a login to this mailbox (LOGIN-DELAY, or a [LOGIN-DELAY]/[IN-USE] refusal).
    public func nextLoginAllowed(mailbox: Int64) throws -> Double? {
        try database.withLock { db in
            try db.prepare("SELECT next_login_at FROM mailboxes WHERE id = ?").rows([.int(mailbox)]) {
                $0.isNull(0) ? nil : $0.double(0)
            }.first ?? nil
        }
    }

    /// Notes a successful login and the delay the server wants before the next one.
    ///
    /// Not a checkpoint: it is queued for the next group commit (in practice the same mailbox's listing, which
    /// follows at once) instead of costing a commit of its own. Lost to a crash, the next login may come early, and
    /// a server that minds says [LOGIN-DELAY], which makes the mailbox wait.
    public func recordLogin(mailbox: Int64, delay: Int?) throws {
        let time = now()
        _ = submit { db in
            try db.prepare("UPDATE mailboxes SET last_login_at = ?, login_delay = ?, next_login_at = ? WHERE id = ?")
                .run([
                    .double(time), delay.map { .int(Int64($0)) } ?? .null,
                    delay.map { .double(time + Double($0)) } ?? .null, .int(mailbox),
                ])
        }
    }

    /// No login before `time` (the server asked us to wait).
    public func postponeLogin(mailbox: Int64, until time: Double) throws {
        try database.withLock { db in
            try db.prepare("UPDATE mailboxes SET next_login_at = ? WHERE id = ?").run([.double(time), .int(mailbox)])
        }
    }

    /// The delay the server announced at the last login, if any.
    public func loginDelay(mailbox: Int64) throws -> Int? {
        try database.withLock { db in
            try db.prepare("SELECT login_delay FROM mailboxes WHERE id = ?").rows([.int(mailbox)]) {
                $0.isNull(0) ? nil : Int($0.int(0))
            }.first ?? nil
        }
    }
}
