import Foundation

/// What one recipient (or the message as a whole) was routed to, and why.
public struct RecipientRoute: Sendable, Equatable, Codable {
    /// The recipient; nil for a decision about the whole message (a header rule or the fallback when no recipient
    /// was recovered).
    public var recipient: RecoveredRecipient?
    /// The target mailbox; nil when the recipient is not routed (not local and no rule matches).
    public var mailbox: String?
    public var via: Via
    /// One sentence for people, provenance included.
    public var reason: String

    public enum Via: Sendable, Equatable, Codable {
        /// `rules[index]` matched.
        case rule(index: Int)
        case alias
        case rewrite
        case fallback
        /// Not in the catch-all's domains and no rule matched: not routed (other recipients, or the fallback, carry
        /// the message).
        case notLocal
    }
}

/// One delivery of the message: each target mailbox appears once, however many recipients lead to it.
public struct RoutedDelivery: Sendable, Equatable, Codable {
    public var mailbox: String
    /// The legacy recipients that lead here, in routing order (empty when the whole message went to fallback).
    public var recipients: [String]
    /// Why, provenance included: the reasons of every route into this mailbox, joined with "; ".
    public var because: String
    /// The fallback mailbox, reached because something was unroutable.
    public var isFallback: Bool
    /// Rests on a guessed recipient (no trust boundary, or To/Cc).
    public var isGuessed: Bool

    package init(mailbox: String, recipients: [String], because: String, isFallback: Bool, isGuessed: Bool) {
        self.mailbox = mailbox
        self.recipients = recipients
        self.because = because
        self.isFallback = isFallback
        self.isGuessed = isGuessed
    }
}

/// The router's answer for one message: never empty (anything unroutable goes to the fallback mailbox).
public struct RoutingDecision: Sendable, Equatable, Codable {
    public var deliveries: [RoutedDelivery]
    /// Every routing step, per recipient, in order: for `route --dry-run` and the report.
    public var routes: [RecipientRoute]
    /// To/Cc were used because the trace headers gave no recipient.
    public var usedHeaderRecipients: Bool
    public var notes: [String]

    public var mailboxes: [String] { deliveries.map(\.mailbox) }

    package init(deliveries: [RoutedDelivery], routes: [RecipientRoute], usedHeaderRecipients: Bool, notes: [String]) {
        self.deliveries = deliveries
        self.routes = routes
        self.usedHeaderRecipients = usedHeaderRecipients
        self.notes = notes
    }
}

/// Routes a recovered envelope to target mailboxes by `RoutingRules` (DESIGN.md: Router.route(envelope, rules)).
/// Pure and deterministic; regular expressions are compiled once, when the router is made.
///
/// - Envelope recipients are routed one by one; a target mailbox gets one delivery however many recipients lead
///   to it (a message for several local people fans out to each of them, once per mailbox).
/// - To/Cc are used only when no envelope recipient can be placed (none recovered, or none local and none matching
///   a rule), flagged as a guess, and never for a mailing-list message (its To names the list, not the subscriber).
/// - A mailing-list message also matches address, domain and regex rules by the list's posting address.
/// - Nothing is dropped: a local recipient nothing places, and a message no recipient places, go to `fallback`.
public struct Router: Sendable {
    public let rules: RoutingRules
    /// Compiled patterns by rule index. NSRegularExpression is immutable once made and documented thread-safe.
    private let patterns: PatternTable
    /// `rules.aliases` with lower-case keys (addresses and local parts compare case-insensitively).
    private let aliases: [String: String]

    /// Validates the rules (every problem at once, with rule indexes) and compiles the regular expressions.
    public init(_ rules: RoutingRules) throws(RoutingRulesError) {
        let problems = rules.validate()
        guard problems.isEmpty else { throw RoutingRulesError(problems: problems) }
        self.rules = rules
        var compiled: [Int: NSRegularExpression] = [:]
        for (index, rule) in rules.rules.enumerated() {
            if case .regex(let pattern) = rule.match {
                compiled[index] = try? NSRegularExpression(pattern: pattern, options: [.caseInsensitive])
            }
        }
        patterns = PatternTable(byRule: compiled)
        aliases = Dictionary(rules.aliases.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    public func route(_ envelope: RecoveredEnvelope, headers: HeaderBlock) -> RoutingDecision {
        var notes: [String] = []
        let list = envelope.mailingList?.address
        var routes = envelope.recipients.prefix(EnvelopeRecovery.maxAddresses).map {
            route($0, list: list, headers: headers)
        }
        var considered = envelope.recipients
        var usedHeaders = false
        // The last resort: To/Cc, only when no envelope recipient could be placed.
        if !routes.contains(where: { $0.mailbox != nil }) {
            if envelope.mailingList != nil {
                notes.append("a mailing-list message: To/Cc not used (they name the list, not the subscriber)")
            } else if !envelope.headerRecipients.isEmpty {
                usedHeaders = true
                notes.append(
                    (envelope.recipients.isEmpty
                        ? "no envelope recipient"
                        : "no envelope recipient could be "
                            + "placed") + ": To/Cc used as a guess (Bcc recipients cannot be seen this way)")
                routes += envelope.headerRecipients.prefix(EnvelopeRecovery.maxAddresses).map {
                    route($0, list: nil, headers: headers)
                }
                considered += envelope.headerRecipients
            }
        }
        if !routes.contains(where: { $0.mailbox != nil }) {
            routes.append(messageRoute(envelope, headers: headers, considered: considered))
        }
        for route in routes where route.via == .notLocal { notes.append(route.reason) }
        return RoutingDecision(
            deliveries: Self.deliveries(routes), routes: routes, usedHeaderRecipients: usedHeaders,
            notes: notes)
    }

    /// Routes one recipient: rules, aliases, rewrite, fallback.
    private func route(_ recipient: RecoveredRecipient, list: String?, headers: HeaderBlock) -> RecipientRoute {
        let address = recipient.address
        let who = "\(address) from \(recipient.provenance)"
        for (index, rule) in rules.rules.enumerated() {
            if matches(rule.match, index: index, address: address) {
                return RecipientRoute(
                    recipient: recipient, mailbox: rule.mailbox, via: .rule(index: index),
                    reason: "\(who): rule \(index) (\(rule.match))")
            }
            if let list, matches(rule.match, index: index, address: list) {
                return RecipientRoute(
                    recipient: recipient, mailbox: rule.mailbox, via: .rule(index: index),
                    reason: "\(who): list \(list) matches rule \(index) (\(rule.match))")
            }
            if case .header(let name, let text) = rule.match, Self.header(headers, name, contains: text) {
                return RecipientRoute(
                    recipient: recipient, mailbox: rule.mailbox, via: .rule(index: index),
                    reason: "\(who): rule \(index) (\(rule.match))")
            }
        }
        let local = rules.domains.contains(MailAddress.domain(of: address))
        let localPart = MailAddress.localPart(of: address)
        if let target = aliases[address] ?? (local ? aliases[localPart] : nil) {
            if target.contains("@") {
                return RecipientRoute(
                    recipient: recipient, mailbox: target, via: .alias,
                    reason: "\(who): alias → \(target)")
            }
            if let mailbox = rewritten(local: target, domain: MailAddress.domain(of: address)) {
                if let refusal = refusal(of: mailbox, for: recipient) { return refusal }
                return RecipientRoute(
                    recipient: recipient, mailbox: mailbox, via: .alias,
                    reason: "\(who): alias → \(target), rewritten to \(mailbox)")
            }
        }
        guard local else {
            return RecipientRoute(
                recipient: recipient, mailbox: nil, via: .notLocal,
                reason: "\(who): not in \(rules.domains.joined(separator: ", ")) and no rule "
                    + "matches; not routed")
        }
        if let refusal = refusal(
            of: rules.rewrite.map {
                Self.fill(
                    $0, local: localPart,
                    domain: MailAddress.domain(
                        of: address))
            }, for: recipient)
        {
            return refusal
        }
        guard let mailbox = rewritten(local: localPart, domain: MailAddress.domain(of: address)) else {
            return RecipientRoute(
                recipient: recipient, mailbox: rules.fallback, via: .fallback,
                reason: "\(who): local address with no rule, alias or rewrite → fallback")
        }
        if let known = rules.knownMailboxes, !known.contains(mailbox.lowercased()) {
            return RecipientRoute(
                recipient: recipient, mailbox: rules.fallback, via: .fallback,
                reason: "\(who): unknown local address (\(mailbox) is not a known mailbox) → "
                    + "fallback")
        }
        return RecipientRoute(
            recipient: recipient, mailbox: mailbox, via: .rewrite,
            reason: "\(who): rewrite \(rules.rewrite ?? "")")
    }

    /// The decision for a message no recipient placed: a header rule or list rule, else the fallback.
    private func messageRoute(
        _ envelope: RecoveredEnvelope, headers: HeaderBlock,
        considered: [RecoveredRecipient]
    ) -> RecipientRoute {
        let list = envelope.mailingList?.address
        for (index, rule) in rules.rules.enumerated() {
            if case .header(let name, let text) = rule.match, Self.header(headers, name, contains: text) {
                return RecipientRoute(
                    recipient: nil, mailbox: rule.mailbox, via: .rule(index: index),
                    reason: "message: rule \(index) (\(rule.match))")
            }
            if let list, matches(rule.match, index: index, address: list) {
                return RecipientRoute(
                    recipient: nil, mailbox: rule.mailbox, via: .rule(index: index),
                    reason: "message: list \(list) matches rule \(index) (\(rule.match))")
            }
        }
        let why: String
        if considered.isEmpty {
            why =
                envelope.mailingList == nil && envelope.headerRecipients.isEmpty
                ? "no recipient recovered from the trace headers, and no To/Cc address"
                : "no recipient recovered from the trace headers"
        } else {
            why =
                "no recipient is local or matches a rule ("
                + considered.prefix(5).map(\.address).joined(separator: ", ")
                + (considered.count > 5 ? ", …" : "") + ")"
        }
        return RecipientRoute(
            recipient: nil, mailbox: rules.fallback, via: .fallback,
            reason: "message: \(why) → fallback")
    }

    private func matches(_ match: RoutingRules.Match, index: Int, address: String) -> Bool {
        switch match {
        case .address(let wanted):
            return MailAddress.normalize(wanted) == address
        case .domain(let domain):
            return MailAddress.domain(of: address) == domain.lowercased()
        case .regex:
            guard let pattern = patterns.byRule[index] else { return false }
            let range = NSRange(address.startIndex..<address.endIndex, in: address)
            return pattern.firstMatch(in: address, options: [], range: range) != nil
        case .header:
            return false
        }
    }

    /// Whether a field `name` contains `text` (case-insensitive), raw or RFC 2047-decoded.
    static func header(_ headers: HeaderBlock, _ name: String, contains text: String) -> Bool {
        headers.all(name).contains { field in
            field.text.range(of: text, options: .caseInsensitive) != nil
                || field.displayValue.range(of: text, options: .caseInsensitive) != nil
        }
    }

    private func rewritten(local: String, domain: String) -> String? {
        guard let template = rules.rewrite else { return nil }
        return MailAddress.normalize(Self.fill(template, local: local, domain: domain))
    }

    static func fill(_ template: String, local: String, domain: String) -> String {
        template.replacingOccurrences(of: "{local}", with: local).replacingOccurrences(of: "{domain}", with: domain)
    }

    /// The fallback route for a recipient whose rewritten address cannot name a mailbox folder (SECURITY.md,
    /// "Containment"): it was written by a stranger (`../../x`, `a/b`, a control character, a 10,000-byte local
    /// part), and a Maildir target would make a folder of it. Nil when the address is safe, or there is none.
    private func refusal(of mailbox: String?, for recipient: RecoveredRecipient) -> RecipientRoute? {
        guard let mailbox, let problem = PathComponent.addressProblem(mailbox) else { return nil }
        let shown = sanitizeForDisplay(recipient.address, limit: 80)
        return RecipientRoute(
            recipient: recipient, mailbox: rules.fallback, via: .fallback,
            reason: "\(shown) from \(recipient.provenance): refused as a mailbox name ("
                + "\(sanitizeForDisplay(mailbox, limit: 80)): \(problem)) → fallback")
    }

    /// Groups routes by target mailbox (case-insensitive), in the order mailboxes are first reached.
    static func deliveries(_ routes: [RecipientRoute]) -> [RoutedDelivery] {
        var out: [RoutedDelivery] = []
        var slot: [String: Int] = [:]
        for route in routes {
            guard let mailbox = route.mailbox else { continue }
            let key = mailbox.lowercased()
            let guessed = route.recipient.map { !$0.provenance.trusted } ?? false
            if let index = slot[key] {
                if let address = route.recipient?.address, !out[index].recipients.contains(address) {
                    out[index].recipients.append(address)
                }
                out[index].because += "; " + route.reason
                out[index].isFallback = out[index].isFallback || route.via == .fallback
                out[index].isGuessed = out[index].isGuessed || guessed
            } else {
                slot[key] = out.count
                out.append(
                    RoutedDelivery(
                        mailbox: mailbox, recipients: route.recipient.map { [$0.address] } ?? [],
                        because: route.reason, isFallback: route.via == .fallback,
                        isGuessed: guessed))
            }
        }
        return out
    }
}

/// Regular expressions by rule index. NSRegularExpression is immutable after creation and documented as safe to
/// use from several threads, so sharing it is sound.
private struct PatternTable: @unchecked Sendable {
    let byRule: [Int: NSRegularExpression]
}
