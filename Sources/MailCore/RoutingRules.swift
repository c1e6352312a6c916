import Foundation

/// How a catch-all ("global") mailbox's mail is routed to target mailboxes (DESIGN.md, global mailboxes).
///
/// Per recipient, in this order:
/// 1. `rules`, first match wins (an address, a domain, a regular expression, or a header of the message);
/// 2. `aliases` (a legacy address, or a local part at any of `domains`);
/// 3. `rewrite`, for recipients in `domains` (checked against `knownMailboxes` when that is given);
/// 4. `fallback`, for a local recipient nothing above placed; and for the whole message when no recipient at all
///    was placed. Nothing is ever dropped.
public struct RoutingRules: Sendable, Equatable {
    /// The legacy domains the catch-all receives mail for, lower-case ("wingtiptoys.com").
    public var domains: [String]
    /// The target address of a local recipient: `{local}` and `{domain}` are the legacy address's parts
    /// (`"{local}@contoso.example"`). Nil: local recipients without a rule or alias go to `fallback`.
    public var rewrite: String?
    /// Legacy address → target. Keys are addresses (`sales@wingtiptoys.com`) or local parts (`sales`, at any of
    /// `domains`). A value with '@' is the target mailbox as written; a value without is a new local part that then
    /// goes through `rewrite` (`"chris.miller": "chris"`).
    public var aliases: [String: String]
    public var rules: [Rule]
    /// Where anything unroutable goes.
    public var fallback: String
    /// Target mailboxes that exist. When set, an address made by `rewrite` that is not in it counts as unknown and
    /// goes to `fallback` (rules and aliases are the admin's word and are not checked). Compared lower-case.
    public var knownMailboxes: Set<String>?

    public init(
        domains: [String], rewrite: String?, aliases: [String: String] = [:], rules: [Rule] = [],
        fallback: String, knownMailboxes: Set<String>? = nil
    ) {
        self.domains = domains.map { $0.lowercased() }
        self.rewrite = rewrite
        self.aliases = aliases
        self.rules = rules
        self.fallback = fallback
        self.knownMailboxes = knownMailboxes.map { Set($0.map { $0.lowercased() }) }
    }

    public struct Rule: Sendable, Equatable, Codable {
        public var match: Match
        /// The target mailbox.
        public var mailbox: String

        public init(match: Match, mailbox: String) {
            self.match = match
            self.mailbox = mailbox
        }
    }

    public enum Match: Sendable, Equatable, Codable, CustomStringConvertible {
        /// One address, case-insensitive. Also matches a mailing list's posting address (List-Post), so a rule
        /// for the list takes all of the list's mail.
        case address(String)
        /// Every address at this domain (exact domain, case-insensitive). Also matches a list's address.
        case domain(String)
        /// An NSRegularExpression searched in the lower-case address (anchor it with ^…$ for a whole match),
        /// case-insensitive. Also matches a list's address.
        case regex(String)
        /// The message has a field `name` whose value (raw or RFC 2047-decoded) contains `contains`,
        /// case-insensitive. Matches every recipient of the message, and the message when it has none.
        case header(name: String, contains: String)

        /// The plan's text form: `/pattern/` is a regex, `@domain` a domain, `Name: text` a header match, anything
        /// else an address. Nil for empty text.
        public init?(planText text: String) {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { return nil }
            if trimmed.count >= 2, trimmed.hasPrefix("/"), trimmed.hasSuffix("/") {
                self = .regex(String(trimmed.dropFirst().dropLast()))
            } else if trimmed.hasPrefix("@") {
                self = .domain(String(trimmed.dropFirst()).lowercased())
            } else if let colon = trimmed.firstIndex(of: ":"), !trimmed[..<colon].contains("@") {
                self = .header(
                    name: trimmed[..<colon].trimmingCharacters(in: .whitespaces),
                    contains: trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            } else {
                self = .address(trimmed.lowercased())
            }
        }

        public var description: String {
            switch self {
            case .address(let address): "address \(address)"
            case .domain(let domain): "domain @\(domain)"
            case .regex(let pattern): "regex /\(pattern)/"
            case .header(let name, let contains): "header \(name) contains \"\(contains)\""
            }
        }
    }
}

/// A problem with routing rules, found before any message is routed.
public struct RoutingRuleProblem: Sendable, Equatable, CustomStringConvertible {
    /// The index in `RoutingRules.rules`, nil for `fallback`, `rewrite`, `aliases` and `domains`.
    public var ruleIndex: Int?
    /// Which setting: "rules[2].match", "fallback", "aliases[sales]".
    public var setting: String
    public var message: String

    public var description: String { "\(setting): \(message)" }
}

/// Thrown by `Router.init` with every problem at once.
public struct RoutingRulesError: Error, Sendable, Equatable, CustomStringConvertible {
    public var problems: [RoutingRuleProblem]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

extension RoutingRules {
    /// Checks everything up front: addresses, domains, regular expressions (compiled), header names, the rewrite
    /// template. Returns every problem, with the rule index where there is one.
    public func validate() -> [RoutingRuleProblem] {
        var problems: [RoutingRuleProblem] = []
        func problem(_ index: Int?, _ setting: String, _ message: String) {
            problems.append(RoutingRuleProblem(ruleIndex: index, setting: setting, message: message))
        }
        if domains.isEmpty { problem(nil, "domains", "name at least one legacy domain") }
        for (index, domain) in domains.enumerated() where !Self.isDomain(domain) {
            problem(nil, "domains[\(index)]", "\"\(sanitizeForDisplay(domain, limit: 80))\" is not a domain name")
        }
        if MailAddress.normalize(fallback) == nil {
            problem(nil, "fallback", "\"\(sanitizeForDisplay(fallback, limit: 80))\" is not an address")
        }
        if let rewrite {
            let sample = rewrite.replacingOccurrences(of: "{local}", with: "kelly")
                .replacingOccurrences(of: "{domain}", with: "example.com")
            if sample.contains("{") || MailAddress.normalize(sample) == nil {
                problem(
                    nil, "rewrite",
                    "must give an address using only {local} and {domain}, as in "
                        + "\"{local}@contoso.example\"")
            }
        }
        for (key, value) in aliases.sorted(by: { $0.key < $1.key }) {
            let setting = "aliases[\(sanitizeForDisplay(key, limit: 60))]"
            for message in Self.aliasProblems(key: key, value: value, hasRewrite: rewrite != nil) {
                problem(nil, setting, message)
            }
        }
        for (index, rule) in rules.enumerated() {
            let setting = "rules[\(index)]"
            if MailAddress.normalize(rule.mailbox) == nil {
                problem(
                    index, setting + ".mailbox",
                    "\"\(sanitizeForDisplay(rule.mailbox, limit: 80))\" is not an "
                        + "address")
            }
            for message in Self.problems(of: rule.match) { problem(index, setting + ".match", message) }
        }
        return problems
    }

    /// What is wrong with one rule's match (empty when nothing): the address, domain, regular expression (compiled)
    /// or header field name. The plan validator uses this too, so a plan and the router agree on what is valid.
    public static func problems(of match: Match) -> [String] {
        switch match {
        case .address(let address):
            return MailAddress.normalize(address) == nil
                ? ["\"\(sanitizeForDisplay(address, limit: 80))\" is not an address"] : []
        case .domain(let domain):
            return isDomain(domain.lowercased()) ? [] : ["\"\(sanitizeForDisplay(domain, limit: 80))\" is not a domain"]
        case .regex(let pattern):
            do {
                _ = try NSRegularExpression(pattern: pattern, options: [.caseInsensitive])
                return []
            } catch {
                return ["/\(sanitizeForDisplay(pattern, limit: 80))/ is not a valid regular expression"]
            }
        case .header(let name, let contains):
            var out: [String] = []
            if name.isEmpty || !name.utf8.allSatisfy({ $0 >= 33 && $0 <= 126 && $0 != 0x3A }) {
                out.append("\"\(sanitizeForDisplay(name, limit: 80))\" is not a header field name")
            }
            if contains.isEmpty { out.append("the text to look for is empty") }
            return out
        }
    }

    /// What is wrong with one alias (empty when nothing). Keys are addresses or local parts; values too, and a local
    /// part needs `rewrite` to become an address.
    public static func aliasProblems(key: String, value: String, hasRewrite: Bool) -> [String] {
        var out: [String] = []
        if key.contains("@") ? MailAddress.normalize(key) == nil : !isLocalPart(key) {
            out.append("the key must be an address (old@wingtiptoys.com) or a local part (old)")
        }
        if value.contains("@") ? MailAddress.normalize(value) == nil : !isLocalPart(value) {
            out.append("\"\(sanitizeForDisplay(value, limit: 80))\" is neither an address nor a local part")
        } else if !value.contains("@") && !hasRewrite {
            out.append("maps to a local part, but there is no rewrite to make an address of it")
        } else if let why = value.contains("@") ? PathComponent.addressProblem(value) : PathComponent.problem(value) {
            out.append(
                "\"\(sanitizeForDisplay(value, limit: 80))\" cannot name a mailbox: it would escape the target "
                    + "folder (\(why))")
        }
        return out
    }

    static func isDomain(_ text: String) -> Bool {
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 2 && text.utf8.count <= 253
            && labels.allSatisfy { label in
                !label.isEmpty && label.count <= 63
                    && label.unicodeScalars.allSatisfy {
                        $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_")
                    }
            }
    }

    package static func isLocalPart(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 64
            && text.unicodeScalars.allSatisfy {
                $0.value > 32 && $0.value < 127 && !"<>()[],;:\\\"@".unicodeScalars.contains($0)
            }
    }
}
