import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// Global (catch-all) mailboxes: `global: { domains, rewrite, trustedHosts, rules, aliases, fallback, qmailPrefix,
/// reasonHeader }` (DESIGN.md). Rule matches and aliases are checked by the router's own rules
/// (`RoutingRules.problems(of:)`, `aliasProblems`), so what the plan accepts is what the router accepts.
extension PlanValidator {
    static let globalKeys = [
        "domains", "rewrite", "trustedHosts", "rules", "aliases", "fallback", "qmailPrefix",
        "reasonHeader",
    ]
    static let ruleKeys = ["match", "mailbox"]

    mutating func buildGlobal(_ value: JSONValue, at: String) -> Plan.GlobalRouting? {
        guard case .object(let g) = value else {
            problem(
                at,
                "must be an object like { domains: [\"wingtiptoys.com\"], rewrite: \"{local}@contoso.example\" "
                    + "}, found \(value.typeName)")
            return nil
        }
        checkKeys(g, allowed: Self.globalKeys, at: at)
        // Every part is checked, so all problems are reported at once; any of them makes the mailbox invalid.
        var ok = true
        let domains = globalDomains(g, at: at, ok: &ok)
        let rewrite = globalRewrite(g, at: at, ok: &ok)
        let trusted = trustedHosts(g, at: at, ok: &ok)
        let rules = globalRules(g["rules"], at: PlanPath.member(at, "rules"), ok: &ok)
        let fallback = globalFallback(g, at: at, ok: &ok)
        let aliases = buildAliases(g["aliases"], at: PlanPath.member(at, "aliases"), hasRewrite: true, ok: &ok)
        let qmailPrefix = buildQmailPrefix(g["qmailPrefix"], at: PlanPath.member(at, "qmailPrefix"), ok: &ok)
        let reasonHeader = bool(g, "reasonHeader", at: at) ?? false
        guard ok else { return nil }
        return Plan.GlobalRouting(
            domains: domains, rewrite: rewrite, trustedHosts: trusted, rules: rules,
            fallback: fallback, aliases: aliases, qmailPrefix: qmailPrefix,
            reasonHeader: reasonHeader)
    }

    /// `domains`: the legacy domains the mailbox catches mail for, lowercased (required, not empty).
    private mutating func globalDomains(_ g: [String: JSONValue], at: String, ok: inout Bool) -> [String] {
        var domains: [String] = []
        let domainsPath = PlanPath.member(at, "domains")
        if g["domains"] == nil {
            problem(domainsPath, "missing: name the legacy domains this mailbox catches mail for")
            ok = false
        }
        for (index, text) in (stringList(g, "domains", at: at) ?? []).enumerated() {
            let domain = text.lowercased()
            let path = PlanPath.element(domainsPath, index)
            if domain.hasPrefix("@"), Self.isDomain(String(domain.dropFirst())) {
                problem(path, "write the domain without '@': \"\(domain.dropFirst())\"")
                ok = false
            } else if !Self.isDomain(domain) {
                problem(path, "\"\(sanitizeForDisplay(text, limit: 80))\" is not a domain name like wingtiptoys.com")
                ok = false
            } else if domains.contains(domain) {
                problem(path, "\(domain) is listed twice")
            } else {
                domains.append(domain)
            }
        }
        if case .array(let items)? = g["domains"], items.isEmpty {
            problem(domainsPath, "the list is empty: name at least one domain")
            ok = false
        }
        return domains
    }

    /// `rewrite`: how a legacy address becomes a target one; "{local}@{domain}" (unchanged) when not written.
    private mutating func globalRewrite(_ g: [String: JSONValue], at: String, ok: inout Bool) -> String {
        guard let text = nonEmptyString(g, "rewrite", at: at) else { return "{local}@{domain}" }
        let spot = locations.spot(PlanPath.member(at, "rewrite"))
        guard checkPlaceholders(text, allowed: ["local", "domain"], spot: spot) else {
            ok = false
            return "{local}@{domain}"
        }
        let sample = text.replacingOccurrences(of: "{local}", with: "kelly")
            .replacingOccurrences(of: "{domain}", with: "example.com")
        guard Self.isAddress(sample) else {
            problem(spot, "must give an address, as in \"{local}@contoso.example\"")
            ok = false
            return "{local}@{domain}"
        }
        return text
    }

    /// `trustedHosts`: the provider's own servers, whose trace headers are believed; lowercased.
    private mutating func trustedHosts(_ g: [String: JSONValue], at: String, ok: inout Bool) -> [String] {
        var trusted: [String] = []
        let trustedPath = PlanPath.member(at, "trustedHosts")
        for (index, host) in (stringList(g, "trustedHosts", at: at) ?? []).enumerated() {
            let lowered = host.lowercased()
            if Self.isDomain(lowered) || HostName.isIPAddress(host) {
                trusted.append(lowered)
            } else {
                problem(
                    PlanPath.element(trustedPath, index),
                    "\"\(sanitizeForDisplay(host, limit: 80))\" is not a "
                        + "host name or IP address")
                ok = false
            }
        }
        return trusted
    }

    /// `rules`: a list of { match, mailbox }, checked in order, so a match already covered above is reported.
    private mutating func globalRules(
        _ value: JSONValue?, at rulesPath: String,
        ok: inout Bool
    ) -> [Plan.GlobalRouting.Rule] {
        var rules: [Plan.GlobalRouting.Rule] = []
        switch value {
        case .array(let items)?:
            for (index, item) in items.enumerated() {
                // A rule with a bad mailbox still counts for the duplicate check of the rules below it.
                if let rule = globalRule(item, at: PlanPath.element(rulesPath, index), after: rules, ok: &ok) {
                    rules.append(rule)
                }
            }
        case nil: break
        case let other?:
            problem(rulesPath, "must be a list of { match, mailbox }, found \(other.typeName)")
            ok = false
        }
        return rules
    }

    /// One `{ match, mailbox }` rule; nil when its match or mailbox is missing or its match cannot be read.
    private mutating func globalRule(
        _ item: JSONValue, at path: String, after rules: [Plan.GlobalRouting.Rule],
        ok: inout Bool
    ) -> Plan.GlobalRouting.Rule? {
        guard case .object(let r) = item else {
            problem(
                path,
                "must be an object like { match: \"list@treyresearch.net\", mailbox: "
                    + "\"kelly@contoso.example\" }, found \(item.typeName)")
            ok = false
            return nil
        }
        checkKeys(r, allowed: Self.ruleKeys, at: path)
        let match = nonEmptyString(r, "match", at: path, required: true)
        let mailbox = nonEmptyString(r, "mailbox", at: path, required: true)
        if let match {
            checkRuleMatch(match, at: PlanPath.member(path, "match"), after: rules, ok: &ok)
        }
        if let mailbox, !Self.isAddress(mailbox) {
            problem(
                PlanPath.member(path, "mailbox"),
                "\"\(sanitizeForDisplay(mailbox, limit: 80))\" is not an "
                    + "address like kelly@contoso.example")
            ok = false
        } else if let mailbox, let why = PathComponent.addressProblem(mailbox) {
            problem(
                PlanPath.member(path, "mailbox"),
                "\"\(sanitizeForDisplay(mailbox, limit: 80))\" cannot "
                    + "name a mailbox: it would escape the target folder (\(why))")
            ok = false
        }
        guard let match, let mailbox, let parsed = RoutingRules.Match(planText: match) else { return nil }
        // Addresses and domains compare without case; a pattern or header text is kept as written.
        let text = match.trimmingCharacters(in: .whitespaces)
        switch parsed {
        case .address, .domain: return .init(match: text.lowercased(), mailbox: mailbox)
        case .regex, .header: return .init(match: text, mailbox: mailbox)
        }
    }

    /// A rule's `match`, as the router reads it, and not one an earlier rule already has.
    private mutating func checkRuleMatch(
        _ match: String, at matchPath: String, after rules: [Plan.GlobalRouting.Rule],
        ok: inout Bool
    ) {
        guard let parsed = RoutingRules.Match(planText: match) else {
            problem(matchPath, "must not be blank")
            ok = false
            return
        }
        let found = RoutingRules.problems(of: parsed)
        for message in found {
            switch parsed {
            case .address, .domain:
                problem(
                    matchPath,
                    message + "; a rule matches an address (someone@domain), a whole "
                        + "domain (@domain), a header (Name: text) or a regular expression (/pattern/)")
            case .regex, .header:
                problem(matchPath, message)
            }
        }
        if !found.isEmpty {
            ok = false
        } else if rules.contains(where: { Self.sameMatch(.init(planText: $0.match), parsed) }) {
            problem(
                matchPath,
                "\(sanitizeForDisplay(match, limit: 80)) already has a rule above; only "
                    + "the first would count")
            ok = false
        }
    }

    /// `fallback`: where mail for recipients no rule, alias or rewrite places goes.
    private mutating func globalFallback(_ g: [String: JSONValue], at: String, ok: inout Bool) -> String? {
        guard let text = nonEmptyString(g, "fallback", at: at) else { return nil }
        if Self.isAddress(text), let why = PathComponent.addressProblem(text) {
            problem(
                PlanPath.member(at, "fallback"),
                "\"\(sanitizeForDisplay(text, limit: 80))\" cannot name a "
                    + "mailbox: it would escape the target folder (\(why))")
            ok = false
        } else if Self.isAddress(text) {
            return text
        } else {
            problem(
                PlanPath.member(at, "fallback"),
                "\"\(sanitizeForDisplay(text, limit: 80))\" is not an address "
                    + "like postmaster@contoso.example")
            ok = false
        }
        return nil
    }

    /// Two matches that match the same: header names and texts compare without case, as the router matches them.
    static func sameMatch(_ a: RoutingRules.Match?, _ b: RoutingRules.Match) -> Bool {
        switch (a, b) {
        case (.header(let n1, let t1)?, .header(let n2, let t2)):
            n1.lowercased() == n2.lowercased() && t1.lowercased() == t2.lowercased()
        default: a == b
        }
    }

    /// `aliases: { "old@acquired.example": "new@contoso.example", "sales": "kelly" }`: a legacy address (or a local
    /// part at any of the domains) → a target address (or a local part that `rewrite` makes an address of).
    private mutating func buildAliases(
        _ value: JSONValue?, at: String, hasRewrite: Bool,
        ok: inout Bool
    ) -> [String: String] {
        guard let value else { return [:] }
        guard case .object(let items) = value else {
            problem(
                at,
                "must be an object like { \"old@wingtiptoys.com\": \"new@contoso.example\" }, found "
                    + value.typeName)
            ok = false
            return [:]
        }
        var aliases: [String: String] = [:]
        var seen: [String: String] = [:]
        for (key, item) in items.sorted(by: { $0.key < $1.key }) {
            let path = PlanPath.member(at, key)
            guard case .string(let target) = item else {
                problem(path, "must be an address in quotes, found \(item.typeName)")
                ok = false
                continue
            }
            let problems = RoutingRules.aliasProblems(key: key, value: target, hasRewrite: hasRewrite)
            for message in problems { problem(path, message) }
            if let first = seen[key.lowercased()] {
                problem(
                    path,
                    "\(sanitizeForDisplay(key, limit: 80)) is listed twice (also as "
                        + "\(sanitizeForDisplay(first, limit: 80))); addresses compare without case")
                ok = false
            } else if problems.isEmpty {
                seen[key.lowercased()] = key
                aliases[key] = target
            } else {
                ok = false
            }
        }
        return aliases
    }

    /// `qmailPrefix: "domain"` (remove `<domain>-`), a list of literal prefixes (`["wingtip-"]`), or "off".
    private mutating func buildQmailPrefix(
        _ value: JSONValue?, at: String,
        ok: inout Bool
    ) -> EnvelopeRecovery.QmailPrefix {
        let forms =
            "use \"domain\" (qmail virtualdomains entry domain:domain), a list of prefixes like "
            + "[\"wingtip-\"], or \"off\""
        switch value {
        case nil: return .off
        case .string("off")?: return .off
        case .string("domain")?: return .domain
        case .string(let text)?:
            problem(
                at,
                "unknown value \"\(sanitizeForDisplay(text, limit: 40))\"; \(forms)"
                    + suggestion(text, among: ["domain", "off"]))
        case .array(let items)?:
            var prefixes: [String] = []
            for (index, item) in items.enumerated() {
                let path = PlanPath.element(at, index)
                if case .string(let text) = item, !text.isEmpty, !text.contains("@"),
                    RoutingRules.isLocalPart(text)
                {
                    prefixes.append(text.lowercased())
                } else if case .string(let text) = item {
                    problem(
                        path,
                        "\"\(sanitizeForDisplay(text, limit: 40))\" is not the start of a local part "
                            + "(like \"wingtip-\")")
                } else {
                    problem(path, "must be text in quotes, found \(item.typeName)")
                }
            }
            if items.isEmpty { problem(at, "the list is empty; \(forms)") }
            if prefixes.count == items.count && !items.isEmpty { return .prefixes(prefixes) }
        case let other?:
            problem(at, "must be \"domain\", \"off\" or a list of prefixes, found \(other.typeName)")
        }
        ok = false
        return .off
    }
}
