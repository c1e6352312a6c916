import Foundation
import Testing

@testable import MailCore
@testable import MailFerryTestSupport

/// Routing of a catch-all mailbox (DESIGN.md global mailboxes), and the envelope corpus: every message's recovered
/// envelope, arrival time and routing decision, checked table-driven.
@Suite struct RouterTests {
    static let router: Router = {
        do { return try Router(EnvelopeCorpus.rules) } catch { fatalError("corpus rules: \(error)") }
    }()

    struct Outcome {
        var headers: HeaderBlock
        var envelope: RecoveredEnvelope
        var decision: RoutingDecision
    }

    static func run(_ message: [UInt8], _ provider: CorpusProvider) -> Outcome {
        let headers = HeaderBlock(parsing: message)
        let envelope = provider.recovery.recover(headers, firstSeen: EnvelopeCorpus.firstSeen)
        return Outcome(headers: headers, envelope: envelope, decision: router.route(envelope, headers: headers))
    }

    // MARK: The corpus

    @Test func theCorpusIsLargeAndVaried() {
        let cases = EnvelopeCorpus.cases
        #expect(cases.count >= 40)
        #expect(Set(cases.map(\.name)).count == cases.count, "case names must be unique")
        for provider in [CorpusProvider.postfix, .exim, .qmail, .sendmail, .exchange, .unknown] {
            #expect(cases.contains { $0.provider == provider }, "\(provider)")
        }
    }

    @Test(arguments: EnvelopeCorpus.cases)
    func corpus(_ item: EnvelopeCorpusCase) {
        let outcome = Self.run(item.message, item.provider)
        let envelope = outcome.envelope
        #expect(envelope.sender == item.sender, "sender")
        let recipients = envelope.recipients.map {
            ExpectedRecipient(
                address: $0.address, header: $0.provenance.header, position: $0.provenance.position,
                trusted: $0.provenance.trusted)
        }
        #expect(recipients == item.recipients, "recipients")
        #expect(EnvelopeTests.format(envelope.arrival) == item.arrival, "arrival")
        #expect(envelope.arrivalSource == item.arrivalSource, "arrival source")
        let deliveries = outcome.decision.deliveries.map {
            ExpectedDelivery(
                mailbox: $0.mailbox, recipients: $0.recipients, fallback: $0.isFallback,
                guessed: $0.isGuessed)
        }
        #expect(deliveries == item.deliveries, "deliveries")
        let said = envelope.notes + outcome.decision.notes + outcome.decision.routes.map(\.reason)
        for note in item.notes {
            #expect(said.contains { $0.contains(note) }, "no note contains \"\(note)\" in \(said)")
        }
        // Nothing is ever dropped.
        #expect(!outcome.decision.deliveries.isEmpty)
    }

    // MARK: The three "must show" cases, spelled out

    static func corpusCase(_ name: String) -> EnvelopeCorpusCase {
        guard let found = EnvelopeCorpus.cases.first(where: { $0.name == name }) else {
            fatalError("no corpus case \(name)")
        }
        return found
    }

    @Test func aBccInTheCatchAllReachesTheRightPerson() {
        let item = Self.corpusCase("postfix-bcc-in-catch-all")
        let outcome = Self.run(item.message, item.provider)
        // To names bob; the envelope (X-Original-To, written by the provider) names dana, who was in Bcc.
        #expect(outcome.envelope.headerRecipients.map(\.address) == ["bob@wingtiptoys.com"])
        #expect(outcome.decision.mailboxes == ["dana@contoso.example"])
        #expect(!outcome.decision.usedHeaderRecipients)
        #expect(
            outcome.decision.deliveries.first?.because
                == "dana@wingtiptoys.com from X-Original-To (field 1, trusted): rewrite {local}@contoso.example")
    }

    @Test func anUnknownLocalAddressReachesTheFallbackMailbox() {
        let item = Self.corpusCase("postfix-unknown-local-address")
        let decision = Self.run(item.message, item.provider).decision
        #expect(decision.mailboxes == ["postmaster@contoso.example"])
        #expect(decision.deliveries.first?.isFallback == true)
        #expect(decision.routes.first?.via == .fallback)
    }

    @Test func aSpoofedReceivedBelowTheBoundaryDoesNotChangeRouting() {
        let item = Self.corpusCase("postfix-forged-trace-below-boundary")
        let forged = Self.run(item.message, item.provider)
        // The same message with every forged line taken out routes the same way.
        var text = String(decoding: item.message, as: UTF8.self)
        let forgedLines = [
            "Received: from mx1.wingtip-isp.example (mx1.wingtip-isp.example [10.1.0.11])\r\n\tby "
                + "mx1.wingtip-isp.example (Postfix) with ESMTP id 1AA2BB3CC4\r\n\tfor <ceo@wingtiptoys.com>; Wed, 19 "
                + "Nov 2025 03:10:00 +0100 (CET)\r\n",
            "X-Original-To: ceo@wingtiptoys.com\r\n",
            "Delivered-To: ceo@wingtiptoys.com\r\n",
            "Envelope-To: ceo@wingtiptoys.com\r\n",
        ]
        for line in forgedLines {
            #expect(text.contains(line))
            text = text.replacingOccurrences(of: line, with: "")
        }
        let clean = Self.run(Array(text.utf8), item.provider)
        #expect(clean.headers.fields.count == forged.headers.fields.count - 4)
        #expect(forged.decision.deliveries == clean.decision.deliveries)
        #expect(forged.decision.mailboxes == ["chris@contoso.example"])
        #expect(!forged.decision.mailboxes.contains("sam@contoso.example"))  // the ceo rule never fires
        #expect(forged.envelope.trustBoundary == 4)
        // Without a trust boundary the forged lines would be believed: that is what trustedHosts is for.
        let open = EnvelopeRecovery(trustedHosts: [], localDomains: EnvelopeCorpus.rules.domains)
            .recover(forged.headers, firstSeen: EnvelopeCorpus.firstSeen)
        #expect(open.isGuessed)
    }

    // MARK: Rules

    func envelope(
        _ addresses: [String], trusted: Bool = true, list: MailingList? = nil,
        to: [String] = []
    ) -> RecoveredEnvelope {
        RecoveredEnvelope(
            sender: nil, senderProvenance: nil,
            recipients: addresses.enumerated().map {
                RecoveredRecipient(
                    address: $0.element,
                    provenance: .init(
                        header: "X-Original-To",
                        position: $0.offset, trusted: trusted))
            },
            recipientSource: addresses.isEmpty ? .none : .originalRecipient, alsoSeen: [],
            headerRecipients: to.map {
                RecoveredRecipient(
                    address: $0,
                    provenance: .init(
                        header: "To", position: 9,
                        trusted: false))
            },
            mailingList: list, arrival: EnvelopeCorpus.firstSeen, arrivalZoneOffset: nil, arrivalSource: .firstSeen,
            arrivalProvenance: nil, trustBoundary: trusted ? 5 : nil, boundaryHost: nil, notes: [])
    }

    let noHeaders = HeaderBlock(parsing: [])

    @Test func firstMatchingRuleWinsPerRecipient() throws {
        let router = try Router(
            RoutingRules(
                domains: ["wingtiptoys.com"], rewrite: "{local}@contoso.example",
                rules: [
                    .init(match: .domain("wingtiptoys.com"), mailbox: "all@contoso.example"),
                    .init(match: .address("kelly@wingtiptoys.com"), mailbox: "never@contoso.example"),
                ],
                fallback: "postmaster@contoso.example"))
        let decision = router.route(envelope(["kelly@wingtiptoys.com", "bob@wingtiptoys.com"]), headers: noHeaders)
        #expect(decision.deliveries.count == 1)
        #expect(decision.deliveries.first?.mailbox == "all@contoso.example")
        #expect(decision.deliveries.first?.recipients == ["kelly@wingtiptoys.com", "bob@wingtiptoys.com"])
        #expect(decision.routes.map(\.via) == [.rule(index: 0), .rule(index: 0)])
    }

    @Test func withoutRewriteLocalRecipientsGoToFallback() throws {
        let router = try Router(
            RoutingRules(
                domains: ["wingtiptoys.com"], rewrite: nil,
                fallback: "postmaster@contoso.example"))
        let decision = router.route(envelope(["kelly@wingtiptoys.com"]), headers: noHeaders)
        #expect(decision.mailboxes == ["postmaster@contoso.example"])
        #expect(decision.routes.first?.reason.contains("no rule, alias or rewrite") == true)
    }

    @Test func nonLocalRecipientsAreNotRoutedButNothingIsLost() throws {
        let decision = Self.router.route(envelope(["someone@fabrikam.example"]), headers: noHeaders)
        #expect(decision.mailboxes == ["postmaster@contoso.example"])
        #expect(decision.routes.map(\.via) == [.notLocal, .fallback])
        #expect(
            decision.routes.last?.reason
                == "message: no recipient is local or matches a rule (someone@fabrikam.example) → fallback")
    }

    @Test func headerAndListRulesApplyToAMessageWithoutRecipients() throws {
        let spam = HeaderBlock(parsing: Array("X-Spam-Flag: yes\r\n\r\n".utf8))
        #expect(Self.router.route(envelope([]), headers: spam).mailboxes == ["quarantine@contoso.example"])
        let list = MailingList(id: "mailinglist.treyresearch.net", address: "mailinglist@treyresearch.net")
        #expect(Self.router.route(envelope([], list: list), headers: noHeaders).mailboxes == ["kelly@contoso.example"])
    }

    @Test func encodedHeaderValuesMatchDecoded() throws {
        let router = try Router(
            RoutingRules(
                domains: ["wingtiptoys.com"], rewrite: "{local}@contoso.example",
                rules: [
                    .init(
                        match: .header(name: "Subject", contains: "Rechnung für"),
                        mailbox: "accounts@contoso.example")
                ],
                fallback: "postmaster@contoso.example"))
        let headers = HeaderBlock(parsing: Array("Subject: =?utf-8?q?Rechnung_f=C3=BCr_November?=\r\n\r\n".utf8))
        #expect(
            router.route(envelope(["bob@wingtiptoys.com"]), headers: headers).mailboxes
                == ["accounts@contoso.example"])
    }

    @Test func toAndCcAreALastResortAndNeverForLists() {
        let guess = Self.router.route(envelope([], to: ["alice@wingtiptoys.com"]), headers: noHeaders)
        #expect(guess.usedHeaderRecipients)
        #expect(guess.deliveries.first?.isGuessed == true)
        #expect(guess.mailboxes == ["alice@contoso.example"])
        let list = Self.router.route(
            envelope(
                [], list: MailingList(id: "x.lists.example"),
                to: ["alice@wingtiptoys.com"]), headers: noHeaders)
        #expect(!list.usedHeaderRecipients)
        #expect(list.mailboxes == ["postmaster@contoso.example"])
        // With a routable envelope recipient, To is not looked at.
        let both = Self.router.route(
            envelope(["bob@wingtiptoys.com"], to: ["alice@wingtiptoys.com"]),
            headers: noHeaders)
        #expect(both.mailboxes == ["bob@contoso.example"])
    }

    @Test func invalidRulesAreReportedWithTheirIndex() {
        let rules = RoutingRules(
            domains: ["wingtiptoys.com", "not a domain"], rewrite: "{name}@contoso.example",
            aliases: ["sales": "not an address@", "ok": "fine"],
            rules: [
                .init(match: .address("kelly@wingtiptoys.com"), mailbox: "kelly@contoso.example"),
                .init(match: .regex("(unclosed"), mailbox: "x@contoso.example"),
                .init(match: .header(name: "Bad Name", contains: ""), mailbox: "nobody"),
                .init(match: .domain("@"), mailbox: "y@contoso.example"),
            ],
            fallback: "postmaster")
        #expect(throws: RoutingRulesError.self) { try Router(rules) }
        let problems = rules.validate()
        let indexed = problems.compactMap(\.ruleIndex)
        #expect(indexed == [1, 2, 2, 2, 3])
        #expect(problems.map(\.setting).contains("rules[1].match"))
        #expect(problems.contains { $0.description == "rules[1].match: /(unclosed/ is not a valid regular expression" })
        #expect(problems.map(\.setting).contains("fallback"))
        #expect(problems.map(\.setting).contains("rewrite"))
        #expect(problems.map(\.setting).contains("domains[1]"))
        #expect(problems.map(\.setting).contains("aliases[sales]"))
        #expect(!problems.map(\.setting).contains("aliases[ok]"))
    }

    @Test func planTextForms() {
        #expect(RoutingRules.Match(planText: "Kelly@WingtipToys.com") == .address("kelly@wingtiptoys.com"))
        #expect(RoutingRules.Match(planText: "@TreyResearch.net") == .domain("treyresearch.net"))
        #expect(RoutingRules.Match(planText: "/^jobs.*@/") == .regex("^jobs.*@"))
        #expect(
            RoutingRules.Match(planText: "List-Id: treyresearch")
                == .header(
                    name: "List-Id",
                    contains: "treyresearch"))
        #expect(RoutingRules.Match(planText: "  ") == nil)
    }

    @Test func decisionsRoundTripAsJSON() throws {
        let item = Self.corpusCase("exim-once-per-mailbox-not-per-recipient")
        let decision = Self.run(item.message, item.provider).decision
        let data = try JSONEncoder().encode(decision)
        #expect(try JSONDecoder().decode(RoutingDecision.self, from: data) == decision)
    }

    // MARK: What `route --dry-run` prints

    @Test func dryRunPreview() {
        let item = Self.corpusCase("postfix-multiple-delivered-to-forward-chain")
        let outcome = Self.run(item.message, item.provider)
        let lines = RoutePreview.lines(envelope: outcome.envelope, decision: outcome.decision)
        #expect(
            lines == [
                "  trust      boundary at field 5, by mx1.wingtip-isp.example",
                "  sender     alice@fabrikam.example  [Return-Path (field 0, trusted)]",
                "  recipient  sales@wingtiptoys.com  [Delivered-To (field 3, trusted)]",
                "  seen       everyone@wingtip-isp.example  [Delivered-To (field 1, trusted)] not used",
                "  arrival    Fri, 14 Nov 2025 11:30:02 +0100  [provider-received: Received (field 2)]",
                "  deliver    kelly@contoso.example",
                "             because sales@wingtiptoys.com from Delivered-To (field 3, trusted): alias → "
                    + "kelly@contoso.example",
                "  note       trust boundary: Received (field 5) by mx1.wingtip-isp.example is the provider's entry hop; "
                    + "fields below it are sender-controlled",
                "  note       also seen, not used: everyone@wingtip-isp.example (Delivered-To (field 1, trusted))",
            ])
    }

    /// The fallback copy's reason header: one field, folded at spaces, 7-bit, never a line past 998 octets, so no
    /// text from a message can end it early or add a field; the message's own line ending.
    @Test func fallbackReasonHeader() {
        let short = RoutingHeader.fallbackField(reason: "message: no recipient recovered → fallback")
        #expect(
            String(decoding: short, as: UTF8.self)
                == "X-MailFerry-Routing: fallback; message: no recipient recovered -> fallback\r\n")
        let hostile =
            "x@wingtiptoys.com from To (field 3, guessed)\r\nBcc: victim@example.com\u{0}é "
            + String(repeating: "word ", count: 400) + String(repeating: "y", count: 2000)
        let field = String(decoding: RoutingHeader.fallbackField(reason: hostile, lineEnding: "\n"), as: UTF8.self)
        #expect(field.hasSuffix("...\n") && !field.contains("\r"))
        let lines = field.dropLast().split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0].hasPrefix("X-MailFerry-Routing: fallback; x@wingtiptoys.com from To (field 3, guessed)"))
        // One field: every further line is a continuation (starts with a space), none is blank, none too long.
        #expect(lines.dropFirst().allSatisfy { $0.hasPrefix(" ") && $0.count > 1 })
        #expect(lines.allSatisfy { $0.utf8.count <= 998 })
        #expect(lines.dropLast().allSatisfy { $0.utf8.count <= 78 })
        #expect(field.utf8.allSatisfy { $0 == 0x0A || (0x20..<0x7F).contains($0) })
        #expect(field.contains("Bcc: victim@example.com \\u{E9}"))
        #expect(RoutingHeader.lineEnding(of: Array("A: b\r\nC: d\r\n".utf8)) == "\r\n")
        #expect(RoutingHeader.lineEnding(of: Array("A: b\nC: d\n".utf8)) == "\n")
    }
}
