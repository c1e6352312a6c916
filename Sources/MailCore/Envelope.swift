import Foundation

/// Where a piece of the recovered envelope was read: which header field, where, and whether it is believed.
///
/// `trusted` means the field lies at or above the provider's entry hop (see `EnvelopeRecovery`), so the legacy
/// provider wrote it. `false` means "guessed": no trust boundary could be drawn (no `trustedHosts`, or none of them
/// appears in the Received chain), or the address comes from To/Cc. Fields below a boundary are never used, so they
/// never carry a provenance; they appear in the envelope's notes.
public struct Provenance: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    /// The field name in its usual spelling ("X-Original-To", "Delivered-To", "Received", "Return-Path", "To").
    public var header: String
    /// The field's index in the header block, 0 = topmost.
    public var position: Int
    public var trusted: Bool

    public init(header: String, position: Int, trusted: Bool) {
        self.header = header
        self.position = position
        self.trusted = trusted
    }

    /// `X-Original-To (field 2, trusted)`, `Received (field 5, guessed)`: the form reports and the state database
    /// show.
    public var description: String { "\(header) (field \(position), \(trusted ? "trusted" : "guessed"))" }
}

/// An envelope recipient recovered from a trace header (or, as a guess, from To/Cc).
public struct RecoveredRecipient: Sendable, Equatable, Hashable, Codable {
    /// Normalized (lower-cased addr-spec).
    public var address: String
    public var provenance: Provenance
    /// The address as the header wrote it, when recovery changed it (a qmail virtual-domain prefix removed).
    public var original: String?

    public init(address: String, provenance: Provenance, original: String? = nil) {
        self.address = address
        self.provenance = provenance
        self.original = original
    }
}

/// Where the original arrival time came from, best first.
public enum ArrivalSource: String, Sendable, Equatable, Codable, CaseIterable {
    /// The time stamp of the provider's final Received (the topmost one at or above the trust boundary).
    case providerReceived = "provider-received"
    /// No trust boundary: the topmost Received with a usable date (normally still the provider's).
    case topmostReceived = "topmost-received"
    /// The `Date:` field (RFC 5322 §3.6.1): when the sender wrote it, not when it arrived.
    case dateHeader = "date-header"
    /// When mailferry first listed the message: nothing in the header gave a usable time.
    case firstSeen = "first-seen"
}

/// Which trace headers the recipients were taken from.
public enum RecipientSource: String, Sendable, Equatable, Codable, CaseIterable {
    /// X-Original-To, Envelope-To, X-Envelope-To: the recipient(s) as given in RCPT TO, written at delivery.
    case originalRecipient = "original-recipient"
    /// The `for <addr>` clause of a Received field (RFC 5321 §4.4).
    case receivedFor = "received-for"
    /// Delivered-To: the mailbox delivered to (after aliases; qmail writes the virtual-domain form here).
    case deliveredTo = "delivered-to"
    /// Nothing: the router falls back to To/Cc (a guess) or to the fallback mailbox.
    case none
}

/// A mailing list the message came through (RFC 2919 List-Id, RFC 2369 List-Post, or the older Mailing-List and
/// X-Mailing-List); both parts may be nil when the list names neither.
public struct MailingList: Sendable, Equatable, Codable {
    /// The List-Id identifier ("mailinglist.treyresearch.net"), without angle brackets.
    public var id: String?
    /// The posting address from List-Post (`<mailto:…>`), Mailing-List (`list x@y; …`) or X-Mailing-List.
    public var address: String?

    public init(id: String? = nil, address: String? = nil) {
        self.id = id
        self.address = address
    }
}

/// The SMTP envelope as far as the header lets us know it, and how we know it.
public struct RecoveredEnvelope: Sendable, Equatable, Codable {
    /// MAIL FROM: from Return-Path (RFC 5321 §4.4), else X-Envelope-From, else a Received `(envelope-from …)`.
    /// "" is the null sender `<>` (a bounce); nil means unknown.
    public var sender: String?
    public var senderProvenance: Provenance?
    /// The envelope recipients to route, in header order (topmost first), without duplicates.
    public var recipients: [RecoveredRecipient]
    public var recipientSource: RecipientSource
    /// Envelope addresses that were seen and deliberately not used (a lower-precedence header, a Delivered-To of an
    /// alias step, an earlier forwarding hop). For reports; the router ignores them.
    public var alsoSeen: [RecoveredRecipient]
    /// The addresses of To and Cc, always guessed: a last resort for the router, never for list mail.
    public var headerRecipients: [RecoveredRecipient]
    public var mailingList: MailingList?
    /// The original arrival time: IMAP INTERNALDATE and Maildir mtime.
    public var arrival: Date
    /// The zone the arrival time was written in (seconds east of UTC), for INTERNALDATE; nil when unknown.
    public var arrivalZoneOffset: Int?
    public var arrivalSource: ArrivalSource
    /// The field the arrival time was read from (nil for `firstSeen`).
    public var arrivalProvenance: Provenance?
    /// The index of the provider's entry Received: fields at or above it are trusted, fields below are
    /// sender-controlled. Nil when no boundary could be drawn: then everything is a guess.
    public var trustBoundary: Int?
    /// The host named in the `by` clause of the entry Received.
    public var boundaryHost: String?
    /// What recovery decided and why, one sentence each, for the dry run and the report; what the header parser
    /// tolerated comes first, prefixed "header: ".
    public var notes: [String]

    /// True when the recipients are not backed by a trust boundary.
    public var isGuessed: Bool { trustBoundary == nil || recipients.contains { !$0.provenance.trusted } }
}

/// Reads the envelope back out of the trace headers a POP3 maildrop keeps (RFC 5321 §4.4 trace fields, RFC 5322
/// §3.6.7), the way an admin would, and says where every answer came from.
///
/// **The trust boundary.** The provider prepends its trace fields, so everything above its first Received was
/// written by the provider; everything below came with the message and is sender-controlled. The boundary is the
/// provider's *entry hop*: starting from the topmost Received whose `by` host is a trusted host, walk down while
/// the hop came *from* a trusted host (an internal relay, a content filter on loopback, or a local re-injection
/// without a from clause) and the next Received is `by` a trusted or loopback host. The lowest Received reached is
/// the entry hop; it and every field above it are trusted. A Received below it that claims a trusted `by` host is
/// not believed (noted as a possible forgery).
/// Without `trustedHosts`, or when none of them appears, there is no boundary: every field is usable but
/// "guessed", and the envelope says so.
///
/// **Recipients**, by precedence; the first source that names a local domain wins (when none does, the first that
/// names any address), the rest go to `alsoSeen`:
/// 1. X-Original-To, Envelope-To, X-Envelope-To (they name RCPT TO as given, before alias expansion). Fields are
///    grouped into trace blocks (the fields between two Received fields belong to one delivery); one block is
///    used, all its addresses (Exim's Envelope-To lists several: a fan-out).
/// 2. The `for` clause of one Received.
/// 3. One Delivered-To (qmail virtual-domain prefixes removed when `qmailPrefix` says so).
///
/// Which block or field: with a boundary, the *lowest* one that names a local domain (closest to the original
/// RCPT TO; the ones above are the provider's alias and forwarding steps, e.g. several Delivered-To); without a
/// boundary, the *topmost* one that names a local domain (deeper ones may come from other systems or be forged). If
/// none names a local domain, the topmost one.
///
/// **Arrival**: the provider's final Received (the topmost at or above the boundary with a plausible date), else
/// (no boundary) the topmost Received, else `Date:`, else the first-seen time. A date more than a day after
/// first-seen, or before 1970, is implausible and skipped with a note.
public struct EnvelopeRecovery: Sendable, Equatable {
    /// The provider's receiving hosts: exact names or IP addresses, or `.isp.example` for every host under
    /// isp.example. Case-insensitive.
    public var trustedHosts: [String]
    /// The legacy domains of the catch-all ("wingtiptoys.com"), lower-case.
    public var localDomains: [String]
    public var qmailPrefix: QmailPrefix

    /// qmail (and vpopmail, Plesk) write the virtual-domain form of the recipient into Delivered-To:
    /// `wingtiptoys.com-chris@wingtiptoys.com` for chris@wingtiptoys.com. A named option (STYLE.md habit 6): off by
    /// default, so an address is never changed unless the plan says so.
    public enum QmailPrefix: Sendable, Equatable, Codable {
        case off
        /// Remove `<domain>-` from the local part when `<domain>` is the address's own domain and a local domain
        /// (qmail `virtualdomains` entry `wingtiptoys.com:wingtiptoys.com`).
        case domain
        /// Remove the first of these literal prefixes the local part starts with (`wingtip-` for a
        /// `virtualdomains` entry `wingtiptoys.com:wingtip`), for addresses in a local domain.
        case prefixes([String])
    }

    /// Recovery stops collecting after this many addresses per source.
    static let maxAddresses = 1_000

    public init(trustedHosts: [String], localDomains: [String], qmailPrefix: QmailPrefix = .off) {
        self.trustedHosts = trustedHosts.map { $0.lowercased() }.filter { !$0.isEmpty }
        self.localDomains = localDomains.map { $0.lowercased() }
        self.qmailPrefix = qmailPrefix
    }

    /// Whether `host` is one of `trustedHosts` (exact, or under a `.suffix` entry).
    public func isTrusted(host: String) -> Bool { TrustedHosts(trustedHosts).contains(host) }

    /// Whether `address` is in one of `localDomains`.
    public func isLocal(_ address: String) -> Bool {
        localDomains.contains(MailAddress.domain(of: address))
    }

    /// Recovers the envelope of one message. Pure: `firstSeen` is when mailferry first listed it.
    public func recover(_ headers: HeaderBlock, firstSeen: Date) -> RecoveredEnvelope {
        var pass = RecoveryPass(recovery: self, headers: headers, firstSeen: firstSeen)
        return pass.run()
    }
}
