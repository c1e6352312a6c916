import Foundation

/// Global (catch-all) mailboxes: `global: { domains, rewrite, trustedHosts, rules, fallback }` (DESIGN.md).
/// Validated in full here; routing the mail by recipient is a later stage.
extension PlanValidator {
    static let globalKeys = ["domains", "rewrite", "trustedHosts", "rules", "fallback"]
    static let ruleKeys = ["match", "mailbox"]

    mutating func buildGlobal(_ value: JSONValue, at: String) -> Plan.GlobalRouting? {
        guard case .object(let g) = value else {
            problem(at, "must be an object like { domains: [\"wingtiptoys.com\"], rewrite: \"{local}@contoso.example\" "
                + "}, found \(value.typeName)")
            return nil
        }
        checkKeys(g, allowed: Self.globalKeys, at: at)
        var ok = true
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
        var rewrite = "{local}@{domain}"
        if let text = nonEmptyString(g, "rewrite", at: at) {
            let spot = locations.spot(PlanPath.member(at, "rewrite"))
            if checkPlaceholders(text, allowed: ["local", "domain"], spot: spot) {
                let sample = text.replacingOccurrences(of: "{local}", with: "kelly")
                    .replacingOccurrences(of: "{domain}", with: "example.com")
                if !Self.isAddress(sample) {
                    problem(spot, "must give an address, as in \"{local}@contoso.example\"")
                    ok = false
                } else {
                    rewrite = text
                }
            } else {
                ok = false
            }
        }
        var trusted: [String] = []
        let trustedPath = PlanPath.member(at, "trustedHosts")
        for (index, host) in (stringList(g, "trustedHosts", at: at) ?? []).enumerated() {
            let lowered = host.lowercased()
            if Self.isDomain(lowered) || TLSStream.isIPAddress(host) {
                trusted.append(lowered)
            } else {
                problem(PlanPath.element(trustedPath, index), "\"\(sanitizeForDisplay(host, limit: 80))\" is not a "
                    + "host name or IP address")
                ok = false
            }
        }
        var rules: [Plan.GlobalRouting.Rule] = []
        let rulesPath = PlanPath.member(at, "rules")
        switch g["rules"] {
        case .array(let items)?:
            for (index, item) in items.enumerated() {
                let path = PlanPath.element(rulesPath, index)
                guard case .object(let r) = item else {
                    problem(path, "must be an object like { match: \"list@treyresearch.net\", mailbox: "
                        + "\"kelly@contoso.example\" }, found \(item.typeName)")
                    ok = false
                    continue
                }
                checkKeys(r, allowed: Self.ruleKeys, at: path)
                let match = nonEmptyString(r, "match", at: path, required: true)
                let mailbox = nonEmptyString(r, "mailbox", at: path, required: true)
                if let match {
                    let domainOnly = match.hasPrefix("@") && Self.isDomain(String(match.dropFirst()))
                    if !domainOnly && !Self.isAddress(match) {
                        problem(PlanPath.member(path, "match"), "\"\(sanitizeForDisplay(match, limit: 80))\" is "
                            + "neither an address (someone@domain) nor a whole domain (@domain)")
                        ok = false
                    } else if rules.contains(where: { $0.match.lowercased() == match.lowercased() }) {
                        problem(PlanPath.member(path, "match"), "\(match) already has a rule above; only the first "
                            + "would count")
                        ok = false
                    }
                }
                if let mailbox, !Self.isAddress(mailbox) {
                    problem(PlanPath.member(path, "mailbox"), "\"\(sanitizeForDisplay(mailbox, limit: 80))\" is not an "
                        + "address like kelly@contoso.example")
                    ok = false
                }
                if let match, let mailbox { rules.append(.init(match: match.lowercased(), mailbox: mailbox)) }
            }
        case nil: break
        case let other?:
            problem(rulesPath, "must be a list of { match, mailbox }, found \(other.typeName)")
            ok = false
        }
        var fallback: String?
        if let text = nonEmptyString(g, "fallback", at: at) {
            if Self.isAddress(text) {
                fallback = text
            } else {
                problem(PlanPath.member(at, "fallback"), "\"\(sanitizeForDisplay(text, limit: 80))\" is not an address "
                    + "like postmaster@contoso.example")
                ok = false
            }
        }
        guard ok else { return nil }
        return Plan.GlobalRouting(domains: domains, rewrite: rewrite, trustedHosts: trusted, rules: rules,
                                  fallback: fallback)
    }
}
