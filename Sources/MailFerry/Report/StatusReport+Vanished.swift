import Foundation
import MailCore
import MailStore
import MailSystem

/// `status`'s part on mail that vanished from the server (design.md, "Mail that vanished").
extension StatusReport {
    /// Messages listed in the text at most; `status --json` has them all.
    static let vanishedShown = 20

    /// "needs attention": the undelivered messages gone from the server, with what is known of each; then how many
    /// delivered ones the people deleted there since (normal). Empty when there is neither.
    static func vanishedText(_ status: PlanStatus, total: PlanStatus.MailboxStatus) -> String {
        var out = ""
        if total.vanished > 0 {
            let addresses = Dictionary(
                status.mailboxes.map { ($0.key, $0.address) }, uniquingKeysWith: { first, _ in first })
            out +=
                "\nneeds attention: \(total.vanished) message\(total.vanished == 1 ? "" : "s") vanished from the "
                + "server before \(total.vanished == 1 ? "it was" : "they were") delivered (in no target; ask the "
                + "person or the provider):\n"
            for v in status.vanishedMessages.prefix(vanishedShown) {
                out +=
                    "  \(sanitizeForDisplay(addresses[v.mailbox] ?? v.mailbox)) (\(sanitizeForDisplay(v.mailbox))): "
                    + "UIDL \(sanitizeForDisplay(v.uidl, limit: 80)); " + RoutePreview.shown(v.summary, limit: 600)
                    + "; last seen \(PlanStatus.timeText(v.lastSeenAt)), gone \(PlanStatus.timeText(v.vanishedAt))\n"
            }
            if total.vanished > vanishedShown {
                let more = total.vanished - min(vanishedShown, status.vanishedMessages.count)
                out += "  … \(more) more: status --json\n"
            }
        }
        if total.goneAfterDelivery > 0 {
            out +=
                "\n\(total.goneAfterDelivery) delivered message\(total.goneAfterDelivery == 1 ? " was" : "s were") "
                + "since deleted on the legacy server (normal after the migration)\n"
        }
        return out
    }
}
