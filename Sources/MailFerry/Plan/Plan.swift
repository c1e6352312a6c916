import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// A validated acquisition-transition plan: what to move from where to where. Built by `PlanLoader`.
public struct Plan: Sendable {
    /// The plan's name; names the default state file and report folder.
    public var name: String
    /// The plan file as given on the command line.
    public var file: String
    /// Relative paths in the plan are resolved against this folder (see `PlanLoader.workspace(for:)`).
    public var workspace: String
    public var transition: Transition
    public var statePath: String
    public var reportsPath: String
    /// Mailboxes migrated at the same time.
    public var parallel: Int
    public var sources: [String: Source]
    public var targets: [String: Target]
    /// Every mailbox: those written in `mailboxes`, then those of each `mailboxList` CSV, in file order.
    public var mailboxes: [Mailbox]
    /// A message whose delivery failed this many times is quarantined (set aside with its reason; it stays on the
    /// server) while the run goes on.
    public var quarantineAfter: Int = 5
    /// Run reports kept per plan (and per shard): the newest this many runs' `.json` and `.md` files, and their
    /// summaries in the state database; older ones are removed after each run. 0 keeps every one.
    public var keepReports: Int = 1000
    /// After every run (not a dry run), the plan's metrics in Prometheus' text format, for node_exporter's textfile
    /// collector (`MetricsFile`): an absolute path ending in `.prom`, or nil when the plan names none. A shard writes
    /// its own file beside it (`metricsPath`).
    public var metricsFile: String?
    /// `run --quiet` says a mailbox's trouble when it starts, when it changes and when it is over; while it lasts,
    /// it says it again at most every this many seconds (default 6 h), so cron mails the admin a reminder, not a
    /// message every run.
    public var remindAfter: Int = Plan.defaultRemindAfter
    public static let defaultRemindAfter = 6 * 3600
    /// Set by `run --shard K/N` (`sharded(_:)`): only this shard's mailboxes run, with their own state file.
    public private(set) var shard: Shard?
    /// Where each key path of the plan file is written, for problems found after loading (`check` resolving a
    /// secret).
    public var locations = PlanLocations()

    /// The mailboxes a run works on: all of them, or this shard's. (`mailboxes` stays whole: a catch-all mailbox's
    /// routing needs to know every person's mailbox, whichever shard it is in.)
    public var selectedMailboxes: [Mailbox] {
        guard let shard else { return mailboxes }
        return mailboxes.filter { shard.contains(mailboxKey: $0.key) }
    }

    /// Where this run writes its metrics: the plan's `metricsFile`, or for a shard `<name>-shard-K-of-N.prom` beside
    /// it (each shard its own file, so node_exporter never reads the same series twice).
    public var metricsPath: String? {
        guard let metricsFile, let shard else { return metricsFile }
        return String(metricsFile.dropLast(".prom".count)) + "-shard-\(shard.index)-of-\(shard.count).prom"
    }

    /// The plan as shard `shard` runs it: its own state file `<stem>-shard-K-of-N.sqlite` (and so its own lock).
    public func sharded(_ shard: Shard) -> Plan {
        var plan = self
        plan.shard = shard
        plan.statePath = shard.statePath(forPlanState: statePath)
        return plan
    }

    public struct Transition: Sendable, Equatable {
        public var start: String?
        public var cutover: String?
        public var end: String?
    }

    /// A legacy POP3 server.
    public struct Source: Sendable, Equatable {
        public var name: String
        public var endpoint: Endpoint
        /// Never more than this many sessions to this server at once, whatever `parallel` says.
        public var maxConnections: Int
        /// Login methods the plan allows, in the order tried (the client still picks only what the server offers).
        public var auth: [POP3AuthMethod]
        /// What to do with a server that has no UIDL.
        public var withoutUIDL: WithoutUIDL
        /// Permits a server announcing EXPIRE 0 (retrieval deletes). Off: such a server is refused.
        public var allowExpireZero: Bool
        /// Retention: delete at the source messages whose every delivery was confirmed at least this many days ago.
        /// Off (nil) unless the plan names it: leave-a-copy is the default.
        public var deleteFromSourceAfterDays: Int? = nil
        /// What to do when the server seems to have renumbered its UIDLs.
        public var onUIDLReset: UIDLResetPolicy = .stop
        /// A message larger than this (by LIST, or by what RETR actually sends) is refused: set aside with its
        /// reason and left on the server, so a hostile or broken server cannot fill the disk with one endless body.
        public var maxMessageBytes: Int = Source.defaultMaxMessageBytes
        /// The plan wrote `auth`: its cleartext methods are wanted even after a challenge method was refused on a
        /// connection without TLS (POP3Client.login). Unwritten, the default list never falls back that way.
        public var authNamed: Bool = false
        /// While the run waits for a slow target, its POP3 session is sent NOOP after this many seconds of silence
        /// (RFC 1939 §3: servers log idle sessions out, after no less than 10 minutes, some sooner) ...
        public var keepaliveSeconds: Int = Source.defaultKeepaliveSeconds
        /// ... and ended with QUIT once one wait has lasted this long; a new session resumes after it.
        public var maxIdleSeconds: Int = Source.defaultMaxIdleSeconds

        public static let defaultKeepaliveSeconds = 120
        public static let defaultMaxIdleSeconds = 300

        /// 4 GiB: far above what any mail system accepts (Exchange Online: 150 MB), so nothing real is refused.
        public static let defaultMaxMessageBytes = 4 << 30
    }

    /// A sudden mass of unknown UIDLs, while most known ones vanished, looks like a provider migration that
    /// renumbered everything. Delivering "new" messages then would copy the whole mailbox a second time.
    public enum UIDLResetPolicy: String, Sendable, Equatable, CaseIterable {
        /// Stop the mailbox and explain (the default): a circuit breaker.
        case stop
        /// Go on: messages whose content was already delivered are re-keyed (recorded as duplicates), not delivered.
        case rekey
    }

    /// A named option, not a silent fallback (STYLE.md habit 6): identity without UIDL is weaker, so it is opt-in.
    public enum WithoutUIDL: String, Sendable, Equatable, CaseIterable {
        /// Refuse the mailbox with an explanation (the default).
        case refuse
        /// Identify messages by the SHA-256 of their header block (TOP n 0); reported as such.
        case headerFingerprint = "header-fingerprint"
    }

    /// Where and how to reach a server: a POP3 source, an IMAP, LMTP or SMTP target.
    public typealias Endpoint = ServerEndpoint

    public enum TargetKind: Sendable, Equatable {
        /// A Maildir per mailbox; `path` may contain {mailbox}, {user}, {local}, {domain}. What it creates below the
        /// root (the part of `path` before the first placeholder) belongs to `ownership` (`MaildirOwnership`).
        /// `keepPOP3UIDL`: each message's legacy POP3 UIDL and order go into Dovecot's `dovecot-uidlist`.
        case maildir(path: String, ownership: MaildirOwnership = MaildirOwnership(), keepPOP3UIDL: Bool = false)
        /// IMAP APPEND into a folder, logged in as one admin account that may act for each mailbox.
        case imap(IMAPTarget)
        /// LMTP (RFC 2033) to a local delivery agent, over TCP or a Unix socket.
        case lmtp(LMTPTarget)
        /// SMTP submission or relay.
        case smtp(SMTPTarget)
    }

    public struct IMAPTarget: Sendable, Equatable {
        public var endpoint: Endpoint
        /// The account mailferry logs in as (a migration admin).
        public var user: String
        public var password: SecretRef?
        public var token: SecretRef?
        /// SASL authorization identity per mailbox ("{mailbox}"): the admin acts as that user (RFC 4616 authzid).
        public var authorize: String?
        /// The folder messages are appended to.
        public var folder: String
        /// Flags set on every appended message, e.g. ["\\Seen"].
        public var flags: [String]
        /// How the login acts for `authorize`: the SASL authorization identity, or Dovecot's master-user form.
        public var acting: IMAPActing = .authzid
        /// Dovecot's `auth_master_user_separator`, for `acting: "master"` (LOGIN "<mailbox><separator><user>").
        public var masterSeparator: String = "*"
        /// Prepend "X-MailFerry-Delivery: <token>" to each message, so an in-doubt APPEND is found by that header
        /// (also for messages without Message-ID and Date); off by default, so bodies stay byte-identical.
        public var provenanceHeader: Bool = false
        /// Seconds an APPEND left in doubt by a crash, and not found in the folder, waits before it is sent again,
        /// counted from the first run that found it in doubt (design.md, "IMAP in doubt").
        public var settleSeconds: Int = IMAPTarget.defaultSettleSeconds
        public static let defaultSettleSeconds = 900
    }

    /// The plan's `acting`: "authzid" (SASL authorization identity, RFC 4616; the default) or "master" (Dovecot's
    /// master-user LOGIN form).
    public enum IMAPActing: String, Sendable, Equatable, CaseIterable {
        case authzid, master
    }

    public struct LMTPTarget: Sendable, Equatable {
        /// TCP (host and port) or, when `socket` is set, a Unix socket; host and port are then unused.
        public var endpoint: Endpoint?
        public var socket: String?
        /// Seconds for connect and each read or write.
        public var timeout: Double
        /// MAIL FROM when a message's sender cannot be recovered from its headers (or always, with
        /// `envelopeFrom: .plan`); "" is the null sender <>.
        public var from: String
        /// The plan's `envelopeFrom`: "original" (the default for LMTP: final delivery) or "plan".
        public var envelopeFrom: EnvelopeFrom = .original
        /// The plan's `dataTimeoutSeconds`: how long each per-recipient reply after the final "." is waited for.
        public var dataTimeout: Double = Plan.defaultDataTimeout
    }

    public struct SMTPTarget: Sendable, Equatable {
        public var endpoint: Endpoint
        public var user: String?
        public var password: SecretRef?
        public var token: SecretRef?
        /// Every message's MAIL FROM (the default `envelopeFrom: .plan`), or with `.original` the MAIL FROM of a
        /// message whose sender cannot be recovered; "" is the null sender <>.
        public var from: String
        /// The plan's `envelopeFrom`: "plan" (the default: a relay's later bounce must not reach an outside
        /// correspondent) or "original".
        public var envelopeFrom: EnvelopeFrom = .plan
        /// The plan's `dataTimeoutSeconds`: how long the reply after the final "." is waited for.
        public var dataTimeout: Double = Plan.defaultDataTimeout
    }

    /// How long an SMTP or LMTP target's reply after the final "." of DATA is waited for, unless the plan says: at
    /// least 10 minutes (RFC 5321 §4.5.3.2.6), since a content filter may take that long, and a reply given up on
    /// leaves the message in doubt, to be sent again.
    public static let defaultDataTimeout = SMTPClient.defaultDataTimeout

    /// Which MAIL FROM an LMTP or SMTP target gives each message (the delivery's own policy type).
    public typealias EnvelopeFrom = EnvelopeSenderPolicy

    public struct Target: Sendable, Equatable {
        public var name: String
        public var kind: TargetKind
        /// Where the target's secrets are written ("password", "token"), for messages about them.
        public var spots: [String: PlanSpot] = [:]
    }

    /// A catch-all ("global") mailbox: mail for a whole domain, routed per recipient recovered from the trace
    /// headers (DESIGN.md). `Runner.router(for:global:)` makes the `Router` of it.
    public struct GlobalRouting: Sendable, Equatable {
        /// The legacy domains this mailbox catches mail for ("wingtiptoys.com").
        public var domains: [String]
        /// New address for a recipient at one of `domains`: "{local}@contoso.example" ({local}, {domain}).
        public var rewrite: String
        /// The provider's final hops; only their Received headers are believed for envelope recovery.
        public var trustedHosts: [String]
        /// Explicit routes, checked before `rewrite`.
        public var rules: [Rule]
        /// Where mail goes that no rule or domain matches; nil means the global mailbox's own address.
        public var fallback: String?
        /// Explicit address maps, checked after `rules` and before `rewrite`: a legacy address or local part → a
        /// target address, or a local part that `rewrite` makes an address of (`RoutingRules.aliases`).
        public var aliases: [String: String] = [:]
        /// qmail-style virtual-domain prefixes in Delivered-To (`EnvelopeRecovery.QmailPrefix`); off unless the plan
        /// names it, so no address is changed by default.
        public var qmailPrefix: EnvelopeRecovery.QmailPrefix = .off
        /// Prepend `X-MailFerry-Routing: fallback; <reason>` to the copy the fallback mailbox gets (only that copy;
        /// every other delivery stays byte-identical to the source). Off by default.
        public var reasonHeader: Bool = false

        public struct Rule: Sendable, Equatable {
            /// As the plan writes it (`RoutingRules.Match(planText:)`): "someone@domain", "@domain", "/regex/" or a
            /// header match "List-Id: text".
            public var match: String
            /// The address it goes to.
            public var mailbox: String
        }
    }

    /// One legacy maildrop and where its mail goes.
    public struct Mailbox: Sendable, Equatable {
        public var source: String
        public var user: String
        public var password: SecretRef?
        /// An OAuth 2.0 access token (XOAUTH2/OAUTHBEARER) instead of a password.
        public var token: SecretRef?
        public var target: String
        /// The person's address at the target ("chris@contoso.example"); the user name when not given.
        public var address: String
        /// Set for a catch-all mailbox.
        public var global: GlobalRouting? = nil
        /// Where the mailbox is written: "mailboxes[3]" or "jobs/users.csv:14", and where its secrets are.
        public var origin = PlanOrigin()
        /// Identity in the state database across runs.
        public var key: String { "\(source)/\(user)" }

        /// How this mailbox's envelopes are recovered: a catch-all's trust boundary, domains and qmail option; for a
        /// person's mailbox, no boundary and no local domains.
        public var envelopeRecovery: EnvelopeRecovery {
            EnvelopeRecovery(
                trustedHosts: global?.trustedHosts ?? [], localDomains: global?.domains ?? [],
                qmailPrefix: global?.qmailPrefix ?? .off)
        }

        public init(
            source: String, user: String, password: SecretRef?, token: SecretRef?, target: String,
            address: String, global: GlobalRouting? = nil, origin: PlanOrigin = PlanOrigin()
        ) {
            self.source = source
            self.user = user
            self.password = password
            self.token = token
            self.target = target
            self.address = address
            self.global = global
            self.origin = origin
        }
    }
}

/// Where a setting is written: a key path in the plan file, or a CSV cell, with its file position when known.
public struct PlanSpot: Sendable, Equatable {
    /// "mailboxes[3].password" in a plan; the column name ("password") in a CSV row.
    public var path: String
    public var location: PlanLocation

    public init(path: String, location: PlanLocation) {
        self.path = path
        self.location = location
    }
}

/// Where a mailbox comes from.
public struct PlanOrigin: Sendable, Equatable {
    /// "mailboxes[3]", or "jobs/users.csv:14" for a CSV row.
    public var label: String = ""
    /// Where each of the mailbox's settings is written ("password", "token", "source", ...).
    public var spots: [String: PlanSpot] = [:]

    public init(label: String = "", spots: [String: PlanSpot] = [:]) {
        self.label = label
        self.spots = spots
    }
}

extension Plan.TargetKind {
    public var kindName: String {
        switch self {
        case .maildir: "maildir"
        case .imap: "imap"
        case .lmtp: "lmtp"
        case .smtp: "smtp"
        }
    }
}

/// Placeholders a target path or `authorize` may use.
let mailboxPlaceholders = ["mailbox", "user", "local", "domain"]

/// Fills `{mailbox}`, `{user}`, `{local}` and `{domain}` in a template (an IMAP `authorize`).
func expandTemplate(_ template: String, mailbox: Plan.Mailbox) -> String {
    var text = template
    for (name, value) in placeholderValues(mailbox) { text = text.replacingOccurrences(of: "{\(name)}", with: value) }
    return text
}

/// What `{mailbox}`, `{user}`, `{local}` and `{domain}` stand for in a mailbox's target templates.
func placeholderValues(_ mailbox: Plan.Mailbox) -> [String: String] {
    let parts = mailbox.address.split(separator: "@", maxSplits: 1).map(String.init)
    return [
        "mailbox": mailbox.address, "user": mailbox.user, "local": parts.first ?? mailbox.address,
        "domain": parts.count > 1 ? parts[1] : "",
    ]
}

/// Where a mailbox's Maildir lies under a Maildir target's `path`: every filled-in value one safe folder name
/// (`MaildirLocation.resolve`), or an error naming the value and why not.
func maildirLocation(_ template: String, mailbox: Plan.Mailbox) throws(MailError) -> MaildirLocation {
    try MaildirLocation.resolve(template, values: placeholderValues(mailbox))
}
