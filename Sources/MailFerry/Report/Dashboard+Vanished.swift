import Foundation
import MailCore
import MailStore
import MailSystem

/// The dashboard's list of mail that vanished from the server before it was delivered (design.md, "Mail that
/// vanished"): under the mailboxes, only when there is some.
extension Dashboard {
    /// Rows shown at most; `status --json` has them all.
    static let vanishedShown = 50

    static func vanishedPanel(_ status: PlanStatus) -> String {
        let total = status.totals.vanished
        guard total > 0 else { return "" }
        let e = Charts.escape
        var body =
            "<div class=\"scroll\"><table class=\"findings\"><thead><tr><th>Mailbox</th><th>UIDL</th><th class=\"n\">Size</th>"
            + "<th>Stood</th><th>Last seen</th><th>What is known</th></tr></thead><tbody>"
        for v in status.vanishedMessages.prefix(vanishedShown) {
            body +=
                "<tr><td>\(e(v.mailbox))</td><td><code>\(e(v.uidl))</code></td>"
                + "<td class=\"n\">\(v.size.map { e(formatBytes($0)) } ?? "–")</td><td>\(e(v.stood))</td>"
                + "<td class=\"when\">\(e(PlanStatus.timeText(v.lastSeenAt)))</td>"
                + "<td>\(e(ReportWriter.known(v)))</td></tr>"
        }
        body += "</tbody></table></div>"
        if total > vanishedShown {
            body += "<p class=\"note\">… and \(total - vanishedShown) more in mailferry status --json.</p>"
        }
        return panel(
            "Needs attention: mail that vanished before it was copied",
            note: "\(total) message\(total == 1 ? " was" : "s were") on a legacy server and never delivered, and "
                + "a later complete listing no longer shows \(total == 1 ? "it" : "them"): the server lost "
                + (total == 1 ? "it" : "them") + " or the person deleted " + (total == 1 ? "it" : "them")
                + " first. In no target: ask the person or the provider.", body: body)
    }
}
