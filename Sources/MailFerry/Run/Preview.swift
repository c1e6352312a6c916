import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

extension Runner {
    /// `run --dry-run` for one mailbox: logs in and lists, then says what a run would fetch and delete. Nothing is
    /// fetched, delivered, deleted or recorded.
    func preview(_ mailbox: Plan.Mailbox) -> MailboxResult {
        let started = Date()
        var result = MailboxResult(key: mailbox.key, address: mailbox.address, target: mailbox.target)
        do {
            let session = try SourceSession.reading(mailbox, plan: plan, trace: trace) { step, client in
                if step == .connected { result.tlsVersion = client.tlsInfo?.version }
            }
            defer { session.client.quit() }
            result.authMethod = session.method.rawValue
            let listing = try session.client.maildrop()
            result.onServer = listing.entries.count
            let id = try store.mailboxID(key: mailbox.key)
            let known = try id.map { try store.knownSizes(mailbox: $0) } ?? [:]
            let fresh = listing.entries.filter { known[$0.uidl] == nil }
            result.new = fresh.count
            let bytes = formatBytes(fresh.reduce(0) { $0 + $1.size })
            result.notes.append(
                "would fetch " + counted(fresh.count, "new message") + ", \(bytes)"
                    + (listing.hasUIDL ? "" : " (the server has no UIDL)"))
            if let id, let retention = Retention(session.source, store: store, mailboxID: id),
                let note = try retention.preview(listing.entries)
            {
                result.notes.append(note)
            }
        } catch {
            let mailError = error as? MailError ?? MailError(.local, ErrorText.sentence(error))
            result.error = mailError.message
            result.errorKind = mailError.kind
        }
        result.seconds = Date().timeIntervalSince(started)
        return result
    }
}
