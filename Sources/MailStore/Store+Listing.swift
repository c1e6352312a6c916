import Foundation
import MailCore
import MailSystem
import Synchronization

/// What the store knows of a mailbox's listing: sizes and settled ids, retention's candidates and removals.
extension Store {
    /// Every UIDL ever recorded for the mailbox, with its LIST size.
    public func knownSizes(mailbox: Int64) throws -> [String: Int] {
        try database.withLock { db in
            var sizes: [String: Int] = [:]
            for (uidl, size) in try db.prepare(
                "SELECT uidl, coalesce(listed_size, -1) FROM messages WHERE mailbox_id = ? AND parent_id IS NULL"
            )
            .rows([.int(mailbox)], { ($0.text(0) ?? "", Int($0.int(1))) }) {
                sizes[uidl] = size
            }
            return sizes
        }
    }

    /// UIDLs that need no more work (delivered, duplicate, failed, removed): what `route --dry-run` skips.
    public func settledUIDLs(mailbox: Int64) throws -> Set<String> {
        try database.withLock { db in
            Set(
                try db.prepare(
                    """
                    SELECT uidl FROM messages WHERE mailbox_id = ? AND parent_id IS NULL
                    AND state IN ('delivered', 'duplicate', 'failed', 'removed')
                    """
                ).rows([.int(mailbox)]) { $0.text(0) ?? "" })
        }
    }

    /// The id of a mailbox already known to the store, without creating it.
    public func mailboxID(key: String) throws -> Int64? {
        try database.withLock { db in
            try db.prepare("SELECT id FROM mailboxes WHERE key = ?").rows([.text(key)]) { $0.int(0) }.first
        }
    }

    /// UIDLs whose every delivery is confirmed (delivered, or a duplicate of a delivered message) at least
    /// `before` (unix time): what a retention policy may delete at the source.
    public func removable(mailbox: Int64, deliveredBefore before: Double) throws -> Set<String> {
        try database.withLock { db in
            Set(
                try db.prepare(
                    """
                    SELECT m.uidl FROM messages m LEFT JOIN messages o ON o.id = m.duplicate_of
                    WHERE m.mailbox_id = ? AND (
                        (m.state = 'delivered' AND m.delivered_at <= ?)
                        OR (m.state = 'duplicate' AND o.state IN ('delivered', 'removed') AND coalesce(o.delivered_at, 0) <= ?))
                    """
                ).rows([.int(mailbox), .double(before), .double(before)]) { $0.text(0) ?? "" })
        }
    }

    /// The server confirmed the deletion (QUIT after DELE).
    public func markRemoved(mailbox: Int64, uidls: [String]) throws {
        let time = now()
        try database.withLock { db in
            try db.transaction {
                let statement = try db.prepare(
                    """
                    UPDATE messages SET state = 'removed', removed_at = ?, updated_at = ? WHERE mailbox_id = ? AND uidl = ?
                    """)
                for uidl in uidls { try statement.run([.double(time), .double(time), .int(mailbox), .text(uidl)]) }
            }
        }
    }
}
