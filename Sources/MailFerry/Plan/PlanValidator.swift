import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// Walks the plan tree, building the model and collecting every problem with its place.
///
/// Each value is checked where it is written: a reference to a source in `defaults` is checked once, there, not
/// again for each of the hundreds of mailboxes that inherit it.
struct PlanValidator {
    let file: String
    let workspace: String
    let locations: PlanLocations
    private var collected: [PlanProblem] = []
    /// Keys that are missing because they are written misspelt (already reported as unknown keys).
    var misspelt: Set<String> = []
    /// Files in the order their problems are listed: the plan first, then its CSV lists.
    private var fileOrder: [String]

    init(file: String, workspace: String, positions: [String: TextPosition]) {
        self.file = file
        self.workspace = workspace
        self.locations = PlanLocations(file: file, positions: positions)
        self.fileOrder = [file]
    }

    static let topKeys = [
        "plan", "transition", "state", "reports", "metricsFile", "keepReports", "parallel", "quarantineAfter",
        "remindAfter",
        "sources", "targets", "defaults", "mailboxes", "mailboxList",
    ]
    static let transitionKeys = ["start", "cutover", "end"]
    static let sourceKeys = [
        "host", "port", "tls", "caFile", "tlsFingerprint", "allowPlaintext", "maxConnections", "timeoutSeconds",
        "auth", "withoutUIDL", "allowExpireZero", "pipelining", "deleteFromSourceAfterDays",
        "onUIDLReset", "maxMessageBytes",
        "keepaliveSeconds", "maxIdleSeconds",
    ]
    static let mailboxKeys = ["source", "user", "password", "token", "target", "mailbox", "global"]
    /// What mailboxes inherit when they do not say.
    static let defaultsKeys = ["source", "target", "mailbox"]

    // MARK: - Problems

    var problems: [PlanProblem] { collected }

    mutating func problem(_ path: String, _ message: String) {
        if message.hasPrefix("missing") && misspelt.contains(path) { return }
        collected.append(PlanProblem(location: locations.location(of: path), path: path, message: message))
    }

    mutating func problem(at location: PlanLocation, _ path: String, _ message: String) {
        if !fileOrder.contains(location.file) { fileOrder.append(location.file) }
        collected.append(PlanProblem(location: location, path: path, message: message))
    }

    mutating func problem(_ spot: PlanSpot, _ message: String) {
        problem(at: spot.location, spot.path, message)
    }

    /// Problems in reading order: by file, then line and column; problems at the same place keep their order.
    func sortedProblems() -> [PlanProblem] {
        collected.enumerated().sorted { a, b in
            let fa = fileOrder.firstIndex(of: a.element.location?.file ?? file) ?? Int.max
            let fb = fileOrder.firstIndex(of: b.element.location?.file ?? file) ?? Int.max
            let ka = (fa, a.element.location?.line ?? 0, a.element.location?.column ?? 0, a.offset)
            let kb = (fb, b.element.location?.line ?? 0, b.element.location?.column ?? 0, b.offset)
            return ka < kb
        }.map(\.element)
    }

    // MARK: - The plan

    mutating func build(_ tree: JSONValue) -> Plan? {
        guard case .object(let top) = tree else {
            problem("", "the plan must be an object ({ plan: ..., sources: ..., ... }), found \(tree.typeName)")
            return nil
        }
        checkKeys(top, allowed: Self.topKeys, at: "")
        let name = planName(top)
        let transition = buildTransition(top["transition"])
        let statePath = resolve(nonEmptyString(top, "state", at: "") ?? "state/\(name).sqlite")
        let reportsPath = resolve(nonEmptyString(top, "reports", at: "") ?? "reports/\(name)")
        let parallel = integer(top, "parallel", at: "", range: 1...256) ?? 4
        let quarantineAfter = integer(top, "quarantineAfter", at: "", range: 1...1000) ?? 5
        let keepReports = integer(top, "keepReports", at: "", range: 0...10_000_000) ?? 1000
        let metricsFile = metricsFile(top)
        let remindAfter = duration(top, "remindAfter", at: "", range: 1...(30 * 86_400)) ?? Plan.defaultRemindAfter
        let sources = buildSources(top)
        let targets = buildTargets(top)
        // A name that is defined but broken is not "undefined": its own problem is reported where it is written.
        let names = Names(
            sources: Set(objectKeys(top["sources"])), targets: Set(objectKeys(top["targets"])),
            validSources: sources, validTargets: targets)
        let defaults = buildInherited(top["defaults"], at: "defaults", names: names)
        let mailboxes = buildMailboxes(top, defaults: defaults, names: names)
        var plan = Plan(
            name: name, file: file, workspace: workspace, transition: transition, statePath: statePath,
            reportsPath: reportsPath, parallel: parallel, sources: sources, targets: targets,
            mailboxes: mailboxes)
        plan.locations = locations
        plan.quarantineAfter = quarantineAfter
        plan.keepReports = keepReports
        plan.metricsFile = metricsFile
        plan.remindAfter = remindAfter
        return plan
    }

    /// `plan`: the plan's name, which becomes a file and folder name; "plan" when missing.
    private mutating func planName(_ top: [String: JSONValue]) -> String {
        let name = string(top, "plan", at: "", required: true) ?? "plan"
        if !name.isEmpty && !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
            || name.hasPrefix(".")
        {
            problem(
                "plan",
                "\"\(sanitizeForDisplay(name, limit: 60))\" cannot be a plan name: it becomes a file and "
                    + "folder name, so use letters, digits, '-', '_' and '.' (not at the start)")
        } else if name.isEmpty {
            problem("plan", "must not be empty: the name becomes a file and folder name")
        }
        return name
    }

    /// The sources that are valid, by name.
    private mutating func buildSources(_ top: [String: JSONValue]) -> [String: Plan.Source] {
        var sources: [String: Plan.Source] = [:]
        for (key, value) in object(top, "sources", at: "", required: true) {
            if let source = buildSource(key, value) { sources[key] = source }
        }
        if case .object(let s)? = top["sources"], s.isEmpty {
            problem("sources", "is empty: name at least one legacy POP3 server")
        }
        return sources
    }

    /// The targets that are valid, by name.
    private mutating func buildTargets(_ top: [String: JSONValue]) -> [String: Plan.Target] {
        var targets: [String: Plan.Target] = [:]
        for (key, value) in object(top, "targets", at: "", required: true) {
            if let target = buildTarget(key, value) { targets[key] = target }
        }
        if case .object(let t)? = top["targets"], t.isEmpty {
            problem("targets", "is empty: name at least one place for the mail to go")
        }
        return targets
    }

    /// The mailboxes of `mailboxes` and then of `mailboxList`, those without problems.
    private mutating func buildMailboxes(
        _ top: [String: JSONValue], defaults: Inherited,
        names: Names
    ) -> [Plan.Mailbox] {
        var mailboxes: [Plan.Mailbox] = []
        var seen: [String: String] = [:]
        // Duplicates are found by identity (source/user) even among mailboxes with other problems.
        func add(
            _ result: (key: String?, mailbox: Plan.Mailbox?), draft: MailboxDraft,
            validator: inout PlanValidator
        ) {
            guard let key = result.key else { return }
            if let first = seen[key] {
                validator.problem(draft.here, "duplicate mailbox \(sanitizeForDisplay(key)) (also \(first))")
            } else {
                seen[key] = draft.label
                if let mailbox = result.mailbox { mailboxes.append(mailbox) }
            }
        }
        switch top["mailboxes"] {
        case .array(let list)?:
            for (index, value) in list.enumerated() {
                let at = PlanPath.element("mailboxes", index)
                guard let draft = jsonMailbox(value, at: at) else { continue }
                add(finishMailbox(draft, list: nil, defaults: defaults, names: names), draft: draft, validator: &self)
            }
            if list.isEmpty && top["mailboxList"] == nil {
                problem("mailboxes", "the list is empty: nothing to migrate")
            }
        case nil:
            if top["mailboxList"] == nil {
                problem("mailboxes", "missing: list the legacy mailboxes to migrate (or give a mailboxList CSV)")
            }
        case let other?:
            problem("mailboxes", "must be a list, found \(other.typeName)")
        }
        for (draft, list) in mailboxLists(top["mailboxList"], names: names) {
            add(finishMailbox(draft, list: list, defaults: defaults, names: names), draft: draft, validator: &self)
        }
        return mailboxes
    }

    mutating func buildTransition(_ value: JSONValue?) -> Plan.Transition {
        var transition = Plan.Transition()
        guard let value else { return transition }
        guard case .object(let t) = value else {
            problem("transition", "must be an object like { cutover: \"2026-12-15\" }, found \(value.typeName)")
            return transition
        }
        checkKeys(t, allowed: Self.transitionKeys, at: "transition")
        transition.start = date(t, "start", at: "transition")
        transition.cutover = date(t, "cutover", at: "transition")
        transition.end = date(t, "end", at: "transition")
        // YYYY-MM-DD compares correctly as text. Each date out of order is reported once, against the latest date
        // written before it (start 3, cutover 2, end 1: cutover is before start, end before start; not three times).
        let order: [(String, String?)] = [
            ("start", transition.start), ("cutover", transition.cutover),
            ("end", transition.end),
        ]
        for (i, later) in order.enumerated() {
            guard let b = later.1 else { continue }
            let earlier = order[..<i].compactMap { name, date in date.map { (name, $0) } }
            if let latest = earlier.max(by: { $0.1 < $1.1 }), latest.1 > b {
                problem(
                    "transition.\(later.0)",
                    "\(later.0) \(b) is before \(latest.0) \(latest.1); the dates go "
                        + "start ≤ cutover ≤ end")
            }
        }
        return transition
    }

    // MARK: - Sources

    mutating func buildSource(_ name: String, _ value: JSONValue) -> Plan.Source? {
        let at = PlanPath.member("sources", name)
        checkName(name, at: at, what: "source")
        guard case .object(let s) = value else {
            problem(at, "must be an object like { host: \"pop.example\", tls: \"implicit\" }, found \(value.typeName)")
            return nil
        }
        checkKeys(s, allowed: Self.sourceKeys, at: at)
        let server = endpoint(s, at: at, service: .pop3, credentials: true)
        let maxConnections = integer(s, "maxConnections", at: at, range: 1...1000) ?? 4
        let pipelining = bool(s, "pipelining", at: at) ?? true
        let auth = sourceAuth(s["auth"], at: PlanPath.member(at, "auth"))
        let withoutUIDL = choice(
            s, "withoutUIDL", at: at, default: Plan.WithoutUIDL.refuse,
            use: "use \"refuse\" or \"header-fingerprint\"")
        let allowExpireZero = bool(s, "allowExpireZero", at: at) ?? false
        // Retention is never a default: leave-a-copy unless the plan names a number of days.
        let deleteAfter = integer(s, "deleteFromSourceAfterDays", at: at, range: 0...3650)
        let onUIDLReset = choice(
            s, "onUIDLReset", at: at, default: Plan.UIDLResetPolicy.stop,
            use: "use \"stop\" or \"rekey\"")
        let maxMessageBytes = integer(s, "maxMessageBytes", at: at, range: 1024...(1 << 40))
        // A keepalive must come before the shortest autologout RFC 1939 §3 allows (10 minutes).
        let keepalive = integer(s, "keepaliveSeconds", at: at, range: 1...599)
        let maxIdle = integer(s, "maxIdleSeconds", at: at, range: 1...86_400)
        guard let server else { return nil }
        var endpoint = server
        endpoint.pipelineWindow = pipelining ? ServerEndpoint.defaultPipelineWindow : 1
        return Plan.Source(
            name: name, endpoint: endpoint, maxConnections: maxConnections, auth: auth,
            withoutUIDL: withoutUIDL, allowExpireZero: allowExpireZero,
            deleteFromSourceAfterDays: deleteAfter, onUIDLReset: onUIDLReset,
            maxMessageBytes: maxMessageBytes ?? Plan.Source.defaultMaxMessageBytes,
            authNamed: s["auth"] != nil, keepaliveSeconds: keepalive ?? Plan.Source.defaultKeepaliveSeconds,
            maxIdleSeconds: maxIdle ?? Plan.Source.defaultMaxIdleSeconds)
    }

    /// A source's `auth`: the login methods to try, in order; all of them, strongest first, when not written.
    private mutating func sourceAuth(_ value: JSONValue?, at: String) -> [POP3AuthMethod] {
        switch value {
        case .array(let items)?:
            var auth: [POP3AuthMethod] = []
            for (index, item) in items.enumerated() {
                if case .string(let name) = item, let method = POP3AuthMethod(rawValue: name.lowercased()) {
                    if auth.contains(method) {
                        problem(PlanPath.element(at, index), "\"\(name)\" is listed twice")
                    }
                    auth.append(method)
                } else if case .string(let text) = item {
                    problem(
                        PlanPath.element(at, index),
                        "unknown login method "
                            + "\"\(sanitizeForDisplay(text, limit: 40))\"; use "
                            + POP3AuthMethod.byStrength.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
                            + suggestion(text, among: POP3AuthMethod.allCases.map(\.rawValue)))
                } else {
                    problem(PlanPath.element(at, index), "must be text in quotes, found " + item.typeName)
                }
            }
            if items.isEmpty { problem(at, "the list is empty: no way to log in") }
            return auth
        case nil:
            return POP3AuthMethod.byStrength
        case let other?:
            problem(at, "must be a list like [\"cram-md5\", \"plain\", \"user\"], found " + other.typeName)
            return POP3AuthMethod.byStrength
        }
    }

    /// A setting that names one of a few values (`use` says which), or `fallback` when it is not written or
    /// unknown.
    private mutating func choice<Value: RawRepresentable & CaseIterable>(
        _ s: [String: JSONValue], _ key: String, at: String, default fallback: Value, use: String
    ) -> Value where Value.RawValue == String {
        guard let text = string(s, key, at: at) else { return fallback }
        if let value = Value(rawValue: text) { return value }
        problem(
            PlanPath.member(at, key),
            "unknown value \"\(sanitizeForDisplay(text, limit: 40))\"; " + use
                + suggestion(text, among: Value.allCases.map(\.rawValue)))
        return fallback
    }

    /// Names of sources and targets become parts of mailbox keys and report lines: keep them plain.
    mutating func checkName(_ name: String, at: String, what: String) {
        if name.isEmpty || name.contains("/")
            || name.unicodeScalars.contains(where: {
                $0.properties.generalCategory == .control || $0 == " "
            })
        {
            problem(at, "a \(what) name must be non-empty, without '/', spaces or control characters")
        }
    }

    // MARK: - Servers (sources and targets)

    /// What a server speaks, for default ports and telling a port that cannot match its TLS mode.
    struct Service {
        var name: String
        /// Port of TLS from the first byte (nil: the protocol has none).
        var implicitPort: Int?
        /// Plain-text ports (STARTTLS or none).
        var plainPorts: [Int]
        var defaultTLS: TLSMode

        static let pop3 = Service(name: "POP3", implicitPort: 995, plainPorts: [110], defaultTLS: .implicit)
        static let imap = Service(name: "IMAP", implicitPort: 993, plainPorts: [143], defaultTLS: .implicit)
        static let smtp = Service(name: "SMTP", implicitPort: 465, plainPorts: [587, 25], defaultTLS: .starttls)
        static let lmtp = Service(name: "LMTP", implicitPort: nil, plainPorts: [24], defaultTLS: .none)
    }

    /// host, port, tls, caFile, allowPlaintext and timeoutSeconds of a server, with the impossible combinations
    /// refused. `credentials`: whether a password or token would travel on this connection.
    mutating func endpoint(
        _ s: [String: JSONValue], at: String, service: Service,
        credentials: Bool
    ) -> Plan.Endpoint? {
        let host = string(s, "host", at: at, required: true)
        if let host, host.isEmpty || host.unicodeScalars.contains(where: { $0 == " " || $0 == "/" || $0.value < 32 }) {
            problem(PlanPath.member(at, "host"), "is not a host name or address")
        } else if let host {
            internationalHost(host, at: at)
        }
        let tls = tlsMode(s, at: at, service: service)
        let defaultPort = tls == .implicit ? (service.implicitPort ?? 0) : (service.plainPorts.first ?? 0)
        let port = integer(s, "port", at: at, range: 1...65535) ?? defaultPort
        if s["port"] != nil, s["tls"] != nil || service.defaultTLS != .none {
            // A well-known port that cannot match the TLS mode is a typo that would show as a confusing timeout.
            if tls == .implicit && service.plainPorts.contains(port) {
                problem(
                    PlanPath.member(at, "port"),
                    "port \(port) is \(service.name)'s plain-text port, but tls is "
                        + "\"implicit\" (TLS from the first byte); use port \(service.implicitPort ?? 0), or tls: "
                        + "\"starttls\"")
            } else if tls != .implicit, let implicit = service.implicitPort, port == implicit {
                problem(
                    PlanPath.member(at, "port"),
                    "port \(port) expects TLS from the first byte, but tls is "
                        + "\"\(tls.rawValue)\"; use tls: \"implicit\", or port \(service.plainPorts[0])")
            }
        }
        let allowPlaintext = bool(s, "allowPlaintext", at: at) ?? false
        if tls == .none && credentials && !allowPlaintext {
            problem(
                PlanPath.member(at, "tls"),
                "\"none\" sends passwords in clear text; add allowPlaintext: true to "
                    + "this \(at.hasPrefix("sources") ? "source" : "target") if that is really intended, or use "
                    + (service.implicitPort == nil ? "\"starttls\"" : "\"implicit\" or \"starttls\""))
        }
        let caFile = self.caFile(s, at: at, tls: tls)
        let fingerprint = tlsFingerprint(s, at: at, tls: tls)
        let timeout = integer(s, "timeoutSeconds", at: at, range: 1...3600) ?? 60
        guard let host else { return nil }
        return Plan.Endpoint(
            host: host, port: port, tls: tls, tlsSettings: TLSSettings(caFile: caFile, fingerprint: fingerprint),
            allowPlaintext: allowPlaintext, timeout: Double(timeout))
    }

}
