import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

extension MailboxListing {
    /// After a complete, successful UIDL listing: known messages it does not show are marked vanished, marked ones it
    /// shows again are unmarked (design.md, "Mail that vanished"); what changed goes into the ledger. `known`: every
    /// top-level UIDL of the mailbox's rows with its LIST size, as read before the listing was recorded.
    static func noteGaps(
        _ entries: [POP3Entry], known: [String: Int], store: Store, mailboxID: Int64, ledger: MailboxLedger
    ) throws {
        guard !known.isEmpty else { return }
        let marked = try store.vanishedUIDLs(mailbox: mailboxID)
        // Rows of messages that share a UIDL (a server bug) are named "<UIDL>#<hash>": listed while that UIDL is.
        let listed = ListedUIDLs(entries)
        let gone = known.keys.filter { !marked.contains($0) && !listed.contains($0) }
        let back = marked.filter { listed.contains($0) }
        guard !gone.isEmpty || !back.isEmpty else { return }
        ledger.record(
            .listingGaps(try store.noteListingGaps(mailbox: mailboxID, gone: gone.sorted(), back: back.sorted())))
    }
}
