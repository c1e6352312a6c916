import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// Mailboxes: written in the plan or in CSV lists, with what they inherit from `defaults` and their list.
extension PlanValidator {
    /// Source, target and address template that mailboxes inherit (from `defaults` or a `mailboxList`).
    struct Inherited {
        var source: (name: String, spot: PlanSpot)?
        var target: (name: String, spot: PlanSpot)?
        /// "{user}@contoso.example"
        var address: (template: String, spot: PlanSpot)?
    }

    /// Defined source and target names, for reference checks.
    struct Names {
        var sources: Set<String>
        var targets: Set<String>
        var validSources: [String: Plan.Source]
        var validTargets: [String: Plan.Target]
    }

    /// A mailbox as written, before inheritance.
    struct MailboxDraft {
        /// "mailboxes[3]" or "jobs/users.csv:14".
        var label: String
        /// The mailbox itself: problems about it as a whole, and keys it lacks.
        var here: PlanSpot
        /// Where each written setting is.
        var spots: [String: PlanSpot] = [:]
        /// How a setting that is not written would be named ("mailboxes[3].source", or the CSV column).
        var missing: (String) -> PlanSpot
        var source: String?
        var user: String?
        var target: String?
        var address: String?
        var password: SecretRef?
        var token: SecretRef?
        var global: Plan.GlobalRouting?
    }

    mutating func buildInherited(_ value: JSONValue?, at: String, names: Names) -> Inherited {
        var inherited = Inherited()
        guard let value else { return inherited }
        guard case .object(let d) = value else {
            problem(at, "must be an object like { source: \"isp\", target: \"archive\" }, found \(value.typeName)")
            return inherited
        }
        checkKeys(d, allowed: Self.defaultsKeys, at: at)
        inheritedFields(d, at: at, names: names, into: &inherited)
        return inherited
    }

    /// source, target and mailbox of `defaults` or a `mailboxList` entry, each checked where it is written.
    mutating func inheritedFields(_ d: [String: JSONValue], at: String, names: Names, into inherited: inout Inherited) {
        if let source = nonEmptyString(d, "source", at: at) {
            let spot = locations.spot(PlanPath.member(at, "source"))
            checkReference(source, kind: "source", defined: names.sources, spot: spot)
            inherited.source = (source, spot)
        }
        if let target = nonEmptyString(d, "target", at: at) {
            let spot = locations.spot(PlanPath.member(at, "target"))
            checkReference(target, kind: "target", defined: names.targets, spot: spot)
            inherited.target = (target, spot)
        }
        if let template = string(d, "mailbox", at: at) {
            let spot = locations.spot(PlanPath.member(at, "mailbox"))
            if checkPlaceholders(template, allowed: ["user"], spot: spot) {
                if !template.contains("{user}") {
                    problem(
                        spot,
                        "must contain {user}, as in \"{user}@contoso.example\": otherwise every mailbox "
                            + "would get the same address")
                } else {
                    inherited.address = (template, spot)
                }
            }
        }
    }

    mutating func checkReference(_ name: String, kind: String, defined: Set<String>, spot: PlanSpot) {
        guard !defined.contains(name) else { return }
        problem(
            spot,
            "no \(kind) named \"\(sanitizeForDisplay(name, limit: 60))\" in \(kind)s"
                + suggestion(name, among: Array(defined)))
    }

    /// Checks `{name}` placeholders; false when one is unknown.
    @discardableResult
    mutating func checkPlaceholders(_ template: String, allowed: [String], spot: PlanSpot) -> Bool {
        var ok = true
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            guard let close = rest[open...].firstIndex(of: "}") else {
                problem(
                    spot,
                    "a '{' without its '}'; placeholders are written "
                        + allowed.map { "{\($0)}" }.joined(separator: ", "))
                return false
            }
            let name = String(rest[rest.index(after: open)..<close])
            if !allowed.contains(name) {
                let hint = closest(name, among: allowed).map { " (did you mean {\($0)}?)" } ?? ""
                problem(
                    spot,
                    "unknown placeholder {\(sanitizeForDisplay(name, limit: 40))}\(hint); use "
                        + allowed.map { "{\($0)}" }.joined(separator: ", "))
                ok = false
            }
            rest = rest[rest.index(after: close)...]
        }
        return ok
    }

    /// A mailbox written in the plan's `mailboxes` list.
    mutating func jsonMailbox(_ value: JSONValue, at: String) -> MailboxDraft? {
        guard case .object(let m) = value else {
            problem(
                at,
                "must be an object like { source: \"isp\", user: \"chris\", password: { env: \"PW\" }, "
                    + "target: \"archive\" }, found \(value.typeName)")
            return nil
        }
        checkKeys(m, allowed: Self.mailboxKeys, at: at)
        let locations = self.locations
        var draft = MailboxDraft(
            label: at, here: locations.spot(at),
            missing: { locations.spot(PlanPath.member(at, $0)) })
        for key in m.keys { draft.spots[key] = locations.spot(PlanPath.member(at, key)) }
        draft.source = nonEmptyString(m, "source", at: at)
        draft.user = string(m, "user", at: at, required: true)
        draft.target = nonEmptyString(m, "target", at: at)
        draft.address = string(m, "mailbox", at: at)
        if m["token"] != nil && m["password"] != nil {
            problem(PlanPath.member(at, "token"), "give either password or token, not both")
        } else if m["token"] != nil {
            draft.token = secret(m, "token", at: at)
        } else {
            draft.password = secret(m, "password", at: at)
        }
        if let global = m["global"] {
            draft.global = buildGlobal(global, at: PlanPath.member(at, "global"))
        }
        return draft
    }

    /// Applies inheritance and the checks every mailbox gets, wherever it was written.
    /// Returns the mailbox's identity (source/user) when it has one, and the mailbox when it has no problem.
    mutating func finishMailbox(
        _ draft: MailboxDraft, list: Inherited?, defaults: Inherited,
        names: Names
    ) -> (key: String?, mailbox: Plan.Mailbox?) {
        if let source = draft.source, let spot = draft.spots["source"] {
            checkReference(source, kind: "source", defined: names.sources, spot: spot)
        }
        if let target = draft.target, let spot = draft.spots["target"] {
            checkReference(target, kind: "target", defined: names.targets, spot: spot)
        }
        let source = draft.source ?? list?.source?.name ?? defaults.source?.name
        let target = draft.target ?? list?.target?.name ?? defaults.target?.name
        var ok = checkInherited(source: source, target: target, draft: draft, fromList: list != nil)
        guard let user = draft.user else { return (nil, nil) }
        let key = source.map { "\($0)/\(user)" }
        if user.isEmpty || user.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
            || user.count > 200
        {
            problem(
                draft.spots["user"] ?? draft.missing("user"),
                "must be a non-empty name without line breaks or "
                    + "control characters")
            ok = false
        }
        let template = list?.address ?? defaults.address
        let address =
            draft.address ?? template.map { $0.template.replacingOccurrences(of: "{user}", with: user) }
            ?? user
        if !checkContainment(address, user: user, target: target, draft: draft, names: names) { ok = false }
        if ok, draft.global == nil, let target,
            !checkDeliverable(
                address, user: user, target: target, draft: draft, templated: template != nil,
                fromList: list != nil, names: names)
        {
            ok = false
        }
        if draft.token != nil, let source, let methods = names.validSources[source]?.auth,
            !methods.contains(where: \.usesToken)
        {
            problem(
                draft.spots["token"] ?? draft.here,
                "sources.\(source).auth allows no token method; add "
                    + "\"oauthbearer\" or \"xoauth2\"")
        }
        guard ok, let source, let target, names.validSources[source] != nil, names.validTargets[target] != nil,
            draft.password != nil || draft.token != nil
        else { return (key, nil) }
        if let global = draft.global,
            !checkGlobal(global, address: address, target: target, draft: draft, names: names)
        {
            return (key, nil)
        }
        return (
            key,
            Plan.Mailbox(
                source: source, user: user, password: draft.password, token: draft.token,
                target: target, address: address, global: draft.global,
                origin: PlanOrigin(label: draft.label, spots: draft.spots))
        )
    }

    /// A source and a target, written or inherited; false when either is missing.
    private mutating func checkInherited(
        source: String?, target: String?, draft: MailboxDraft,
        fromList: Bool
    ) -> Bool {
        var ok = true
        if source == nil {
            problem(
                draft.missing("source"),
                "missing, and no defaults.source"
                    + (fromList ? " or mailboxList source" : "") + " to inherit")
            ok = false
        }
        if target == nil {
            problem(
                draft.missing("target"),
                "missing, and no defaults.target"
                    + (fromList ? " or mailboxList target" : "") + " to inherit")
            ok = false
        }
        return ok
    }

    /// A mailbox's address (and its parts) become folder names under a Maildir target's root, and an
    /// authorization identity at an IMAP one: each must be one safe path component (SECURITY.md, "Containment").
    /// False when one is not.
    private mutating func checkContainment(
        _ address: String, user: String, target: String?, draft: MailboxDraft,
        names: Names
    ) -> Bool {
        if let why = PathComponent.addressProblem(address) {
            let spot = draft.spots["mailbox"] ?? draft.spots["user"] ?? draft.here
            problem(
                spot,
                "\"\(sanitizeForDisplay(address, limit: 80))\" cannot name a mailbox: it would escape the "
                    + "target folder (\(why))")
            return false
        } else if let target, let kind = names.validTargets[target]?.kind, case .maildir(let path, _, _) = kind,
            path.contains("{user}"), let why = PathComponent.problem(user)
        {
            problem(
                draft.spots["user"] ?? draft.here,
                "\"\(sanitizeForDisplay(user, limit: 80))\" cannot be a folder "
                    + "name in targets.\(target).path ({user}): it would escape the target folder (\(why))")
            return false
        }
        return true
    }

    /// LMTP and SMTP deliver by address (RCPT TO): a name that is not one would fail only at delivery. A Maildir
    /// takes any name, and IMAP too (it appends as its admin; `authorize` names a login, which need not be an
    /// address). A catch-all delivers to the addresses it routes to. False when the address cannot be delivered to.
    private mutating func checkDeliverable(
        _ address: String, user: String, target: String, draft: MailboxDraft,
        templated: Bool, fromList: Bool, names: Names
    ) -> Bool {
        guard let kind = names.validTargets[target]?.kind, kind.kindName == "lmtp" || kind.kindName == "smtp",
            !Self.isAddress(address)
        else { return true }
        let spot = draft.spots["mailbox"] ?? draft.spots["user"] ?? draft.here
        let how =
            draft.spots["mailbox"] == nil && !templated
            ? (!fromList
                ? "add mailbox: \"\(sanitizeForDisplay(user, limit: 40))@contoso.example\", or "
                    + "defaults.mailbox: \"{user}@contoso.example\""
                : "write the address in the row's mailbox column, "
                    + "or give the list mailbox: \"{user}@contoso.example\"")
            : "write the person's address there, like chris@contoso.example"
        problem(
            spot,
            "\"\(sanitizeForDisplay(address, limit: 80))\" is not an address, but targets.\(target) is "
                + "an \(kind.kindName) target, which delivers by address; \(how)")
        return false
    }

    /// A catch-all needs somewhere for mail to unknown recipients, and a target that can hold many people's mail.
    /// False (and a problem) when it lacks either.
    private mutating func checkGlobal(
        _ global: Plan.GlobalRouting, address: String, target: String,
        draft: MailboxDraft, names: Names
    ) -> Bool {
        if global.fallback == nil, !Self.isAddress(address) {
            problem(
                draft.spots["global"] ?? draft.here,
                "has no fallback (where mail for unknown recipients goes), "
                    + "and the mailbox's own address \"\(sanitizeForDisplay(address, limit: 80))\", used instead, is not "
                    + "an address; add fallback: \"postmaster@contoso.example\"")
            return false
        }
        if let kind = names.validTargets[target]?.kind, case .maildir(let path, _, _) = kind, !path.contains("{") {
            problem(
                draft.spots["global"] ?? draft.here,
                "a global mailbox routes mail to many people, but "
                    + "targets.\(target).path has no placeholder like {mailbox}: all of it would land in one Maildir")
            return false
        }
        return true
    }
}
