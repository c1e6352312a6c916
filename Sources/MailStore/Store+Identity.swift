import Foundation
import MailCore
import MailSystem

/// The state's own identity and what `adopt` writes (docs/design.md, "A lost state").
extension Store {
    /// The random id this state was given on its first run (`ensureIdentity`), or nil before.
    public func identity() throws -> String? {
        try read { db in
            try db.prepare("SELECT value FROM meta WHERE key = 'state-id'").rows { $0.text(0) }.first ?? nil
        }
    }

    /// Gives the state an id unless it has one (`preferred` when given: a marker's id, for a state that predates
    /// identities), and returns it.
    @discardableResult
    public func ensureIdentity(preferred: String? = nil) throws -> String {
        if let existing = try identity() { return existing }
        let id = preferred ?? UUID().uuidString.lowercased()
        try write { db in
            try db.prepare("INSERT INTO meta (key, value) VALUES ('state-id', ?) ON CONFLICT (key) DO NOTHING")
                .run([.text(id)])
        }
        return try identity() ?? id
    }

    /// Whether the state holds nothing of a migration: no mailbox, no message, no run. A state file that was
    /// deleted, truncated to 0 bytes or replaced by an empty database is such a state once opened.
    public func isBlank() throws -> Bool {
        try read { db in
            try db.prepare(
                """
                SELECT (SELECT count(*) FROM mailboxes) + (SELECT count(*) FROM messages) + (SELECT count(*) FROM runs)
                """
            ).rows { $0.int(0) }.first == 0
        }
    }

    /// Records what `adopt` found in the target: the row is delivered, with the file (or IMAP reference) the target
    /// holds and, where the target's copy could be read, its size and hash.
    public func markAdopted(
        id: Int64, token: String, target: String, targetRef: String, size: Int?,
        sha256: String?
    ) throws {
        let time = now()
        try write { db in
            try db.prepare(
                """
                UPDATE messages SET state = 'delivered', token = ?, target = ?, target_ref = ?, size = ?, sha256 = ?,
                delivered_at = ?, updated_at = ?, last_error = NULL
                WHERE id = ?
                """
            ).run([
                .text(token), .text(target), .text(targetRef), size.map { .int(Int64($0)) } ?? .null,
                sha256.map { .text($0) } ?? .null, .double(time), .double(time), .int(id),
            ])
        }
    }
}

extension Store {
    /// Whether a run has used this state (a run records itself when it starts).
    public func hasRuns() throws -> Bool {
        try read { db in try db.prepare("SELECT EXISTS (SELECT 1 FROM runs)").rows { $0.int(0) }.first == 1 }
    }
}

extension Store {
    /// Where a mailbox was last bound (its target and target mailbox) and how many of its messages have reached or
    /// may have reached it; nil for a mailbox the state does not know.
    public func binding(key: String) throws -> (target: String, address: String?, deliveries: Int)? {
        try read { db in
            try db.prepare(
                """
                SELECT b.target, b.address, (SELECT count(*) FROM messages m WHERE m.mailbox_id = b.id
                    AND m.state IN ('delivered', 'delivering', 'removed'))
                FROM mailboxes b WHERE b.key = ?
                """
            ).rows([.text(key)]) { ($0.text(0) ?? "", $0.text(1), Int($0.int(2))) }.first
        }
    }

    /// Binds a mailbox to another target or target mailbox (`run --rebind`), noting where it was.
    public func rebind(key: String, target: String, address: String, note: String) throws {
        try write { db in
            try db.prepare("UPDATE mailboxes SET target = ?, address = ?, rebound = ? WHERE key = ?")
                .run([.text(target), .text(address), .text(note), .text(key)])
        }
    }
}
