import Foundation

@testable import MailCore

// The envelope corpus: messages shaped like what Postfix, Exim, qmail, Sendmail and Exchange Online leave in a
// POP3 maildrop, with the envelope, arrival time and routing decision a careful admin would expect. Checked by
// `RouterTests.corpus`. Field positions count header fields from the top (0), skipping lines that are not fields.

/// The legacy providers, configured the way a plan would name them.
enum CorpusProvider: String, Sendable {
    /// Postfix MX pair in front of a Postfix virtual-delivery store: X-Original-To, Delivered-To, Received for.
    case postfix
    /// One Exim host delivering locally: Envelope-to (several recipients in one copy), Received for when single.
    case exim
    /// qmail with virtual domains: Delivered-To in the `wingtiptoys.com-user@` form, "invoked by" hops.
    case qmail
    /// Sendmail with a delivery agent writing X-Envelope-To.
    case sendmail
    /// Exchange Online: a Received chain and nothing that names the envelope.
    case exchange
    /// A provider nobody could name: no trustedHosts in the plan.
    case unknown

    var recovery: EnvelopeRecovery {
        let local = EnvelopeCorpus.rules.domains
        switch self {
        case .postfix: return EnvelopeRecovery(trustedHosts: [".wingtip-isp.example"], localDomains: local)
        case .exim: return EnvelopeRecovery(trustedHosts: ["mx.exim-isp.example"], localDomains: local)
        case .qmail:
            return EnvelopeRecovery(trustedHosts: ["mx.qmail-isp.example"], localDomains: local, qmailPrefix: .domain)
        case .sendmail: return EnvelopeRecovery(trustedHosts: ["smtp.sendmail-isp.example"], localDomains: local)
        case .exchange: return EnvelopeRecovery(trustedHosts: [".outlook.com"], localDomains: local)
        case .unknown: return EnvelopeRecovery(trustedHosts: [], localDomains: local)
        }
    }
}

struct ExpectedRecipient: Sendable, Equatable, CustomStringConvertible {
    var address: String
    var header: String
    var position: Int
    var trusted: Bool

    var description: String { "\(address) \(header)#\(position) \(trusted ? "trusted" : "guessed")" }
}

struct ExpectedDelivery: Sendable, Equatable, CustomStringConvertible {
    var mailbox: String
    var recipients: [String]
    var fallback = false
    var guessed = false

    var description: String {
        "\(mailbox) ← [\(recipients.joined(separator: ", "))]" + (fallback ? " fallback" : "")
            + (guessed ? " guessed" : "")
    }
}

struct EnvelopeCorpusCase: Sendable, CustomStringConvertible {
    var name: String
    var provider: CorpusProvider
    var message: [UInt8]
    /// "" is the null sender; nil unknown.
    var sender: String?
    var recipients: [ExpectedRecipient]
    /// UTC, "yyyy-mm-dd hh:mm:ss".
    var arrival: String
    var arrivalSource: ArrivalSource
    var deliveries: [ExpectedDelivery]
    /// Text some envelope or routing note must contain.
    var notes: [String] = []

    var description: String { name }
}

/// A trusted recipient expectation.
func trusted(_ address: String, _ header: String, _ position: Int) -> ExpectedRecipient {
    ExpectedRecipient(address: address, header: header, position: position, trusted: true)
}

/// A guessed recipient expectation.
func guessed(_ address: String, _ header: String, _ position: Int) -> ExpectedRecipient {
    ExpectedRecipient(address: address, header: header, position: position, trusted: false)
}

func deliver(_ mailbox: String, _ recipients: String..., guessed: Bool = false) -> ExpectedDelivery {
    ExpectedDelivery(mailbox: mailbox, recipients: recipients, fallback: false, guessed: guessed)
}

func toFallback(_ recipients: String..., guessed: Bool = false) -> ExpectedDelivery {
    ExpectedDelivery(mailbox: "postmaster@contoso.example", recipients: recipients, fallback: true, guessed: guessed)
}

enum LineEnding { case crlf, lf, cr }

/// The bytes of a message written as a Swift literal (lines end in "\n"), with the line ending a store used.
func corpusMessage(_ text: String, _ ending: LineEnding = .crlf) -> [UInt8] {
    switch ending {
    case .lf: return Array(text.utf8)
    case .crlf: return Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8)
    case .cr: return Array(text.replacingOccurrences(of: "\n", with: "\r").utf8)
    }
}

/// CRLF bytes with every character U+0080–U+00FF written as one ISO-8859-1 byte (8-bit legacy mail).
func latin1Message(_ text: String) -> [UInt8] {
    text.replacingOccurrences(of: "\n", with: "\r\n").unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
}

enum EnvelopeCorpus {
    /// When mailferry first listed every corpus message: 2025-11-20 08:00:00 UTC.
    static let firstSeen = Date(timeIntervalSince1970: 1_763_625_600)

    /// The catch-all of the Wingtip Toys acquisition, as the plan would give it.
    static let rules = RoutingRules(
        domains: ["wingtiptoys.com", "wingtiptoys.net"],
        rewrite: "{local}@contoso.example",
        aliases: [
            "sales": "kelly@contoso.example", "chris.miller": "chris",
            "info@wingtiptoys.net": "reception@contoso.example",
        ],
        rules: [
            .init(match: .address("mailinglist@treyresearch.net"), mailbox: "kelly@contoso.example"),
            .init(match: .address("ceo@wingtiptoys.com"), mailbox: "sam@contoso.example"),
            .init(match: .regex(#"^(jobs|careers)(\+[^@]*)?@wingtiptoys\.com$"#), mailbox: "hr@contoso.example"),
            .init(match: .header(name: "X-Spam-Flag", contains: "YES"), mailbox: "quarantine@contoso.example"),
        ],
        fallback: "postmaster@contoso.example",
        knownMailboxes: Set(
            [
                "alice", "bob", "chris", "dana", "kelly", "sam", "hr", "reception", "quarantine",
                "postmaster",
            ].map { "\($0)@contoso.example" }))

    static var cases: [EnvelopeCorpusCase] { postfix + postfixOdd + exim + qmail + others }
}
