import Foundation
import MailCore
import MailSystem

/// Messages that vanished from the server (design.md, "Mail that vanished"): marked after a complete UIDL listing
/// that no longer shows them, unmarked when one shows them again. The mark is a column beside the checkpoint state,
/// which stays as it was: a message that comes back carries on from there.
extension Store {
    /// What one listing changed in the marks.
    public struct ListingGaps: Sendable, Equatable {
        /// Undelivered messages this listing was the first to miss: the loud part.
        public var newlyVanished: [VanishedMessage] = []
        /// Undelivered messages this listing missed beyond the first `VanishedMessage` details read.
        public var newlyVanishedNotListed = 0
        /// Delivered messages (and duplicates of delivered ones) this listing was the first to miss: the person deleted
        /// them after the migration, which is normal.
        public var goneAfterDelivery = 0
        /// Messages marked vanished earlier that this listing shows again: undelivered ones are handled as before
        /// (fetched when due), delivered ones need nothing.
        public var back = 0

        public init() {}
    }

    /// Details read per listing at most; the rest are counted (`newlyVanishedNotListed`).
    public static let vanishedDetailLimit = 1000

    /// UIDLs of the mailbox's messages marked vanished (the `messages_vanished` index alone answers it: a poll with
    /// nothing gone reads next to nothing).
    public func vanishedUIDLs(mailbox: Int64) throws -> Set<String> {
        try read { db in
            Set(
                try db.prepare(
                    """
                    SELECT uidl FROM messages WHERE mailbox_id = ? AND parent_id IS NULL AND vanished_at IS NOT NULL
                    """
                ).rows([.int(mailbox)]) { $0.text(0) ?? "" })
        }
    }

    /// After a complete, successful UIDL listing of `mailbox` (and never after a partial or failed one): `gone` are
    /// UIDLs the state knows, not marked yet, that the listing did not show; `back` are UIDLs marked earlier that it
    /// shows again. One commit; nothing is written when both are empty. A message deleted under the retention policy
    /// is marked silently (it is meant to be gone). A mark is news about the row: `updated_at` moves, so where two
    /// state files know the message, the later observation wins (`MergedState`).
    public func noteListingGaps(mailbox: Int64, gone: [String], back: [String]) throws -> ListingGaps {
        guard !gone.isEmpty || !back.isEmpty else { return ListingGaps() }
        let time = now()
        return try write { db in
            var gaps = ListingGaps()
            // The mailbox's last complete listing before this one: the last that showed what this one misses.
            let previous =
                try db.prepare("SELECT last_poll_at FROM mailboxes WHERE id = ?").rows([.int(mailbox)]) {
                    $0.isNull(0) ? nil : $0.double(0)
                }.first ?? nil
            let mark = try db.prepare(
                """
                UPDATE messages SET vanished_at = ?, last_listed_at = max(?, first_seen_at), updated_at = ?
                WHERE mailbox_id = ? AND uidl = ? AND parent_id IS NULL AND vanished_at IS NULL RETURNING id, state
                """)
            var undelivered: [Int64] = []
            for uidl in gone {
                for (id, state) in try mark.rows(
                    [.double(time), .double(previous ?? 0), .double(time), .int(mailbox), .text(uidl)],
                    { ($0.int(0), MessageState(rawValue: $0.text(1) ?? "") ?? .listed) })
                {
                    switch state {
                    case .delivered, .duplicate: gaps.goneAfterDelivery += 1
                    case .removed: break
                    case .listed, .delivering, .deferred, .failed: undelivered.append(id)
                    }
                }
            }
            let unmark = try db.prepare(
                """
                UPDATE messages SET vanished_at = NULL, last_listed_at = NULL, updated_at = ?
                WHERE mailbox_id = ? AND uidl = ? AND parent_id IS NULL AND vanished_at IS NOT NULL
                """)
            for uidl in back {
                try unmark.run([.double(time), .int(mailbox), .text(uidl)])
                gaps.back += db.changes
            }
            let shown = undelivered.prefix(Self.vanishedDetailLimit)
            gaps.newlyVanishedNotListed = undelivered.count - shown.count
            for id in shown {
                gaps.newlyVanished += try VanishedMessage.read(db, where: "m.id = ?", [.int(id)], limit: 1)
            }
            return gaps
        }
    }

    /// Keeps what a retrieval saw of a message's header (a partial one that broke, or a whole one the target refused):
    /// all a report can say of it should it vanish before it is delivered. Values already kept stay when none is given.
    public func noteSeenHeader(id: Int64, from: String?, subject: String?, date: String?) throws {
        guard from != nil || subject != nil || date != nil else { return }
        let time = now()
        try write { db in
            try db.prepare(
                """
                UPDATE messages SET seen_from = coalesce(?, seen_from), seen_subject = coalesce(?, seen_subject),
                date_header = coalesce(date_header, ?), updated_at = ? WHERE id = ?
                """
            ).run([
                from.map { .text($0) } ?? .null, subject.map { .text($0) } ?? .null, date.map { .text($0) } ?? .null,
                .double(time), .int(id),
            ])
        }
    }

    /// The mailbox's messages that vanished before they were delivered, oldest first, at most `limit`.
    public func vanishedMessages(mailbox: Int64, limit: Int = vanishedDetailLimit) throws -> [VanishedMessage] {
        try read { db in
            try VanishedMessage.read(
                db, where: "m.mailbox_id = ? AND " + VanishedMessage.undelivered, [.int(mailbox)], limit: limit)
        }
    }
}
