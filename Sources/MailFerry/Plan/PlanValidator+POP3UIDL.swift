import Foundation
import MailCore

extension PlanValidator {
    /// `keepPOP3UIDL` on an IMAP, LMTP or SMTP target: refused with the reason (no such server takes a message's POP3
    /// UIDL over its protocol; docs/operations.md, "POP3 clients after the move"), and taken out of the object so the
    /// unknown-key check does not name it twice.
    mutating func refuseKeepPOP3UIDL(_ t: inout [String: JSONValue], kind: String, at: String) {
        guard t.removeValue(forKey: "keepPOP3UIDL") != nil else { return }
        problem(
            PlanPath.member(at, "keepPOP3UIDL"),
            "works only for a maildir target: \(kind == "imap" ? "an IMAP" : kind == "lmtp" ? "an LMTP" : "an SMTP") "
                + "server offers no way to set a message's POP3 UIDL over the protocol; deliver into the Dovecot "
                + "server's Maildirs with a maildir target instead (mailferry then records the UIDLs in "
                + "dovecot-uidlist), or see docs/operations.md for Dovecot's X-UIDL header alternative "
                + "(pop3_reuse_xuidl), which changes the message bytes")
    }
}
