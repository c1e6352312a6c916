import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// The source's retention policy (only when the plan names `deleteFromSourceAfterDays`): what was confirmed
/// delivered long enough ago is deleted from the server, never anything else.
struct Retention {
    let days: Int
    let store: Store
    let mailboxID: Int64

    /// The policy of `source`, if it has one.
    init?(_ source: Plan.Source, store: Store, mailboxID: Int64) {
        guard let days = source.deleteFromSourceAfterDays else { return nil }
        self.days = days
        self.store = store
        self.mailboxID = mailboxID
    }

    /// The listed messages the policy deletes now.
    func doomed(_ entries: [POP3Entry]) throws -> [POP3Entry] {
        let cutoff = Date().timeIntervalSince1970 - Double(days) * 86_400
        let removable = try store.removable(mailbox: mailboxID, deliveredBefore: cutoff)
        return entries.filter { removable.contains($0.uidl) }
    }

    /// DELE what is doomed, then QUIT; the rows become `removed` only once the server confirmed the QUIT. Returns
    /// how many were removed.
    func apply(_ client: POP3Client, entries: [POP3Entry]) throws -> Int {
        let doomed = try doomed(entries)
        guard !doomed.isEmpty else { return 0 }
        try client.deleteAndQuit(doomed.map(\.number))
        try store.markRemoved(mailbox: mailboxID, uidls: doomed.map(\.uidl))
        return doomed.count
    }

    /// What `apply` would delete, as a note for `run --dry-run`; nil when nothing.
    func preview(_ entries: [POP3Entry]) throws -> String? {
        let doomed = try doomed(entries)
        guard !doomed.isEmpty else { return nil }
        return "would delete " + counted(doomed.count, "message")
            + " from the server (delivered over " + counted(days, "day") + " ago): "
            + doomed.prefix(20).map { "\($0.number) \(sanitizeForDisplay($0.uidl))" }.joined(separator: ", ")
            + (doomed.count > 20 ? ", …" : "")
    }
}
