import Foundation
import MailCore

/// The targets of the plan reference, one object per `kind` (docs/plan.md, "A target, by kind").
extension PlanReference {
    static var targets: [PlanObject] { [maildir, imap, lmtp, smtp] }

    static func kind(_ name: String) -> PlanKey {
        PlanKey("kind", "\"\(name)\"", "required", "The kind of target.")
    }

    static let tlsKeys = [
        PlanKey("caFile", "path", "the system's CA store", "As for a source."),
        PlanKey("tlsFingerprint", "string", "none", "As for a source."),
    ]
    static let timeout = PlanKey("timeoutSeconds", "integer, 1 to 3600", "60", "Connecting, and each read or write.")
    static let dataTimeout = PlanKey(
        "dataTimeoutSeconds", "integer, 1 to 3600", "600",
        "How long to wait for the reply after DATA's final \".\" (RFC 5321 asks for at least 10 minutes).")
    static let login = [
        PlanKey("user", "string", "none", "The login."),
        PlanKey("password", "secret", "none", "The login's password (see SECRETS); not with token."),
        PlanKey("token", "secret", "none", "An OAuth token instead of a password (see SECRETS)."),
    ]
    static func envelope(default value: String) -> [PlanKey] {
        [
            PlanKey("from", "address or \"\"", "\"\" (the null sender)", "The plan's envelope sender."),
            PlanKey(
                "envelopeFrom", "\"original\" or \"plan\"", "\"\(value)\"",
                "MAIL FROM: the sender recovered from Return-Path (else from), or always from."),
        ]
    }

    static let maildir = PlanObject(
        path: "targets.NAME (kind \"maildir\")", title: "Target: maildir",
        summary: "A Maildir per mailbox: written into tmp/, synced, renamed into new/, new/ synced.",
        keys: [
            kind("maildir"),
            PlanKey(
                "path", "path with placeholders", "required",
                "A folder per mailbox, with {mailbox}, {user}, {local} or {domain}; the part before the first "
                    + "placeholder is the root."),
            PlanKey("owner", "name or numeric id", "the root folder's (as root)", "Who owns what mailferry creates."),
            PlanKey("group", "name or numeric id", "the root folder's (as root)", "The group of what it creates."),
            PlanKey(
                "keepPOP3UIDL", "boolean", "false",
                "true: each message keeps its legacy POP3 UIDL and order for Dovecot's POP3 server (the P and O "
                    + "records of dovecot-uidlist, written under Dovecot's own lock); the message bytes are not "
                    + "touched. Refused on the other kinds of target."),
        ])

    static let imap = PlanObject(
        path: "targets.NAME (kind \"imap\")", title: "Target: imap",
        summary: "APPEND to an IMAP server, as an admin acting for each mailbox.",
        keys: [
            kind("imap"),
            PlanKey("host", "string", "required", "The IMAP server."),
            PlanKey("port", "integer, 1 to 65535", "993 (implicit), else 143", "The IMAP port."),
            PlanKey("tls", "\"implicit\", \"starttls\" or \"none\"", "\"implicit\"", "How the session is protected."),
        ] + tlsKeys + [
            PlanKey("allowPlaintext", "boolean", "false", "Required with tls \"none\"."),
            timeout,
        ] + login + [
            PlanKey("authorize", "string with placeholders", "none", "The mailbox to act for, e.g. \"{mailbox}\"."),
            PlanKey(
                "acting", "\"authzid\" or \"master\"", "\"authzid\"",
                "A SASL authorization identity, or Dovecot's master-user login; only with authorize."),
            PlanKey("masterSeparator", "string", "\"*\"", "Dovecot's auth_master_user_separator; only with master."),
            PlanKey("folder", "string", "INBOX", "The folder messages are appended to."),
            PlanKey(
                "flags", "array of strings", "none",
                "Set on every message: \\Seen, \\Answered, \\Flagged, \\Draft or keywords (\\Deleted and \\Recent "
                    + "refused)."),
            PlanKey(
                "provenanceHeader", "boolean", "false",
                "Add X-MailFerry-Delivery: <token> on top of each message, so an APPEND in doubt is found exactly."),
            PlanKey(
                "settleSeconds", "integer, 60 to 604800", "900",
                "An APPEND in doubt that is not found is appended again only this long after it was found in doubt."),
        ])

    static let lmtp = PlanObject(
        path: "targets.NAME (kind \"lmtp\")", title: "Target: lmtp",
        summary: "Hand each message to an LMTP server (final delivery, an answer per recipient).",
        keys: [
            kind("lmtp"),
            PlanKey("host", "string", "required, unless socket", "The LMTP server."),
            PlanKey("port", "integer, 1 to 65535", "24", "The LMTP port."),
            PlanKey(
                "socket", "path", "none",
                "A Unix socket instead of host, port, tls, caFile and tlsFingerprint."),
            PlanKey("tls", "\"none\" or \"starttls\"", "\"none\"", "How the session is protected."),
        ] + tlsKeys + [timeout, dataTimeout] + envelope(default: "original"))

    static let smtp = PlanObject(
        path: "targets.NAME (kind \"smtp\")", title: "Target: smtp",
        summary: "Hand each message to an SMTP relay.",
        keys: [
            kind("smtp"),
            PlanKey("host", "string", "required", "The SMTP server."),
            PlanKey("port", "integer, 1 to 65535", "587 (starttls), 465 (implicit)", "The SMTP port."),
            PlanKey("tls", "\"starttls\", \"implicit\" or \"none\"", "\"starttls\"", "How the session is protected."),
        ] + tlsKeys + [
            PlanKey("allowPlaintext", "boolean", "false", "Required with tls \"none\" and a login."),
            timeout, dataTimeout,
        ] + login + envelope(default: "plan"))
}
