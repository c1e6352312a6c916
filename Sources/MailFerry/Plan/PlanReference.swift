import Foundation
import MailCore

/// One key a plan may hold: its type, its default and what it means (docs/plan.md, "Every key").
package struct PlanKey: Sendable {
    package let name: String
    package let type: String
    /// What the key is when the plan does not give it; "required" for a key that must be given.
    package let defaultValue: String
    package let meaning: String

    package init(_ name: String, _ type: String, _ defaultValue: String, _ meaning: String) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.meaning = meaning
    }
}

/// One kind of object in a plan (the top level, a source, a Maildir target…) and its keys.
package struct PlanObject: Sendable {
    /// Where the object sits in a plan, as the validator's problems name it: `sources.NAME`, `targets.NAME`.
    package let path: String
    package let title: String
    package let summary: String
    package let keys: [PlanKey]
}

/// The plan reference: every key of every object a plan may hold. `mailferry-plan(5)` is rendered from it
/// (`mailferry help --man mailferry-plan`), and PlanReferenceTests hold it to the validator's lists of allowed keys,
/// in both directions, so the manual cannot leave out a key nor describe one that is gone.
package enum PlanReference {
    package static var objects: [PlanObject] {
        [top, transition, source] + targets + [mailbox, global, rule, defaults, mailboxList, secret]
    }

    static let top = PlanObject(
        path: "", title: "Top level",
        summary: "The plan file is one JSON5 object with these keys.",
        keys: [
            PlanKey(
                "plan", "string", "required",
                "Names the state file and the report folder: letters, digits, -, _ and . (not first). Keep it stable."),
            PlanKey(
                "transition", "object", "none",
                "{ start, cutover, end }, each optional, YYYY-MM-DD, in that order: cutover drives status's "
                    + "\"after cutover\" flag; all three are marked on the dashboard."),
            PlanKey("state", "path", "state/<plan>.sqlite", "The state database."),
            PlanKey("reports", "path", "reports/<plan>", "The run reports' folder."),
            PlanKey("keepReports", "integer, 0 to 10000000", "1000", "Run reports kept, newest first; 0 keeps all."),
            PlanKey("parallel", "integer, 1 to 256", "4", "Mailboxes worked on at once; --parallel overrides it."),
            PlanKey(
                "quarantineAfter", "integer, 1 to 1000", "5", "Failed attempts before a message is set aside."),
            PlanKey(
                "remindAfter", "duration, 1 s to 30 d", "\"6h\"",
                "run --quiet says a mailbox's trouble when it starts, changes and ends; while it lasts, again at "
                    + "most this often. Seconds, or a number with s, m, h or d (\"90s\", \"30m\", \"6h\", \"1d\")."),
            PlanKey(
                "metricsFile", "path ending in .prom", "none",
                "Rewritten after every run (not a dry run) in Prometheus' text format for node_exporter's textfile "
                    + "collector: the last run's start, end and exit code, the last run that exited 0, per mailbox "
                    + "its messages by state, waiting, stopped and legacy mail after the cutover. Written atomically, "
                    + "0644; a shard writes <name>-shard-K-of-N.prom beside it."),
            PlanKey("sources", "object", "required", "At least one: name -> source (see SOURCE)."),
            PlanKey("targets", "object", "required", "At least one: name -> target (see the TARGET sections)."),
            PlanKey(
                "defaults", "object", "none", "{ source, target, mailbox } that mailboxes inherit (see DEFAULTS)."),
            PlanKey("mailboxes", "array of objects", "none", "The mailboxes to migrate (see MAILBOX)."),
            PlanKey(
                "mailboxList", "object or array of objects", "none",
                "{ csv, source, target, mailbox }: people imported from CSV lists (see MAILBOX LIST)."),
        ])

    static let transition = PlanObject(
        path: "transition", title: "Transition",
        summary: "The dates of the transition period, each YYYY-MM-DD and optional, in this order.",
        keys: [
            PlanKey("start", "date", "none", "When legacy mail started to be migrated."),
            PlanKey(
                "cutover", "date", "none",
                "When people switched to their new mailboxes: status flags who still gets legacy mail after it."),
            PlanKey("end", "date", "none", "When the legacy mailboxes are to be closed."),
        ])

    static let source = PlanObject(
        path: "sources.NAME", title: "Source",
        summary: "A legacy POP3 server. Its name must be non-empty, without /, spaces or control characters.",
        keys: [
            PlanKey(
                "host", "string", "required",
                "A name or an address; a Unicode name is used as its A-label for DNS, SNI and the certificate "
                    + "check."),
            PlanKey("port", "integer, 1 to 65535", "995 with tls \"implicit\", else 110", "The POP3 port."),
            PlanKey("tls", "\"implicit\", \"starttls\" or \"none\"", "\"implicit\"", "POP3S, STLS, or no TLS."),
            PlanKey(
                "caFile", "path", "the system's CA store",
                "A PEM file of CAs to trust instead of the system's (refused with tls \"none\")."),
            PlanKey(
                "tlsFingerprint", "string", "none",
                "\"sha256:AB:CD:...\": the SHA-256 of the one certificate the server may present (refused with tls "
                    + "\"none\")."),
            PlanKey(
                "allowPlaintext", "boolean", "false", "Required with tls \"none\": passwords then go in clear."),
            PlanKey("maxConnections", "integer, 1 to 1000", "4", "Sessions to this server at once."),
            PlanKey("timeoutSeconds", "integer, 1 to 3600", "60", "Connecting, and each read or write."),
            PlanKey(
                "auth", "array of strings", "all, strongest first",
                "Login methods allowed, any of oauthbearer, xoauth2, cram-md5, apop, plain, login, user."),
            PlanKey(
                "withoutUIDL", "\"refuse\" or \"header-fingerprint\"", "\"refuse\"",
                "For a server without UIDL: refuse it, or identify messages by a hash of their headers (via TOP)."),
            PlanKey(
                "allowExpireZero", "boolean", "false",
                "Accept a server that announces EXPIRE 0 (retrieval deletes)."),
            PlanKey(
                "pipelining", "boolean", "true", "Send up to 16 RETR ahead when the server announces PIPELINING."),
            PlanKey(
                "deleteFromSourceAfterDays", "integer, 0 to 3650", "unset: never delete",
                "Retention: delete a message this many days after its every delivery was confirmed."),
            PlanKey(
                "onUIDLReset", "\"stop\" or \"rekey\"", "\"stop\"",
                "What to do when the provider seems to have renumbered its UIDLs."),
            PlanKey(
                "maxMessageBytes", "integer, 1024 to 2^40", "4 GiB",
                "Larger messages are refused and left on the server."),
            PlanKey(
                "keepaliveSeconds", "integer, 1 to 599", "120",
                "While the run waits for a slow target, send the idle POP3 session NOOP after this much silence."),
            PlanKey(
                "maxIdleSeconds", "integer, 1 to 86400", "300",
                "End the idle session (QUIT) once one wait for a target has lasted this long; a new session "
                    + "resumes after the wait."),
        ])
}
