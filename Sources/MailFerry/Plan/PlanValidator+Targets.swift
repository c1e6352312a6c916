import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// Targets of every kind. Only Maildir delivers in this version; IMAP, LMTP and SMTP targets are validated in full
/// so plans can be written (and checked) now, and a run stops their mailboxes with a clear reason.
extension PlanValidator {
    static let targetKinds = ["maildir", "imap", "lmtp", "smtp"]
    static let maildirKeys = ["kind", "path", "owner", "group", "keepPOP3UIDL"]
    static let imapKeys = [
        "kind", "host", "port", "tls", "caFile", "tlsFingerprint", "allowPlaintext", "timeoutSeconds", "user",
        "password", "token", "authorize", "acting", "masterSeparator", "folder", "flags",
        "provenanceHeader", "settleSeconds",
    ]
    static let lmtpKeys = [
        "kind", "host", "port", "socket", "tls", "caFile", "tlsFingerprint", "timeoutSeconds",
        "dataTimeoutSeconds", "from", "envelopeFrom",
    ]
    static let smtpKeys = [
        "kind", "host", "port", "tls", "caFile", "tlsFingerprint", "allowPlaintext", "timeoutSeconds",
        "dataTimeoutSeconds", "user", "password", "token", "from", "envelopeFrom",
    ]

    mutating func buildTarget(_ name: String, _ value: JSONValue) -> Plan.Target? {
        let at = PlanPath.member("targets", name)
        checkName(name, at: at, what: "target")
        guard case .object(var t) = value else {
            problem(
                at,
                "must be an object like { kind: \"maildir\", path: \"/srv/mail/{mailbox}\" }, found "
                    + value.typeName)
            return nil
        }
        guard let kind = string(t, "kind", at: at, required: true) else { return nil }
        if kind != "maildir" { refuseKeepPOP3UIDL(&t, kind: kind, at: at) }
        switch kind {
        case "maildir":
            checkKeys(t, allowed: Self.maildirKeys, at: at)
            guard let path = nonEmptyString(t, "path", at: at, required: true) else { return nil }
            let spot = locations.spot(PlanPath.member(at, "path"))
            guard checkPlaceholders(path, allowed: mailboxPlaceholders, spot: spot) else { return nil }
            // The root of a Maildir target is the admin's word, but a '..' in it is a slip with large consequences:
            // the path would leave the folder it seems to name.
            if path.split(separator: "/").contains("..") {
                problem(
                    spot,
                    "has a '..' folder, which would leave the folder the path names; write the path "
                        + "without it")
                return nil
            }
            if path.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                problem(spot, "contains a control character")
                return nil
            }
            let owner = maildirOwner(t, "owner", at: at)
            let group = maildirOwner(t, "group", at: at)
            return Plan.Target(
                name: name,
                kind: .maildir(
                    path: resolve(path),
                    ownership: MaildirOwnership(owner: owner, group: group),
                    keepPOP3UIDL: bool(t, "keepPOP3UIDL", at: at) ?? false))
        case "imap":
            checkKeys(t, allowed: Self.imapKeys, at: at)
            return imapTarget(name, t, at: at)
        case "lmtp":
            checkKeys(t, allowed: Self.lmtpKeys, at: at)
            return lmtpTarget(name, t, at: at)
        case "smtp":
            checkKeys(t, allowed: Self.smtpKeys, at: at)
            return smtpTarget(name, t, at: at)
        default:
            problem(
                PlanPath.member(at, "kind"),
                "unknown target kind \"\(sanitizeForDisplay(kind, limit: 40))\"; use "
                    + Self.targetKinds.map { "\"\($0)\"" }.joined(separator: ", ")
                    + suggestion(kind, among: Self.targetKinds))
            return nil
        }
    }

    /// A Maildir target's `owner` or `group`: a name known to this machine, or a numeric id.
    private mutating func maildirOwner(_ t: [String: JSONValue], _ key: String, at: String) -> UInt32? {
        let path = PlanPath.member(at, key)
        switch t[key] {
        case nil:
            return nil
        case .number(let number)?:
            guard number >= 0, number < 4_294_967_295, number.rounded() == number else {
                problem(path, "must be a \(key == "owner" ? "user" : "group") name or a numeric id")
                return nil
            }
            return UInt32(number)
        case .string(let name)?:
            if let id = UInt32(name) { return id }
            if let id = key == "owner" ? systemUserID(name) : systemGroupID(name) { return id }
            problem(
                path,
                "no \(key == "owner" ? "user" : "group") named \"\(sanitizeForDisplay(name, limit: 60))\" "
                    + "on this machine")
            return nil
        case let other?:
            problem(
                path,
                "must be a \(key == "owner" ? "user" : "group") name or a numeric id, found "
                    + other.typeName)
            return nil
        }
    }

    /// `user` with `password` or `token`, as a server login.
    private mutating func login(_ t: [String: JSONValue], at: String, required: Bool)
        -> (user: String?, password: SecretRef?, token: SecretRef?, spots: [String: PlanSpot], ok: Bool)
    {
        let user = nonEmptyString(t, "user", at: at, required: required)
        var spots: [String: PlanSpot] = [:]
        var password: SecretRef?
        var token: SecretRef?
        var ok = user != nil || !required
        if t["password"] != nil && t["token"] != nil {
            problem(PlanPath.member(at, "token"), "give either password or token, not both")
            ok = false
        } else if t["token"] != nil {
            token = secret(t, "token", at: at)
            spots["token"] = locations.spot(PlanPath.member(at, "token"))
            ok = ok && token != nil
        } else if user != nil || t["password"] != nil {
            password = secret(t, "password", at: at)
            spots["password"] = locations.spot(PlanPath.member(at, "password"))
            ok = ok && password != nil
        }
        if user == nil && !required && (password != nil || token != nil) {
            problem(PlanPath.member(at, "user"), "missing: a password or token needs the user it belongs to")
            ok = false
        }
        return (user, password, token, spots, ok)
    }

    private mutating func imapTarget(_ name: String, _ t: [String: JSONValue], at: String) -> Plan.Target? {
        let server = endpoint(t, at: at, service: .imap, credentials: true)
        let credentials = login(t, at: at, required: true)
        var authorize: String?
        if let text = nonEmptyString(t, "authorize", at: at) {
            if checkPlaceholders(
                text, allowed: mailboxPlaceholders,
                spot: locations.spot(PlanPath.member(at, "authorize")))
            {
                authorize = text
            }
        }
        let folder = nonEmptyString(t, "folder", at: at) ?? "INBOX"
        if folder.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            problem(PlanPath.member(at, "folder"), "must not contain line breaks or control characters")
        }
        let flags = imapFlags(t, at: at)
        let (acting, separator) = imapActing(t, at: at)
        let provenanceHeader = bool(t, "provenanceHeader", at: at) ?? false
        // At least a minute: a server may still be storing a dead connection's APPEND for a moment.
        let settle = integer(t, "settleSeconds", at: at, range: 60...604_800) ?? Plan.IMAPTarget.defaultSettleSeconds
        guard let server, let user = credentials.user, credentials.ok, let acting, let separator else { return nil }
        var target = Plan.IMAPTarget(
            endpoint: server, user: user, password: credentials.password,
            token: credentials.token, authorize: authorize, folder: folder, flags: flags)
        target.acting = acting
        target.masterSeparator = separator
        target.provenanceHeader = provenanceHeader
        target.settleSeconds = settle
        return Plan.Target(name: name, kind: .imap(target), spots: credentials.spots)
    }

    /// `flags`: the system flags a migrated message may carry (never \Deleted or \Recent) and keywords that are
    /// atoms (RFC 3501 §9).
    private mutating func imapFlags(_ t: [String: JSONValue], at: String) -> [String] {
        var flags: [String] = []
        let flagsPath = PlanPath.member(at, "flags")
        for (index, flag) in (stringList(t, "flags", at: at) ?? []).enumerated() {
            let path = PlanPath.element(flagsPath, index)
            let system = ["\\Seen", "\\Answered", "\\Flagged", "\\Draft"]
            if let known = system.first(where: { $0.lowercased() == flag.lowercased() }) {
                flags.append(known)
            } else if flag.lowercased() == "\\deleted" {
                problem(
                    path,
                    "\\Deleted would have the new server remove migrated messages at its next expunge; "
                        + "refused")
            } else if flag.lowercased() == "\\recent" {
                problem(path, "\\Recent is set by the server only (RFC 3501 §2.3.2)")
            } else if flag.hasPrefix("\\") {
                problem(
                    path,
                    "unknown system flag \(sanitizeForDisplay(flag, limit: 40)); use "
                        + system.joined(separator: ", ") + " or a keyword without '\\'"
                        + suggestion(flag, among: system))
            } else if flag.isEmpty || flag.count > 100
                || flag.unicodeScalars.contains(where: {
                    $0.value <= 32 || $0.value >= 127 || "(){%*\"\\]".unicodeScalars.contains($0)
                })
            {
                // RFC 3501 §9: a keyword is an atom.
                problem(path, "a keyword may not contain spaces, control characters or any of (){%*\"\\]")
            } else {
                flags.append(flag)
            }
        }
        return flags
    }

    /// `acting` ("authzid", the default, or "master") and `masterSeparator` (default "*", only with "master"). Nil
    /// after a problem.
    private mutating func imapActing(_ t: [String: JSONValue], at: String) -> (Plan.IMAPActing?, String?) {
        var acting = Plan.IMAPActing.authzid
        if let text = string(t, "acting", at: at) {
            guard let known = Plan.IMAPActing(rawValue: text) else {
                let names = Plan.IMAPActing.allCases.map(\.rawValue)
                problem(
                    PlanPath.member(at, "acting"),
                    "unknown way to act for a mailbox \""
                        + sanitizeForDisplay(text, limit: 40) + "\"; use \"authzid\" (SASL authorization identity) or "
                        + "\"master\" (Dovecot's master-user login \"mailbox*admin\")" + suggestion(text, among: names))
                return (nil, nil)
            }
            acting = known
        } else if t["acting"] != nil {
            return (nil, nil)
        }
        if t["acting"] != nil && t["authorize"] == nil {
            problem(
                PlanPath.member(at, "acting"),
                "has no meaning without authorize: it says how the login acts for "
                    + "the mailbox authorize names (e.g. authorize: \"{mailbox}\")")
            return (nil, nil)
        }
        if acting == .master && t["token"] != nil {
            problem(
                PlanPath.member(at, "acting"),
                "\"master\" logs in with LOGIN and the admin's password; a token "
                    + "acts for the mailbox by itself (use acting: \"authzid\", the default, or a password)")
            return (nil, nil)
        }
        guard t["masterSeparator"] != nil else { return (acting, "*") }
        guard acting == .master else {
            problem(PlanPath.member(at, "masterSeparator"), "has a meaning only with acting: \"master\"")
            return (nil, nil)
        }
        guard let separator = string(t, "masterSeparator", at: at) else { return (nil, nil) }
        // Dovecot's auth_master_user_separator is one character in practice; it must survive a quoted string.
        guard !separator.isEmpty, separator.count <= 4,
            separator.unicodeScalars.allSatisfy({
                $0.value > 32 && $0.value < 127 && $0 != "\"" && $0 != "\\"
            })
        else {
            problem(
                PlanPath.member(at, "masterSeparator"),
                "must be a few printable characters without spaces, "
                    + "quotes or backslashes, like \"*\" (Dovecot's auth_master_user_separator)")
            return (nil, nil)
        }
        return (acting, separator)
    }

    private mutating func lmtpTarget(_ name: String, _ t: [String: JSONValue], at: String) -> Plan.Target? {
        let from = envelopeSender(t, at: at)
        let policy = envelopeFromPolicy(t, at: at, default: .original)
        let dataTimeout = dataTimeoutSeconds(t, at: at)
        if let socket = nonEmptyString(t, "socket", at: at) {
            for key in ["host", "port", "tls", "caFile", "tlsFingerprint"] where t[key] != nil {
                problem(
                    PlanPath.member(at, key),
                    "has no meaning with socket: LMTP then talks over the Unix "
                        + "socket; remove one of them")
            }
            let timeout = integer(t, "timeoutSeconds", at: at, range: 1...3600) ?? 60
            guard let from, let policy, let dataTimeout else { return nil }
            return Plan.Target(
                name: name,
                kind: .lmtp(
                    Plan.LMTPTarget(
                        endpoint: nil, socket: resolve(socket),
                        timeout: Double(timeout), from: from,
                        envelopeFrom: policy,
                        dataTimeout: dataTimeout)))
        }
        if t["host"] == nil {
            problem(PlanPath.member(at, "host"), "missing: give host (and port, default 24) or socket")
            return nil
        }
        let server = endpoint(t, at: at, service: .lmtp, credentials: false)
        guard let server, let from, let policy, let dataTimeout else { return nil }
        return Plan.Target(
            name: name,
            kind: .lmtp(
                Plan.LMTPTarget(
                    endpoint: server, socket: nil,
                    timeout: server.timeout, from: from,
                    envelopeFrom: policy, dataTimeout: dataTimeout)))
    }

    private mutating func smtpTarget(_ name: String, _ t: [String: JSONValue], at: String) -> Plan.Target? {
        let credentials = login(t, at: at, required: false)
        let server = endpoint(t, at: at, service: .smtp, credentials: credentials.user != nil)
        let from = envelopeSender(t, at: at)
        let policy = envelopeFromPolicy(t, at: at, default: .plan)
        let dataTimeout = dataTimeoutSeconds(t, at: at)
        guard let server, let from, let policy, let dataTimeout, credentials.ok else { return nil }
        return Plan.Target(
            name: name,
            kind: .smtp(
                Plan.SMTPTarget(
                    endpoint: server, user: credentials.user, password: credentials.password, token: credentials.token,
                    from: from, envelopeFrom: policy, dataTimeout: dataTimeout)), spots: credentials.spots)
    }

    /// `dataTimeoutSeconds`: how long the reply after DATA's final "." is waited for (default 600, RFC 5321
    /// §4.5.3.2.6); `timeoutSeconds` bounds everything else. Nil after a problem.
    private mutating func dataTimeoutSeconds(_ t: [String: JSONValue], at: String) -> Double? {
        guard t["dataTimeoutSeconds"] != nil else { return Plan.defaultDataTimeout }
        return integer(t, "dataTimeoutSeconds", at: at, range: 1...3600).map(Double.init)
    }

    /// `envelopeFrom`: "original" (the recovered sender, else `from`) or "plan" (always `from`). Nil after a problem.
    private mutating func envelopeFromPolicy(
        _ t: [String: JSONValue], at: String,
        default fallback: Plan.EnvelopeFrom
    ) -> Plan.EnvelopeFrom? {
        guard t["envelopeFrom"] != nil else { return fallback }
        guard let text = string(t, "envelopeFrom", at: at) else { return nil }
        guard let policy = Plan.EnvelopeFrom(rawValue: text) else {
            let names = Plan.EnvelopeFrom.allCases.map(\.rawValue)
            // An address here is a likely slip: it belongs in `from`.
            let hint = text.contains("@") ? "; an address goes in from" : suggestion(text, among: names)
            problem(
                PlanPath.member(at, "envelopeFrom"),
                "unknown envelope sender policy \""
                    + sanitizeForDisplay(text, limit: 40) + "\"; use \"original\" (the sender recovered from the "
                    + "message, so a later bounce goes to it) or \"plan\" (always the target's from, so bounces come to "
                    + "you)" + hint)
            return nil
        }
        return policy
    }

    /// `from`: MAIL FROM when a message's sender cannot be recovered (or always, with envelopeFrom "plan"); "" (the
    /// default) is the null sender.
    private mutating func envelopeSender(_ t: [String: JSONValue], at: String) -> String? {
        guard t["from"] != nil else { return "" }
        guard let from = string(t, "from", at: at) else { return nil }
        if !from.isEmpty && !Self.isAddress(from) {
            problem(
                PlanPath.member(at, "from"),
                "\"\(sanitizeForDisplay(from, limit: 80))\" is not an address like "
                    + "migration@contoso.example (\"\" means the null sender)")
            return nil
        }
        return from
    }

    /// local@domain, printable, no spaces or angle brackets: what can go into MAIL FROM / RCPT TO as written.
    static func isAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, isDomain(String(parts[1])), text.utf8.count <= 254 else {
            return false
        }
        return parts[0].unicodeScalars.allSatisfy {
            $0.value > 32 && $0.value < 127
                && !"<>()[],;:\\\"".unicodeScalars
                    .contains($0)
        }
    }

    /// A host name of letters, digits and hyphens, with at least one dot (RFC 1035 §2.3.1 labels).
    static func isDomain(_ text: String) -> Bool {
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, text.utf8.count <= 253 else { return false }
        return labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.unicodeScalars.allSatisfy {
                    $0.isASCII
                        && ($0.properties.isAlphabetic
                            || ("0"..."9").contains($0) || $0 == "-")
                }
        }
    }
}
