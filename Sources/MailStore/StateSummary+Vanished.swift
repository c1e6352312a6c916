import Foundation
import MailCore
import MailSystem

/// The messages marked vanished, counted and listed for `status` and the dashboard (`Store+Vanished`).
extension StateSummary {
    /// Counts the marked rows of the mailboxes `owned` (by id) in one file from the `messages_vanished` index, and
    /// lists the undelivered ones.
    mutating func countVanished(_ db: Database, mailboxes owned: [Int64: StateSnapshot.Mailbox]) throws {
        let byState = try db.prepare(
            """
            SELECT mailbox_id, state, quarantined, error_kind, count(*) FROM messages
            WHERE parent_id IS NULL AND vanished_at IS NOT NULL GROUP BY mailbox_id, state, quarantined, error_kind
            """)
        var any = false
        for (mailbox, state, quarantined, kind, count) in try byState.rows(
            [],
            {
                ($0.int(0), $0.text(1) ?? "", $0.int(2) != 0, $0.text(3), Int($0.int(4)))
            })
        {
            guard let key = owned[mailbox]?.key else { continue }
            tallies[key, default: Tally()].addVanished(
                state: MessageState(rawValue: state) ?? .listed, quarantined: quarantined, errorKind: kind,
                count: count)
            any = true
        }
        guard any else { return }
        let ownedKeys = Set(owned.values.map(\.key))
        for message in try VanishedMessage.read(
            db, where: VanishedMessage.undelivered, [], limit: Store.vanishedDetailLimit)
        where ownedKeys.contains(message.mailbox) {
            vanished[message.mailbox, default: []].append(message)
        }
    }

    /// A mailbox several files know: the vanished messages whose merged row (`mergedTally`) is one, `winners`.
    mutating func mergeVanished(_ key: String, from files: [Database], winners: Set<String>) throws {
        guard !winners.isEmpty else { return }
        var seen = Set<String>()
        var list: [VanishedMessage] = []
        for db in files {
            for message in try VanishedMessage.read(
                db, where: "b.key = ? AND " + VanishedMessage.undelivered, [.text(key)],
                limit: Store.vanishedDetailLimit)
            where winners.contains(message.uidl) && seen.insert(message.uidl).inserted {
                list.append(message)
            }
        }
        vanished[key] = list.sorted { $0.vanishedAt < $1.vanishedAt }
    }
}
