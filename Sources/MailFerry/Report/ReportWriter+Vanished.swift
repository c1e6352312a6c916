import Foundation
import MailCore
import MailStore
import MailSystem

/// The run report's part on mail that vanished from the server (design.md, "Mail that vanished").
extension ReportWriter {
    /// Undelivered messages this run was the first to find gone: the loudest section, first after the table.
    static func vanishedSection(_ s: RunSummary) -> String {
        let lost = s.mailboxes.filter { $0.newlyVanished > 0 }
        guard !lost.isEmpty else { return "" }
        var out = "\n## Needs attention: mail that vanished before it was copied\n\n"
        out += "\(s.newlyVanished) message\(s.newlyVanished == 1 ? " was" : "s were") on the server at an earlier "
        out += "run and never delivered, and this run's complete listing of the mailbox no longer shows "
        out += s.newlyVanished == 1 ? "it" : "them"
        out += ". The server lost it, or the person deleted it (a mail program set to remove messages from the "
        out += "server after some days), before mailferry could copy it: it is in no target. Ask the person or the "
        out += "provider for a copy. Later runs do not report it again; `mailferry status` lists it, and a message "
        out += "the server lists again under the same UIDL is handled as before.\n\n"
        out += "| mailbox | message (UIDL) | size | stood | last seen | what is known |\n"
        out += "|---|---|---:|---|---|---|\n"
        for m in lost {
            for v in m.vanished ?? [] {
                out += "| \(cell(m.address)) | \(cell(v.uidl)) | \(v.size.map(formatBytes) ?? "–") | "
                out += "\(v.stood)\(v.attempts > 0 ? ", \(v.attempts) attempt\(v.attempts == 1 ? "" : "s")" : "") | "
                out += "\(iso(v.lastSeenAt)) | \(textCell(known(v))) |\n"
            }
        }
        for m in lost where (m.vanishedNotListed ?? 0) > 0 {
            out +=
                "\n\(m.vanishedNotListed ?? 0) more from \(cell(m.address)) not listed (`mailferry status --json`).\n"
        }
        return out
    }

    /// What is known of a vanished message beyond its UIDL and size: its header as a retrieval saw it, the envelope
    /// sender, the routed deliveries it never got, the last error.
    static func known(_ v: VanishedMessage) -> String {
        var parts: [String] = []
        if let from = v.from { parts.append("From: \(from)") }
        if let sender = v.sender, v.from == nil { parts.append("sender: \(sender)") }
        if let subject = v.subject { parts.append("Subject: \(subject)") }
        if let date = v.date { parts.append("Date: \(date)") }
        if let routes = v.notRoutedTo, !routes.isEmpty {
            parts.append("never reached " + routes.joined(separator: ", "))
        }
        if let error = v.lastError { parts.append("last error: \(error)") }
        return parts.isEmpty ? "nothing beyond its size: it was never retrieved" : parts.joined(separator: "; ")
    }

    /// Delivered messages the person deleted on the server after their migration: counted, not a problem.
    static func goneAfterDeliveryLine(_ s: RunSummary) -> String {
        let gone = s.goneAfterDelivery
        guard gone > 0 else { return "" }
        return "\n\(gone) delivered message\(gone == 1 ? " is" : "s are") no longer on the legacy server (deleted "
            + "there after \(gone == 1 ? "its" : "their") migration, which is expected).\n"
    }
}
