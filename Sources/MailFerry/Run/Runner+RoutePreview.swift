import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

extension Runner {
    /// `route PLAN --dry-run` for one mailbox: for each message still waiting on the server (at most `limit`), the
    /// envelope recovered from its headers (fetched with TOP, never the body) with provenance, and where it would go.
    /// Nothing is fetched in full, delivered or recorded.
    public func routePreview(_ mailbox: Plan.Mailbox, limit: Int = 50) -> [String] {
        var out = [
            "\(sanitizeForDisplay(mailbox.key)) → "
                + (mailbox.global == nil ? sanitizeForDisplay(mailbox.address) : "catch-all routing")
        ]
        do {
            let router = try mailbox.global.map { try self.router(for: mailbox, global: $0) }
            let client = try SourceSession.reading(mailbox, plan: plan).client
            defer { client.quit() }
            let listing = try client.maildrop()
            let settled = try store.mailboxID(key: mailbox.key).map { try store.settledUIDLs(mailbox: $0) } ?? []
            let waiting = listing.entries.filter { !listing.hasUIDL || !settled.contains($0.uidl) }
            out.append(
                "  \(listing.entries.count) on the server, \(waiting.count) waiting"
                    + (waiting.count > limit ? " (showing the first \(limit))" : ""))
            let recovery = mailbox.envelopeRecovery
            for entry in waiting.prefix(limit) {
                let headers = HeaderBlock(parsing: try client.headers(entry.number))
                let envelope = recovery.recover(headers, firstSeen: Date())
                let subject = headers.first("Subject")?.displayValue ?? ""
                out.append("")
                out.append(
                    "message \(entry.number) \(sanitizeForDisplay(entry.uidl)) (\(formatBytes(entry.size))) "
                        + sanitizeForDisplay(subject, limit: 80))
                if let router {
                    out += RoutePreview.lines(envelope: envelope, decision: router.route(envelope, headers: headers))
                } else {
                    let fixed = RoutingDecision(
                        deliveries: [
                            RoutedDelivery(
                                mailbox: mailbox.address, recipients: envelope.recipients.map(\.address),
                                because: "the mailbox's own target", isFallback: false, isGuessed: false)
                        ],
                        routes: [], usedHeaderRecipients: false, notes: [])
                    out += RoutePreview.lines(envelope: envelope, decision: fixed)
                }
            }
        } catch {
            out.append("  error: \(ErrorText.sentence(error))")
        }
        return out
    }
}
